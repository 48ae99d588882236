//! The instance read model: every instance a customer owns, by id, order and customer.

use std::collections::BTreeMap;

use domain::instance::{Instance, InstanceEvent, InstanceState};
use domain::Decider;
use eventlog::Record;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::party::PartyIndex;
use crate::runtime::{decode, ApplyError, ReadModel};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRow {
    pub id: String,
    pub state: InstanceState,
    pub version: u64,
}

/// Stored (in checkpoints) as the bare list of rows, keyed again by their ids and filed under
/// their parties on load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstancesState {
    pub by_id: BTreeMap<String, Box<InstanceRow>>,
    /// Customer / seller org → ids of the opened instances they are part of.
    pub by_party: PartyIndex,
}

impl Serialize for InstancesState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.by_id.values().map(|row| &**row))
    }
}

impl<'de> Deserialize<'de> for InstancesState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Built in bulk from sorted input, not one insert at a time (see the orders model).
        let rows = Vec::<InstanceRow>::deserialize(deserializer)?;
        let mut parties = Vec::with_capacity(rows.len() * 2);
        for row in &rows {
            if let Some(o) = &row.state.opened {
                parties.push((o.customer_id.clone(), row.id.clone()));
                parties.push((o.seller_org_id.clone(), row.id.clone()));
            }
        }
        Ok(InstancesState {
            by_id: rows
                .into_iter()
                .map(|row| (row.id.clone(), Box::new(row)))
                .collect(),
            by_party: PartyIndex::from_entries(parties),
        })
    }
}

#[derive(Debug)]
pub struct Instances;

impl ReadModel for Instances {
    const NAME: &'static str = "instances";
    const VERSION: u32 = 2;
    type State = InstancesState;

    fn apply(state: &mut InstancesState, r: &Record) -> Result<(), ApplyError> {
        let Some(id) = r.stream_id.strip_prefix("instance-") else {
            return Ok(());
        };
        let e: InstanceEvent = decode(r)?;
        let row = state.by_id.entry(id.to_owned()).or_insert_with(|| {
            Box::new(InstanceRow {
                id: id.to_owned(),
                state: InstanceState::default(),
                version: 0,
            })
        });
        let was_open = row.state.opened.is_some();
        row.state = Instance::evolve(std::mem::take(&mut row.state), &e);
        row.version = r.version;
        if let (false, Some(o)) = (was_open, &row.state.opened) {
            state
                .by_party
                .insert(&o.customer_id, &o.seller_org_id, id.to_owned());
        }
        Ok(())
    }
}
