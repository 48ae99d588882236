//! Verification of a whole log: checksums, the hash chain, gap-free positions, gap-free
//! stream versions, the stream index, and the head anchor. The same [`Verifier`] checks
//! stored bytes that came from a local log or from a server's `include=raw` feed, so an
//! online check does not have to trust the server's word.

use std::collections::HashMap;

use crate::anchor::Anchor;
use crate::error::LogError;
use crate::record::{chain_next, decode_value, split_value, Record, GENESIS_CHAIN};
use crate::sled::SledLog;
use crate::EventStore;

/// Records read per verification step.
pub const VERIFY_CHUNK_RECORDS: usize = 4_096;

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub position: u64,
    pub reason: String,
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub records_checked: u64,
    pub head: u64,
    pub streams: u64,
    pub anchor: Option<Anchor>,
    pub problem: Option<Problem>,
}

/// Checks records one by one, in position order, from position 1.
#[derive(Debug)]
pub struct Verifier {
    expected_position: u64,
    chain: [u8; 32],
    versions: HashMap<String, u64>,
    /// Whether stream versions are checked (they need a map of every stream).
    check_versions: bool,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            expected_position: 1,
            chain: GENESIS_CHAIN,
            versions: HashMap::new(),
            check_versions: true,
        }
    }
}

impl Verifier {
    pub fn new() -> Verifier {
        Verifier::default()
    }

    /// A verifier of checksums, the chain and positions only, in constant memory.
    pub fn without_stream_versions() -> Verifier {
        Verifier {
            check_versions: false,
            ..Verifier::default()
        }
    }

    /// Records checked so far.
    pub fn checked(&self) -> u64 {
        self.expected_position - 1
    }

    pub fn streams(&self) -> u64 {
        self.versions.len() as u64
    }

    /// The chain hash after the last checked record.
    pub fn chain(&self) -> [u8; 32] {
        self.chain
    }

    /// Checks the stored value found at `position`.
    pub fn check(&mut self, position: u64, value: &[u8]) -> Result<(), Problem> {
        self.check_record(position, value).map(|_| ())
    }

    /// Checks the stored value found at `position` and answers its record.
    pub fn check_record(&mut self, position: u64, value: &[u8]) -> Result<Record, Problem> {
        let problem = |position: u64, reason: String| Problem { position, reason };
        if position != self.expected_position {
            return Err(problem(
                self.expected_position,
                format!(
                    "gap: expected position {}, found {position}",
                    self.expected_position
                ),
            ));
        }
        let record = decode_value(position, value).map_err(|e| match e {
            LogError::Corrupt { reason, .. } => problem(position, reason),
            other => problem(position, other.to_string()),
        })?;
        let (body, _, stored_chain) =
            split_value(value).ok_or_else(|| problem(position, "record too short".into()))?;
        let computed = chain_next(&self.chain, body);
        if computed != stored_chain {
            return Err(problem(
                position,
                "chain hash mismatch: the record or one before it was altered".into(),
            ));
        }
        if self.check_versions {
            let last = self.versions.get(&record.stream_id).copied().unwrap_or(0);
            if record.version != last + 1 {
                return Err(problem(
                    position,
                    format!(
                        "stream {} jumps from version {last} to {}",
                        record.stream_id, record.version
                    ),
                ));
            }
            self.versions
                .insert(record.stream_id.clone(), record.version);
        }
        self.chain = computed;
        self.expected_position += 1;
        Ok(record)
    }

    /// Checks the end of the log against the head anchor, if there is one.
    pub fn finish(&self, anchor: Option<&Anchor>) -> Result<(), Problem> {
        let Some(a) = anchor else { return Ok(()) };
        let head = self.checked();
        if head < a.position {
            return Err(Problem {
                position: head + 1,
                reason: format!(
                    "the log ends at position {head} but the head anchor says {} was durable: cut short or rolled back",
                    a.position
                ),
            });
        }
        Ok(())
    }

    /// Called for the record at the anchor's position, with its chain hash.
    pub fn check_anchor_chain(a: &Anchor, chain_at_anchor: &[u8; 32]) -> Result<(), Problem> {
        if &a.chain != chain_at_anchor {
            return Err(Problem {
                position: a.position,
                reason: "chain hash differs from the head anchor: the log was rewritten".into(),
            });
        }
        Ok(())
    }
}

/// Verifies an opened log (normally an [`crate::OfflineCopy`]), reporting progress as
/// (checked, head).
pub fn verify_log(
    log: &SledLog,
    anchor: Option<Anchor>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, LogError> {
    let head = log.head();
    if let Some(f) = log
        .integrity()
        .finding
        .filter(|f| f.found_by == crate::FoundBy::Open)
    {
        return Ok(VerifyReport {
            records_checked: 0,
            head,
            streams: 0,
            anchor,
            problem: Some(Problem {
                position: f.position,
                reason: f.reason,
            }),
        });
    }
    let mut v = Verifier::new();
    let mut report = VerifyReport {
        records_checked: 0,
        head,
        streams: 0,
        anchor,
        problem: None,
    };
    let mut from = 1;
    'walk: loop {
        let chunk = log.read_raw(from, VERIFY_CHUNK_RECORDS)?;
        if chunk.is_empty() {
            break;
        }
        for (position, value) in &chunk {
            if let Err(p) = v.check(*position, value) {
                report.problem = Some(p);
                break 'walk;
            }
            if let Some(a) = &anchor {
                if a.position == *position {
                    if let Err(p) = Verifier::check_anchor_chain(a, &v.chain()) {
                        report.problem = Some(p);
                        break 'walk;
                    }
                }
            }
        }
        from = chunk.last().map(|(p, _)| p + 1).unwrap_or(from);
        progress(v.checked(), head);
    }
    if report.problem.is_none() {
        report.problem = v.finish(anchor.as_ref()).err();
    }
    if report.problem.is_none() {
        report.problem = check_index(log, v.checked())?;
    }
    report.records_checked = v.checked();
    report.streams = v.streams();
    Ok(report)
}

/// Every record has exactly one index entry and the index holds nothing else.
fn check_index(log: &SledLog, records: u64) -> Result<Option<Problem>, LogError> {
    let mut from = 1;
    loop {
        let chunk = log.read_all(from, VERIFY_CHUNK_RECORDS)?;
        let Some(last) = chunk.last().map(|r| r.position) else {
            break;
        };
        for r in &chunk {
            if log.indexed_position(&r.stream_id, r.version)? != Some(r.position) {
                return Ok(Some(Problem {
                    position: r.position,
                    reason: format!(
                        "stream index entry for {}@{} is wrong or missing",
                        r.stream_id, r.version
                    ),
                }));
            }
        }
        from = last + 1;
    }
    let entries = log.stream_index_len()?;
    if entries != records {
        return Ok(Some(Problem {
            position: records + 1,
            reason: format!("stream index holds {entries} entries for {records} records"),
        }));
    }
    Ok(None)
}
