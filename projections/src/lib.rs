//! Read models fed from the event log.
//!
//! Owns: the projection runtime (subscription → fold → checkpoint, read-your-writes waits,
//! blue/green rebuild, poison-event stop) and every read model of the product. A read model
//! is a pure fold `apply(&mut State, &Record)`; the runtime does all I/O.
//!
//! Architecture invariant: projections never write to the log; everything here can be thrown
//! away and rebuilt from it, and a rebuilt model equals the incrementally built one.

pub mod coupons;
pub mod deliveries;
pub mod directory;
pub mod instances;
pub mod orders;
pub mod party;
pub mod products;
pub mod promotions;
pub mod registry;
pub mod runtime;
pub mod staff;
pub mod templates;
pub mod timers;
pub mod trade;
pub mod workbench;

pub use runtime::{
    build, catch_up, compare_with_rebuild, load_checkpoint, store_checkpoint, ApplyError,
    Comparison, Projection, ProjectionControl, ProjectionInfo, ReadModel, Status, Versioned,
};
