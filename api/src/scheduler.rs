//! The deadline scheduler (SPEC.md §9): fires due deadlines as ordinary commands, as actor
//! `system`, with the deadline's id as causation. The due timers come from the log (a
//! projection), never from memory alone.
//!
//! Not built yet: the timer projection and the firing of deadlines arrive with the first
//! aggregate that starts a clock (the trade issue). Until then there is nothing that can fall
//! due, and `fire_due` only reports the log head the caller must wait for.

use crate::error::ApiError;
use crate::state::App;

/// Fires every deadline due at or before `now` and returns the log position the caller must
/// wait for before answering.
pub async fn fire_due(app: &App, _now: domain::Timestamp) -> Result<u64, ApiError> {
    Ok(app.store.head())
}
