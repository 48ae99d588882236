//! Every read model by name, for tools that rebuild or check them (replay-tool, the API).

use std::path::Path;

use eventlog::{EventStore, LogError};

use crate::runtime::{
    build, catch_up, checkpoint_name, load_checkpoint, store_checkpoint, ReadModel, VIEWS_DIR,
};

/// Names of every read model, in rebuild order.
pub const NAMES: &[&str] = &["directory", "timers", "products", "orders", "instances"];

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

fn one<M: ReadModel>(
    log: &dyn EventStore,
    data_dir: &Path,
    check: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<RebuildOutcome, LogError> {
    let head = log.head();
    let rebuilt =
        build::<M>(log, head, progress).map_err(|(position, reason)| LogError::Corrupt {
            position,
            reason: format!("{} cannot apply this event: {reason}", M::NAME),
        })?;
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
            reason: "the stored model differs from the rebuilt one".into(),
        }
    })
}

/// Rebuilds (or checks, with `check`) the model called `name` from `log`, storing its
/// checkpoint under `data_dir`. `None` for an unknown name.
pub fn rebuild(
    name: &str,
    log: &dyn EventStore,
    data_dir: &Path,
    check: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Option<Result<RebuildOutcome, LogError>> {
    Some(match name {
        "directory" => one::<crate::directory::Directory>(log, data_dir, check, progress),
        "timers" => one::<crate::timers::Timers>(log, data_dir, check, progress),
        "products" => one::<crate::products::Products>(log, data_dir, check, progress),
        "orders" => one::<crate::orders::Orders>(log, data_dir, check, progress),
        "instances" => one::<crate::instances::Instances>(log, data_dir, check, progress),
        _ => return None,
    })
}
