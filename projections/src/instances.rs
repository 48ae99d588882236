//! The instance read model: every instance a customer owns, by id, order and customer.

use std::collections::BTreeMap;

use domain::instance::{Instance, InstanceEvent, InstanceState};
use domain::Decider;
use eventlog::Record;
use serde::{Deserialize, Serialize};

use crate::runtime::{decode, ApplyError, ReadModel};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRow {
    pub id: String,
    pub state: InstanceState,
    pub version: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstancesState {
    pub by_id: BTreeMap<String, InstanceRow>,
}

#[derive(Debug)]
pub struct Instances;

impl ReadModel for Instances {
    const NAME: &'static str = "instances";
    const VERSION: u32 = 1;
    type State = InstancesState;

    fn apply(state: &mut InstancesState, r: &Record) -> Result<(), ApplyError> {
        let Some(id) = r.stream_id.strip_prefix("instance-") else {
            return Ok(());
        };
        let e: InstanceEvent = decode(r)?;
        let row = state
            .by_id
            .entry(id.to_owned())
            .or_insert_with(|| InstanceRow {
                id: id.to_owned(),
                state: InstanceState::default(),
                version: 0,
            });
        row.state = Instance::evolve(std::mem::take(&mut row.state), &e);
        row.version = r.version;
        Ok(())
    }
}
