//! What the running log knows about its own integrity, and the background scan.
//!
//! A log is *fenced* once anything finds it damaged: the checks at open (head anchor present
//! and matching the tail), the integrity scan that a server starts beside it (CRC, chain and
//! gap-free positions of every record up to the head at open), or any read that meets a bad
//! or missing record. A fenced log refuses every append ([`crate::LogError::Fenced`]) for the
//! rest of the process's life and keeps serving reads of intact records; only an operator
//! (`replay-tool verify`, then a restore) can clear it.
//!
//! Invariant: once set, the finding never changes (the first one is what the operator sees),
//! and no append is acknowledged after it was set.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::anchor::Anchor;
use crate::verify::{Problem, Verifier, VERIFY_CHUNK_RECORDS};

/// Who found the damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundBy {
    /// The checks made when the log was opened.
    Open,
    /// The background integrity scan.
    Scan,
    /// A read that met a bad or missing record.
    Read,
}

impl FoundBy {
    pub fn as_str(self) -> &'static str {
        match self {
            FoundBy::Open => "open",
            FoundBy::Scan => "scan",
            FoundBy::Read => "read",
        }
    }
}

/// The first damage found: where, what, and by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The first bad position (0 when the damage names no record, e.g. a damaged anchor).
    pub position: u64,
    pub reason: String,
    pub found_by: FoundBy,
}

/// Progress of the background integrity scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanState {
    /// Not started (tools never start it; a server starts it at open).
    NotStarted,
    /// Walking: records checked so far of the `target` (the head when it started).
    Running { checked: u64, target: u64 },
    /// Walked `checked` records in `millis` (stopped early if it found damage).
    Finished { checked: u64, millis: u64 },
}

/// The integrity status of a log, as health reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityStatus {
    pub finding: Option<Finding>,
    pub scan: ScanState,
}

/// What the scan reads from the log; the sled log implements it.
pub(crate) trait ScanSource: Send + Sync {
    /// Stored values from `from` (durable ones only).
    fn raw(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, crate::LogError>;
    /// The position the stream index names for (stream, version), if any.
    fn indexed(&self, stream_id: &str, version: u64) -> Result<Option<u64>, crate::LogError>;
    /// Entries of the stream index that name a position at or below `target`, or that do not
    /// parse (walked in key order, as stream reads walk it).
    fn index_entries_upto(&self, target: u64) -> Result<u64, crate::LogError>;
    fn fence(&self, finding: Finding);
    fn set_scan(&self, state: ScanState);
}

/// Walks positions 1..=`target` checking CRC, chain, gap-free positions, the anchor's chain
/// hash and each record's stream index entry (what stream reads go through), then walks the
/// index in key order and counts one entry per record; it fences the log at the first
/// problem. Stream versions are not checked here: that needs a map of every stream (memory a
/// server should not spend in the background); `replay-tool verify` checks them.
pub(crate) fn scan(
    source: &dyn ScanSource,
    target: u64,
    anchor: Option<Anchor>,
    stop: &Arc<AtomicBool>,
) {
    #[allow(clippy::disallowed_methods)] // measurement for the log and health, not business time
    let started = Instant::now();
    let mut v = Verifier::without_stream_versions();
    let finished = |checked: u64| ScanState::Finished {
        checked,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    source.set_scan(ScanState::Running { checked: 0, target });
    while v.checked() < target {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let from = v.checked() + 1;
        let limit =
            VERIFY_CHUNK_RECORDS.min(usize::try_from(target - v.checked()).unwrap_or(usize::MAX));
        let chunk = match source.raw(from, limit) {
            Ok(chunk) => chunk,
            Err(crate::LogError::Corrupt { position, reason }) => {
                source.fence(Finding {
                    position,
                    reason,
                    found_by: FoundBy::Scan,
                });
                source.set_scan(finished(v.checked()));
                return;
            }
            Err(e) => {
                source.fence(Finding {
                    position: from,
                    reason: format!("the integrity scan could not read the log: {e}"),
                    found_by: FoundBy::Scan,
                });
                source.set_scan(finished(v.checked()));
                return;
            }
        };
        if chunk.is_empty() {
            source.fence(Finding {
                position: from,
                reason: format!(
                    "the log ends at position {} before its durable head {target}",
                    from - 1
                ),
                found_by: FoundBy::Scan,
            });
            source.set_scan(finished(v.checked()));
            return;
        }
        for (position, value) in &chunk {
            let checked = v.check_record(*position, value).and_then(|r| {
                if let Some(a) = anchor.filter(|a| a.position == *position) {
                    Verifier::check_anchor_chain(&a, &v.chain())?;
                }
                match source.indexed(&r.stream_id, r.version) {
                    Ok(Some(p)) if p == *position => Ok(()),
                    Ok(_) => Err(Problem {
                        position: *position,
                        reason: format!(
                            "stream index entry for {}@{} is wrong or missing",
                            r.stream_id, r.version
                        ),
                    }),
                    Err(e) => Err(Problem {
                        position: *position,
                        reason: format!("cannot read the stream index: {e}"),
                    }),
                }
            });
            if let Err(p) = checked {
                source.fence(Finding {
                    position: p.position,
                    reason: p.reason,
                    found_by: FoundBy::Scan,
                });
                source.set_scan(finished(v.checked()));
                return;
            }
        }
        source.set_scan(ScanState::Running {
            checked: v.checked(),
            target,
        });
    }
    // Every record has its entry (checked above by key); walking the index in key order, as a
    // stream read does, must meet exactly as many: sled can answer a key lookup while a damaged
    // leaf hides entries from range scans, and a stream read would then skip events.
    let problem = match source.index_entries_upto(target) {
        Ok(entries) if entries == target => None,
        Ok(entries) => Some(format!(
            "stream index holds {entries} entries for {target} records"
        )),
        Err(e) => Some(format!("cannot walk the stream index: {e}")),
    };
    if let Some(reason) = problem {
        source.fence(Finding {
            position: target + 1,
            reason,
            found_by: FoundBy::Scan,
        });
        source.set_scan(finished(v.checked()));
        return;
    }
    tracing::info!(
        records = v.checked(),
        millis = started.elapsed().as_millis() as u64,
        "integrity scan found the log whole"
    );
    source.set_scan(finished(v.checked()));
}
