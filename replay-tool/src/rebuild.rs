//! `replay-tool rebuild`: read models rebuilt from the log.
//!
//! Offline this is the one command that changes the data dir: it opens the real log (taking
//! the dir's lock, so a running server is refused) and stores each rebuilt model as its
//! checkpoint (`data/views/<name>.snap`, written to a temp file and renamed: swapped in
//! atomically). `--check` stores nothing: it rebuilds in memory and compares with the stored
//! checkpoint caught up to the head. Every model asked for is rebuilt in one pass over the log
//! ([`projections::registry::rebuild_all`]).
//!
//! Online it asks the server for a blue/green rebuild of each model and polls
//! `GET /v1/projections` until each runs again (or failed). `--check` needs the stored
//! checkpoint, which is not served, so it is offline only.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use eventlog::datadir::LOG_DIR;
use eventlog::{EventStore, LogError, SledLog};
use projections::registry::{self, RebuildOutcome, RebuildStep};
use serde::Deserialize;

use crate::error::ToolError;
use crate::offline::guarded;
use crate::online::{OnlineTarget, Server};
use crate::progress;
use crate::source::SourceError;
use crate::Verdict;

/// How often the server's projection list is asked while a rebuild runs.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How long the tool waits for online rebuilds to finish before it gives up.
pub const WAIT_MAX: Duration = Duration::from_secs(600);

/// What `--check` online answers: the compare needs the stored checkpoint.
pub const CHECK_IS_OFFLINE_ONLY: &str =
    "--check is offline only (compare needs the stored checkpoint)";

fn unknown(name: &str) -> ToolError {
    ToolError::Usage(format!(
        "unknown projection {name:?}; known: {}",
        registry::names().join(", ")
    ))
}

/// Refuses a dir that does not hold a log: opening the log would create one there.
fn check_data_dir(data_dir: &Path) -> Result<(), ToolError> {
    let shown = data_dir.display();
    match fs::metadata(data_dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(ToolError::Environment(format!(
                "data dir {shown} is not a directory"
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ToolError::Environment(format!(
                "data dir {shown} does not exist"
            )))
        }
        Err(e) => {
            return Err(ToolError::Environment(format!(
                "cannot read data dir {shown}: {e}"
            )))
        }
    }
    if !data_dir.join(LOG_DIR).is_dir() {
        return Err(ToolError::Environment(format!(
            "{shown} holds no event log (no {LOG_DIR}/ directory)"
        )));
    }
    Ok(())
}

/// Why the log did not open: a busy or unusable dir is the environment, a damaged log a
/// finding.
fn open_error(data_dir: &Path, e: LogError) -> ToolError {
    match e {
        in_use @ LogError::InUse(_) => ToolError::Environment(in_use.to_string()),
        corrupt @ LogError::Corrupt { .. } => ToolError::Finding(corrupt.to_string()),
        store @ LogError::Store(_) => ToolError::Finding(store.to_string()),
        other => ToolError::Environment(format!(
            "cannot open the log in {}: {other}",
            data_dir.display()
        )),
    }
}

/// Rebuilds (or checks) `names` offline on the real data dir, in one pass over the log; one
/// line per model.
pub fn run_offline(
    data_dir: &Path,
    names: &[&str],
    check: bool,
    show_progress: bool,
    out: &mut dyn Write,
) -> Result<Verdict, ToolError> {
    if let Some(name) = names.iter().find(|n| !registry::names().contains(n)) {
        return Err(unknown(name));
    }
    check_data_dir(data_dir)?;
    let log = guarded(|| SledLog::open(data_dir)).map_err(|e| open_error(data_dir, e))?;
    // A log its own checks find damaged at open is not rebuilt from (as when opening refused
    // it): `verify` says what is wrong.
    if let Some(f) = log.integrity().finding {
        return Err(open_error(
            data_dir,
            LogError::Corrupt {
                position: f.position,
                reason: f.reason,
            },
        ));
    }
    let done = each_model(&log, data_dir, names, check, show_progress, out);
    // Closing writes the head anchor and flushes; a damaged store must not crash the exit.
    let closed = guarded(move || {
        let closed = log.close();
        drop(log);
        closed
    });
    let verdict = done?;
    closed.map_err(|e| {
        ToolError::Environment(format!(
            "cannot close the log in {}: {e}",
            data_dir.display()
        ))
    })?;
    Ok(verdict)
}

/// Rebuilds (or checks) `names` in one pass over the log
/// ([`projections::registry::rebuild_all`]), then prints one line per model in registry
/// order, stopping at the first model that failed.
fn each_model(
    log: &SledLog,
    data_dir: &Path,
    names: &[&str],
    check: bool,
    show_progress: bool,
    out: &mut dyn Write,
) -> Result<Verdict, ToolError> {
    let head = guarded(|| Ok(log.head())).map_err(|e| open_error(data_dir, e))?;
    let verb = if check { "checking" } else { "rebuilding" };
    let bar = progress::bar(show_progress, head, &format!("{verb} {}", names.join(", ")));
    let outcomes = guarded(|| {
        registry::rebuild_all(names, log, data_dir, check, &mut |step| match step {
            RebuildStep::Applied { done, target } => {
                bar.set_length(target);
                bar.set_position(done);
            }
            RebuildStep::Finishing { name } => {
                let what = if check { "comparing" } else { "storing" };
                bar.set_message(format!("{what} {name}"));
            }
            RebuildStep::Finished { .. } => {}
        })
    });
    bar.finish_and_clear();
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(LogError::Invalid(e)) => return Err(ToolError::Usage(e)),
        Err(e @ LogError::Io(_)) => {
            return Err(ToolError::Environment(format!("cannot rebuild: {e}")))
        }
        Err(e) => return Err(ToolError::Finding(format!("cannot rebuild: {e}"))),
    };
    let mut verdict = Verdict::Clean;
    for (name, outcome) in outcomes {
        match outcome {
            Ok(RebuildOutcome::Stored { position }) => {
                writeln!(out, "rebuilt {name} to position {position}")?
            }
            Ok(RebuildOutcome::Equal { position }) => {
                writeln!(out, "{name}: equal at position {position}")?
            }
            Ok(RebuildOutcome::NothingStored { position }) => writeln!(
                out,
                "{name}: nothing stored to compare with at position {position} (no checkpoint)"
            )?,
            Ok(RebuildOutcome::Differs { position, reason }) => {
                writeln!(out, "{name}: DIFFERS at position {position}: {reason}")?;
                verdict = Verdict::Finding;
            }
            Err(e @ (LogError::Io(_) | LogError::Invalid(_))) => {
                return Err(ToolError::Environment(format!(
                    "cannot rebuild {name}: {e}"
                )))
            }
            Err(e) => return Err(ToolError::Finding(format!("cannot rebuild {name}: {e}"))),
        }
        out.flush()?;
    }
    Ok(verdict)
}

/// One projection as `GET /v1/projections` shows it.
#[derive(Debug, Deserialize)]
struct ProjectionItem {
    name: String,
    position: u64,
    status: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProjectionList {
    items: Vec<ProjectionItem>,
}

/// Asks a running server to rebuild `names`, then waits until each runs again.
pub fn run_online(
    target: &OnlineTarget,
    names: &[&str],
    show_progress: bool,
    out: &mut dyn Write,
) -> Result<Verdict, ToolError> {
    if let Some(name) = names.iter().find(|n| !registry::names().contains(n)) {
        return Err(unknown(name));
    }
    let server = Server::new(target)?;
    for name in names {
        let path = format!("/v1/projections/{name}/rebuild");
        match server.post_json::<serde_json::Value>(&path, "a projection") {
            Ok(_) => {}
            // Already rebuilding (then wait for it) or failed (then the poll reports it).
            Err(SourceError::Server { code: 409, .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let bar = progress::steps(
        show_progress,
        names.len() as u64,
        "projections",
        "rebuilding",
    );
    let waited = wait_online(&server, names, &bar, out);
    bar.finish_and_clear();
    waited
}

/// Polls until every model in `names` runs again (or failed). Lines come out in the order
/// of `names`, whatever order the server finishes them in: a model's line waits until the
/// ones before it are done.
fn wait_online(
    server: &Server,
    names: &[&str],
    bar: &indicatif::ProgressBar,
    out: &mut dyn Write,
) -> Result<Verdict, ToolError> {
    let started = domain::clock::monotonic_now();
    // The finished line of each model, once it is done.
    let mut lines: Vec<Option<String>> = vec![None; names.len()];
    let mut printed = 0;
    let mut verdict = Verdict::Clean;
    loop {
        let list: ProjectionList =
            server.get_json("/v1/projections", &[], true, "a list of projections")?;
        let by_name: BTreeMap<&str, &ProjectionItem> =
            list.items.iter().map(|p| (p.name.as_str(), p)).collect();
        for (name, line) in names.iter().zip(lines.iter_mut()) {
            if line.is_some() {
                continue;
            }
            let Some(p) = by_name.get(name) else {
                return Err(ToolError::Environment(format!(
                    "the server at {} does not list projection {name}",
                    server.base()
                )));
            };
            match p.status.as_str() {
                "rebuilding" => {}
                "running" => {
                    bar.inc(1);
                    *line = Some(format!("rebuilt {name} to position {}", p.position));
                }
                "failed" => {
                    bar.inc(1);
                    let error = p.error.as_deref().unwrap_or("(no error given)");
                    *line = Some(format!("{name}: FAILED: {error}"));
                    verdict = Verdict::Finding;
                }
                other => {
                    return Err(ToolError::Server(format!(
                        "the server at {} reports status {other:?} for projection {name}",
                        server.base()
                    )))
                }
            }
        }
        while let Some(Some(line)) = lines.get(printed) {
            bar.suspend(|| writeln!(out, "{line}"))?;
            printed += 1;
        }
        out.flush()?;
        let still: Vec<&str> = names
            .iter()
            .zip(&lines)
            .filter(|(_, line)| line.is_none())
            .map(|(name, _)| *name)
            .collect();
        if still.is_empty() {
            return Ok(verdict);
        }
        bar.set_message(format!("rebuilding {}", still.join(", ")));
        if started.elapsed() >= WAIT_MAX {
            return Err(ToolError::Server(format!(
                "{} still rebuilding after {} s; giving up (the server goes on)",
                still.join(", "),
                WAIT_MAX.as_secs()
            )));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}
