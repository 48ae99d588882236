//! The `marketlog` service: HTTP API (axum), the one command runner, projections wiring, the
//! deadline scheduler, the policy runner, `serve`.
//!
//! Architecture invariant: handlers never write to the log except through [`runner::Runner`];
//! the conventions of API.md §1 (auth, roles, errors, idempotency, If-Match, X-Min-Position,
//! paging, body limit) are implemented once, in `extract`, `error`, `respond`, `paging` and
//! the layers of `app`.

#![recursion_limit = "256"]

pub mod access;
pub mod app;
pub mod cli;
pub mod demo;
pub mod error;
pub mod extract;
pub mod listener;
pub mod paging;
pub mod policies;
pub mod respond;
pub mod routes;
pub mod runner;
pub mod scheduler;
pub mod schema;
pub mod serve;
pub mod state;
