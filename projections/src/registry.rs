//! The one registry of read models: [`MODELS`] lists each once, and everything that needs
//! every model goes through it — the server starts them all ([`Running::start`], which is
//! also where handlers get their typed handles), `/v1/projections` lists and rebuilds them,
//! and `replay-tool rebuild` rebuilds or checks them offline ([`rebuild`]).

use std::any::Any;
use std::path::Path;
use std::sync::Arc;

use eventlog::{EventStore, LogError, Record};

use crate::runtime::{
    catch_up, checkpoint_name, load_checkpoint, store_checkpoint, Projection, ProjectionControl,
    ReadModel, Versioned, APPLY_BATCH_RECORDS_MAX, VIEWS_DIR,
};

/// One registered read model.
pub struct Model {
    /// `ReadModel::NAME`.
    pub name: &'static str,
    start: fn(Arc<dyn EventStore>, &Path) -> Result<Started, LogError>,
    building: fn() -> Box<dyn Building>,
}

impl Model {
    /// The entry of model `M`.
    pub const fn of<M: ReadModel>() -> Model {
        Model {
            name: M::NAME,
            start: start::<M>,
            building: building::<M>,
        }
    }
}

/// Every read model, in start and rebuild order. Adding one is one line here
/// (ARCHITECTURE.md, "How to add").
pub static MODELS: &[Model] = &[
    Model::of::<crate::directory::Directory>(),
    Model::of::<crate::timers::Timers>(),
    Model::of::<crate::products::Products>(),
    Model::of::<crate::promotions::Promotions>(),
    Model::of::<crate::orders::Orders>(),
    Model::of::<crate::instances::Instances>(),
    Model::of::<crate::coupons::Coupons>(),
    Model::of::<crate::staff::StaffModel>(),
    Model::of::<crate::deliveries::Deliveries>(),
    Model::of::<crate::templates::Templates>(),
    Model::of::<crate::workbench::Workbench>(),
    Model::of::<crate::trade::Trade>(),
];

/// Names of every read model, in rebuild order.
pub fn names() -> Vec<&'static str> {
    MODELS.iter().map(|m| m.name).collect()
}

/// A started model: its control (status, waits, rebuilds) and its typed handle.
struct Started {
    control: Arc<dyn ProjectionControl>,
    handle: Box<dyn Any + Send + Sync>,
}

fn start<M: ReadModel>(log: Arc<dyn EventStore>, data_dir: &Path) -> Result<Started, LogError> {
    let p = Projection::<M>::start(log, data_dir)?;
    Ok(Started {
        control: Arc::new(p.clone()),
        handle: Box::new(p),
    })
}

/// Every registered model, running on a live log.
pub struct Running {
    models: Vec<Started>,
}

impl Running {
    /// Starts every model of [`MODELS`] from its checkpoint (or the beginning).
    pub fn start(log: Arc<dyn EventStore>, data_dir: &Path) -> Result<Running, LogError> {
        let models = MODELS
            .iter()
            .map(|m| (m.start)(Arc::clone(&log), data_dir))
            .collect::<Result<_, _>>()?;
        Ok(Running { models })
    }

    /// The controls of every model, in registry order (`/v1/projections`, waits).
    pub fn controls(&self) -> Vec<Arc<dyn ProjectionControl>> {
        self.models.iter().map(|m| Arc::clone(&m.control)).collect()
    }

    /// The typed handle of model `M`, for the handlers that read it.
    pub fn handle<M: ReadModel>(&self) -> Result<Projection<M>, LogError> {
        self.models
            .iter()
            .find_map(|m| m.handle.downcast_ref::<Projection<M>>())
            .cloned()
            .ok_or_else(|| LogError::Invalid(format!("read model {} is not registered", M::NAME)))
    }
}

/// What an offline rebuild of one model found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebuildOutcome {
    /// Rebuilt to `position` and stored as the model's checkpoint.
    Stored { position: u64 },
    /// `--check`: the stored checkpoint caught up to the head equals the rebuild.
    Equal { position: u64 },
    /// `--check`: they differ (or the stored checkpoint is unusable: damaged, of another
    /// model version or of another log).
    Differs { position: u64, reason: String },
    /// `--check`: no checkpoint is stored, so there is nothing to compare (not a difference).
    NothingStored { position: u64 },
}

/// One model being rebuilt inside a shared pass over the log ([`rebuild_all`]).
trait Building {
    /// Applies one record, unless an earlier one failed (then the model stays at its poison
    /// event and the pass goes on for the others).
    fn apply(&mut self, r: &Record);
    /// Stores the rebuilt state as the checkpoint, or (`check`) compares it with the stored
    /// checkpoint caught up to `head`.
    fn finish(
        self: Box<Self>,
        log: &dyn EventStore,
        data_dir: &Path,
        check: bool,
        head: u64,
    ) -> Result<RebuildOutcome, LogError>;
}

struct Build<M: ReadModel> {
    rebuilt: Versioned<M::State>,
    /// The poison event: its position and why it does not apply.
    failed: Option<(u64, String)>,
}

fn building<M: ReadModel>() -> Box<dyn Building> {
    Box::new(Build::<M> {
        rebuilt: Versioned {
            position: 0,
            state: M::State::default(),
        },
        failed: None,
    })
}

impl<M: ReadModel> Building for Build<M> {
    fn apply(&mut self, r: &Record) {
        if self.failed.is_some() || r.position <= self.rebuilt.position {
            return;
        }
        match M::apply(&mut self.rebuilt.state, r) {
            Ok(()) => self.rebuilt.position = r.position,
            Err(e) => self.failed = Some((r.position, e.0)),
        }
    }

    fn finish(
        self: Box<Self>,
        log: &dyn EventStore,
        data_dir: &Path,
        check: bool,
        head: u64,
    ) -> Result<RebuildOutcome, LogError> {
        if let Some((position, reason)) = self.failed {
            return Err(LogError::Corrupt {
                position,
                reason: format!("{} cannot apply this event: {reason}", M::NAME),
            });
        }
        let rebuilt = self.rebuilt;
        if !check {
            store_checkpoint::<M>(data_dir, &rebuilt, log)?;
            return Ok(RebuildOutcome::Stored {
                position: rebuilt.position,
            });
        }
        let views = data_dir.join(VIEWS_DIR);
        if !views.join(checkpoint_name::<M>()).exists() {
            return Ok(RebuildOutcome::NothingStored { position: head });
        }
        let Some(mut current) = load_checkpoint::<M>(&views, log) else {
            return Ok(RebuildOutcome::Differs {
                position: head,
                reason: "no usable checkpoint to compare with".into(),
            });
        };
        catch_up::<M>(log, &mut current, head, &mut |_, _| {})
            .map_err(|(position, reason)| LogError::Corrupt { position, reason })?;
        Ok(if current == rebuilt {
            RebuildOutcome::Equal { position: head }
        } else {
            RebuildOutcome::Differs {
                position: head,
                reason: first_difference(&current.state, &rebuilt.state),
            }
        })
    }
}

/// One model's result in a [`rebuild_all`]: its name and how its rebuild ended.
pub type ModelOutcome = (&'static str, Result<RebuildOutcome, LogError>);

/// Where a [`rebuild_all`] stands, for progress bars and timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebuildStep {
    /// The shared pass has applied every record up to `done` (of `target`) to every model
    /// still building.
    Applied { done: u64, target: u64 },
    /// The pass is over; the model `name` is being stored (or checked) now.
    Finishing { name: &'static str },
    /// The model `name` is stored (or checked).
    Finished { name: &'static str },
}

/// Rebuilds (or checks, with `check`) the models called `names` offline in **one pass** over
/// `log`: each chunk of records is read once and applied to every model, then each model is
/// stored as its checkpoint under `data_dir` (or compared with it), in registry order.
///
/// Answers each model's outcome in registry order, stopping after the first model that
/// failed (a poison event: [`LogError::Corrupt`] naming the model, its position and why;
/// a store error). A poison event stops only its own model during the pass: the others are
/// applied to the head as when each was rebuilt alone. Peak memory is every named model's
/// state at once (what a server holding them all needs too) plus one chunk of records.
/// `Err` (with no outcome) for a name not registered or when the log cannot be read.
pub fn rebuild_all(
    names: &[&str],
    log: &dyn EventStore,
    data_dir: &Path,
    check: bool,
    progress: &mut dyn FnMut(RebuildStep),
) -> Result<Vec<ModelOutcome>, LogError> {
    if let Some(name) = names.iter().find(|n| !MODELS.iter().any(|m| m.name == **n)) {
        return Err(LogError::Invalid(format!("unknown projection {name}")));
    }
    let mut models: Vec<(&'static str, Box<dyn Building>)> = MODELS
        .iter()
        .filter(|m| names.contains(&m.name))
        .map(|m| (m.name, (m.building)()))
        .collect();
    let head = log.head();
    let mut next = 1;
    while next <= head {
        let chunk = log.read_all(next, APPLY_BATCH_RECORDS_MAX)?;
        let Some(last) = chunk.last() else { break };
        next = last.position + 1;
        let upto = chunk.partition_point(|r| r.position <= head);
        for (_, model) in &mut models {
            for r in &chunk[..upto] {
                model.apply(r);
            }
        }
        progress(RebuildStep::Applied {
            done: next.saturating_sub(1).min(head),
            target: head,
        });
    }
    let mut outcomes = Vec::with_capacity(models.len());
    for (name, model) in models {
        progress(RebuildStep::Finishing { name });
        let outcome = model.finish(log, data_dir, check, head);
        progress(RebuildStep::Finished { name });
        let failed = outcome.is_err();
        outcomes.push((name, outcome));
        if failed {
            break;
        }
    }
    Ok(outcomes)
}

/// Characters of a value quoted in a difference; longer ones end in `…`.
const DIFFERENCE_VALUE_CHARS_MAX: usize = 160;

/// Where a stored model first differs from the rebuilt one: the JSON Pointer of the first
/// differing value of their serialized forms (object keys in sorted order, array items in
/// order) with both values, e.g. `first difference at /by_id/prd_1/version: stored 5,
/// rebuilt 4`. A state that has no JSON form is compared line by line in its `Debug` form.
fn first_difference<S: serde::Serialize + std::fmt::Debug>(stored: &S, rebuilt: &S) -> String {
    match (serde_json::to_value(stored), serde_json::to_value(rebuilt)) {
        (Ok(a), Ok(b)) => json_difference(&a, &b, &mut String::new()).unwrap_or_else(|| {
            "the stored model differs from the rebuilt one (not in their JSON form)".into()
        }),
        _ => {
            let (a, b) = (format!("{stored:#?}"), format!("{rebuilt:#?}"));
            let at = a.lines().zip(b.lines()).position(|(x, y)| x != y);
            let line = |text: &str, n: Option<usize>| {
                n.and_then(|n| text.lines().nth(n))
                    .map_or("(end)".to_string(), |l| shorten(l.trim()))
            };
            let n = at.or(Some(a.lines().count().min(b.lines().count())));
            format!(
                "first difference at line {} of the debug form: stored {}, rebuilt {}",
                n.unwrap_or(0) + 1,
                line(&a, n),
                line(&b, n)
            )
        }
    }
}

fn json_difference(
    a: &serde_json::Value,
    b: &serde_json::Value,
    path: &mut String,
) -> Option<String> {
    use serde_json::Value;
    if a == b {
        return None;
    }
    let at = |path: &str, stored: Option<&Value>, rebuilt: Option<&Value>| {
        let shown =
            |v: Option<&Value>| v.map_or("nothing".to_string(), |v| shorten(&v.to_string()));
        let path = if path.is_empty() { "/" } else { path };
        Some(format!(
            "first difference at {path}: stored {}, rebuilt {}",
            shown(stored),
            shown(rebuilt)
        ))
    };
    let step = |path: &mut String, token: &str, x: Option<&Value>, y: Option<&Value>| {
        let len = path.len();
        path.push('/');
        path.push_str(&token.replace('~', "~0").replace('/', "~1"));
        let found = match (x, y) {
            (Some(x), Some(y)) => json_difference(x, y, path),
            _ => at(path, x, y),
        };
        path.truncate(len);
        found
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .find_map(|k| step(path, k, x.get(k), y.get(k)))
        }
        (Value::Array(x), Value::Array(y)) => {
            (0..x.len().max(y.len())).find_map(|i| step(path, &i.to_string(), x.get(i), y.get(i)))
        }
        _ => at(path, Some(a), Some(b)),
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= DIFFERENCE_VALUE_CHARS_MAX {
        return text.to_string();
    }
    let mut short: String = text.chars().take(DIFFERENCE_VALUE_CHARS_MAX).collect();
    short.push('…');
    short
}

/// Rebuilds (or checks, with `check`) the model called `name` from `log`, storing its
/// checkpoint under `data_dir` ([`rebuild_all`] of one model). `None` for an unknown name.
pub fn rebuild(
    name: &str,
    log: &dyn EventStore,
    data_dir: &Path,
    check: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Option<Result<RebuildOutcome, LogError>> {
    let model = MODELS.iter().find(|m| m.name == name)?;
    let outcome = rebuild_all(&[model.name], log, data_dir, check, &mut |step| {
        if let RebuildStep::Applied { done, target } = step {
            progress(done, target);
        }
    });
    Some(match outcome {
        Ok(mut outcomes) => match outcomes.pop() {
            Some((_, outcome)) => outcome,
            None => Err(LogError::Invalid(format!("{name} was not rebuilt"))),
        },
        Err(e) => Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_names_the_first_differing_path_and_both_values() {
        use serde_json::json;
        let stored = json!({"by_id": {"a": {"v": 1, "tags": ["x"]}, "b/c": {"v": 5}}});
        let same = stored.clone();
        assert_eq!(json_difference(&stored, &same, &mut String::new()), None);
        let rebuilt = json!({"by_id": {"a": {"v": 1, "tags": ["x", "y"]}, "b/c": {"v": 4}}});
        assert_eq!(
            first_difference(&stored, &rebuilt),
            "first difference at /by_id/a/tags/1: stored nothing, rebuilt \"y\""
        );
        let rebuilt = json!({"by_id": {"a": {"v": 1, "tags": ["x"]}, "b/c": {"v": 4}}});
        assert_eq!(
            first_difference(&stored, &rebuilt),
            "first difference at /by_id/b~1c/v: stored 5, rebuilt 4"
        );
        assert_eq!(
            first_difference(&json!(1), &json!("x".repeat(500))),
            format!(
                "first difference at /: stored 1, rebuilt \"{}…",
                "x".repeat(159)
            )
        );
    }

    #[test]
    fn every_model_is_registered_once_and_started_with_a_typed_handle() {
        let names = names();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        let dir = tempfile::tempdir().expect("tempdir");
        let log = eventlog::SledLog::open(dir.path()).expect("open");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let running = Running::start(Arc::new(log.clone()), dir.path()).expect("start");
            let controls: Vec<_> = running.controls().iter().map(|c| c.name()).collect();
            assert_eq!(controls, names);
            assert!(running.handle::<crate::orders::Orders>().is_ok());
        });
        assert!(rebuild("nosuchmodel", &log, dir.path(), true, &mut |_, _| {}).is_none());
        log.close().expect("close");
    }
}
