//! The flow templates read model (SPEC §8): every private template by id (its state folded
//! with `Template::evolve`, and its stream version, a template's `ETag`), and the ids in
//! creation order, of all orgs and per org. Public presets are not here: they live in code
//! (`domain::delivery::presets`) and never change.

use std::collections::BTreeMap;

use domain::delivery::template::{Template, TemplateEvent, TemplateState};
use domain::Decider;
use eventlog::Record;
use serde::{Deserialize, Serialize};

use crate::runtime::{decode, ApplyError, ReadModel};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRow {
    pub id: String,
    pub state: TemplateState,
    pub version: u64,
    /// The log position of its creation: its place in the lists.
    pub created_at_position: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplatesState {
    pub by_id: BTreeMap<String, TemplateRow>,
    /// Creation position → id, every org's.
    pub created: BTreeMap<u64, String>,
    /// Org → (creation position → id).
    pub by_org: BTreeMap<String, BTreeMap<u64, String>>,
}

#[derive(Debug)]
pub struct Templates;

impl ReadModel for Templates {
    const NAME: &'static str = "templates";
    const VERSION: u32 = 1;
    type State = TemplatesState;

    fn apply(state: &mut TemplatesState, r: &Record) -> Result<(), ApplyError> {
        let Some(id) = r.stream_id.strip_prefix("template-") else {
            return Ok(());
        };
        let e: TemplateEvent = decode(r)?;
        if let TemplateEvent::TemplateCreated(c) = &e {
            state.created.insert(r.position, id.to_owned());
            state
                .by_org
                .entry(c.org_id.clone())
                .or_default()
                .insert(r.position, id.to_owned());
        }
        let row = state
            .by_id
            .entry(id.to_owned())
            .or_insert_with(|| TemplateRow {
                id: id.to_owned(),
                state: TemplateState::default(),
                version: 0,
                created_at_position: r.position,
            });
        row.state = Template::evolve(std::mem::take(&mut row.state), &e);
        row.version = r.version;
        Ok(())
    }
}
