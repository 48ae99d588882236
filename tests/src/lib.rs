//! Shared pieces of the black-box tests, crash drills and the benchmark command.

pub mod bench;
pub mod load;
pub mod recount;
pub mod server;
