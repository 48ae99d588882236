//! Marketlog's pure business rules.
//!
//! This crate decides; it never does I/O, never spawns tasks and never touches sled. Time and
//! randomness come in through the `Clock` and `IdGen` traits, read by the command runner
//! outside the deciders, so every decision is a pure function of state, command and
//! [`decider::Context`].
//!
//! Architecture invariant: `domain` depends on no other Marketlog crate (STYLE §1).
//!
//! Modules:
//! - [`time`] — [`Timestamp`], microseconds since the epoch (UTC). Invariant: always inside
//!   years 0001..=9999 and saturating, so it renders as RFC 3339 in every zone.
//! - [`clock`] — [`Clock`], the system and simulated clocks, `monotonic_now`. Invariant: the
//!   only module that reads wall-clock or monotonic time; the simulated clock never goes back.
//! - [`ids`] — [`IdKind`] prefixes, [`IdGen`] (random ULID-style or sequential), bearer token
//!   generation. Invariant: valid ids are `<prefix>[a-z0-9_]{1,64}`, safe in stream ids.
//! - [`money`] — [`Cents`], per-mille rates and the one half-up rounding rule. Invariant: no
//!   floating point, no overflow (i128 intermediates, saturating or checked results).
//! - [`calendar`] — business dates in the marketplace zone, holidays and make-up working
//!   days, deadline arithmetic in working or calendar days. Invariant: bounded and total.
//! - [`decider`] — the [`Decider`] trait every aggregate implements, [`Context`],
//!   [`Actor`], [`Role`], and (with `testing`) the given/when/then helper. Invariant: decide
//!   and evolve are pure.
//! - [`decision`] — [`decision::Decision`]: commands decided over the states of several
//!   streams with one context, their [`decision::Outcome`] (events per stream, encoded), and
//!   (with `testing`) the given/when/then helper across streams.
//! - [`registry`] — every aggregate in one list: stream prefix, event types, history fold,
//!   deadline effects and the command each deadline rule fires.
//! - [`deadline`] — deadlines as data: rules, started clocks, effects of events.
//! - [`policy`] — [`policy::Policy`]: decisions that react to stored events, every one in
//!   [`policy::POLICIES`]. Invariant: reacting is pure and the decisions are idempotent.
//! - [`error`] — [`DomainError`], the one refusal type of every decider, with its kind
//!   (which fixes the HTTP status), stable code, message and details.
//! - [`product`] — products: specs, review lifecycle, prices, commission, providers.
//! - [`order`] — orders: placement, price changes, payment, cancellation, payment timeout,
//!   refunds and the after-sale, one module per concern; its cross-stream decisions.
//! - [`delivery`] — the delivery center: flow templates, projects, assignment, queues.
//! - [`coupon`] — coupon campaigns, their stock, customers' wallets; claims, grants,
//!   auto-grants. Invariant: never more granted than issued, nor than a customer's limit.
//! - [`pageview`] — product page views, one stream per ingested batch (trade statistics).
//! - [`platform`] — organisations, principals (token hashes only) and calendar years.
//! - [`text`] — which characters names, codes and free-text fields may hold. Invariant:
//!   no stored text holds NUL, other control characters (free text: except line breaks and
//!   tabs) or bidi overrides.
//! - [`codec`] — [`EventCodec`] and [`event_enum!`]: events as (type name, schema version,
//!   bincode payload) with upcasters. Invariant: stored bytes are never rewritten; decoding
//!   uses every byte or fails.

pub mod calendar;
pub mod clock;
pub mod codec;
pub mod coupon;
pub mod deadline;
pub mod decider;
pub mod decision;
pub mod delivery;
pub mod error;
pub mod events;
pub mod history;
pub mod ids;
pub mod instance;
pub mod money;
pub mod order;
pub mod pageview;
pub mod platform;
pub mod policy;
pub mod pricing;
pub mod product;
pub mod promotion;
pub mod purchases;
pub mod registry;
pub mod text;
pub mod time;

pub use calendar::{TimeoutUnit, WorkCalendar, YearCalendar};
pub use clock::{Clock, SimulatedClock, SystemClock};
pub use codec::{CodecError, EventCodec};
pub use decider::{Actor, Context, Decider, Role};
pub use decision::{Decision, Outcome, Single, States};
pub use error::{DomainError, ErrorKind};
pub use ids::{IdGen, IdKind};
pub use money::Cents;
pub use time::Timestamp;

/// Splits a stream id `kind-id` into (kind, id).
pub fn split_stream_id(stream_id: &str) -> (&str, &str) {
    stream_id.split_once('-').unwrap_or((stream_id, ""))
}
