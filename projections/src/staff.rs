//! The staff read model: every staff member by id (folded with the domain's own
//! `Staff::evolve`, so `active` and the settings are the aggregate's) with its stream's
//! version, and each org's staff ids in join order. `on_leave` is not stored: it depends on
//! the clock, so the routes compute it at read time (`StaffState::on_leave`).

use std::collections::BTreeMap;

use domain::delivery::staff::{Staff, StaffEvent, StaffState};
use domain::Decider;
use eventlog::Record;
use serde::{Deserialize, Serialize};

use crate::runtime::{decode, ApplyError, ReadModel};

/// One staff member as its stream stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffRow {
    pub state: StaffState,
    /// The staff stream's version (`ETag`, `If-Match`).
    pub version: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffModelState {
    /// Staff id → the member.
    pub staff: BTreeMap<String, StaffRow>,
    /// Org id → its staff ids, in join order.
    pub by_org: BTreeMap<String, Vec<String>>,
}

/// The staff model.
#[derive(Debug)]
pub struct StaffModel;

impl ReadModel for StaffModel {
    const NAME: &'static str = "staff";
    const VERSION: u32 = 1;
    type State = StaffModelState;

    fn apply(state: &mut StaffModelState, r: &Record) -> Result<(), ApplyError> {
        let Some(id) = r.stream_id.strip_prefix("staff-") else {
            return Ok(());
        };
        let e: StaffEvent = decode(r)?;
        if let StaffEvent::StaffCreated(c) = &e {
            let ids = state.by_org.entry(c.org_id.clone()).or_default();
            if !ids.contains(&c.staff_id) {
                ids.push(c.staff_id.clone());
            }
        }
        let row = state.staff.entry(id.to_owned()).or_default();
        row.state = Staff::evolve(std::mem::take(&mut row.state), &e);
        row.version = r.version;
        Ok(())
    }
}
