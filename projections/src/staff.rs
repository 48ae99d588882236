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

#[cfg(test)]
mod tests {
    use domain::codec::EventCodec;
    use domain::delivery::staff::{StaffCreated, StaffWorkTaken};

    use super::*;

    fn record(position: u64, stream_id: &str, version: u64, e: &StaffEvent) -> Record {
        let encoded = e.encode().unwrap();
        Record {
            position,
            stream_id: stream_id.into(),
            version,
            event_type: encoded.type_name.into(),
            schema_version: encoded.schema_version,
            recorded_at_micros: 0,
            actor: "system".into(),
            correlation_id: "c".into(),
            causation_id: "c".into(),
            payload: encoded.payload,
            crc32c: 0,
            chain: [0; 32],
        }
    }

    fn created(staff_id: &str, org_id: &str) -> StaffEvent {
        StaffEvent::StaffCreated(StaffCreated {
            staff_id: staff_id.into(),
            org_id: org_id.into(),
            principal_id: format!("prn_{staff_id}"),
            name: "Li".into(),
            roles: vec!["designer".into()],
            department: "D".into(),
            tags: vec![],
            max_active: 2,
        })
    }

    #[test]
    fn staff_are_listed_per_org_in_join_order_with_their_streams_version_and_active_count() {
        let mut state = StaffModelState::default();
        let taken = StaffEvent::StaffWorkTaken(StaffWorkTaken {
            delivery_id: "dlv_1".into(),
        });
        for r in [
            record(1, "staff-stf_z", 1, &created("stf_z", "org_1")),
            record(2, "staff-stf_a", 1, &created("stf_a", "org_1")),
            record(3, "staff-stf_b", 1, &created("stf_b", "org_2")),
            record(4, "staff-stf_z", 2, &taken),
        ] {
            StaffModel::apply(&mut state, &r).unwrap();
        }
        assert_eq!(state.by_org["org_1"], ["stf_z", "stf_a"]);
        assert_eq!(state.by_org["org_2"], ["stf_b"]);
        let z = &state.staff["stf_z"];
        assert_eq!((z.version, z.state.active_count()), (2, 1));
        assert!(z.state.accepting);
    }
}
