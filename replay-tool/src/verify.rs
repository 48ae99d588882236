//! `replay-tool verify`: the whole log against its checksums, chain, positions, versions,
//! stream index and head anchor. A store that cannot even be opened is a finding too.
//! Online there is no stream index or head anchor to check; the source skips those two and
//! the report looks the same.
//!
//! A clean log's report names its chain head: the last record's position and chain hash
//! (the SHA-256 chain over every record before it), read through the same [`LogSource`]
//! after the walk checked it, so an auditor can pin the log and a later `verify` proves it
//! only grew from there. An empty log's head is position 0 with the genesis hash (zeros).

use std::io::Write;

use eventlog::GENESIS_CHAIN;
use serde::Serialize;

use crate::cli::VerifyArgs;
use crate::error::ToolError;
use crate::progress;
use crate::source::{LogSource, SourceError};
use crate::Verdict;

/// What the walk found: counts, then the chain head or the first problem.
#[derive(Debug, Default, Serialize)]
struct Report {
    records_checked: u64,
    streams: u64,
    head: u64,
    /// Hex chain hash of the record at `head` (only when the log is clean).
    head_chain: Option<String>,
    ok: bool,
    /// The first bad position (0: the head anchor or the key layout is damaged).
    first_bad_position: Option<u64>,
    problem: Option<String>,
    /// Whether the walk ran (else the log could not even be opened or read).
    #[serde(skip)]
    walked: bool,
}

/// Prints `checked N records, M streams, head H`, then `chain at head H: <hex>` and `ok`,
/// or the first bad position (one JSON object of the same with `--json`).
pub fn run(
    opened: Result<Box<dyn LogSource>, SourceError>,
    args: &VerifyArgs,
    show_progress: bool,
    out: &mut dyn Write,
) -> Result<Verdict, ToolError> {
    let report = match walk(opened, show_progress) {
        Ok(report) => report,
        Err(e) => failure(e)?,
    };
    if args.json {
        serde_json::to_writer(&mut *out, &report).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        print(&report, out)?;
    }
    Ok(if report.ok {
        Verdict::Clean
    } else {
        Verdict::Finding
    })
}

fn walk(
    opened: Result<Box<dyn LogSource>, SourceError>,
    show_progress: bool,
) -> Result<Report, SourceError> {
    let source = opened?;
    let head = source.head()?;
    let bar = progress::bar(show_progress, head, "verifying");
    let verified = source.verify(&mut |checked, head| {
        bar.set_length(head);
        bar.set_position(checked);
    });
    bar.finish_and_clear();
    let v = verified?;
    let mut report = Report {
        records_checked: v.records_checked,
        streams: v.streams,
        head: v.head,
        walked: true,
        ..Report::default()
    };
    if let Some(p) = v.problem {
        report.first_bad_position = Some(p.position);
        report.problem = Some(p.reason);
        return Ok(report);
    }
    let chain = if v.head == 0 {
        GENESIS_CHAIN
    } else {
        match source.read_from(v.head, 1)?.first() {
            Some(r) if r.position == v.head => r.chain,
            _ => {
                return Err(SourceError::Corrupt {
                    position: v.head,
                    reason: "the head record cannot be read back after the walk".into(),
                })
            }
        }
    };
    report.head_chain = Some(hex::encode(chain));
    report.ok = true;
    Ok(report)
}

/// An unreachable log is an environment error and a server's refusal or failure goes to
/// stderr; a log the store refuses is a finding, reported like one the walk found.
fn failure(e: SourceError) -> Result<Report, ToolError> {
    match e {
        SourceError::Unavailable(m) => Err(ToolError::Environment(m)),
        server @ SourceError::Server { .. } => Err(server.into()),
        SourceError::Corrupt { position, reason } => Ok(Report {
            first_bad_position: Some(position),
            problem: Some(reason),
            ..Report::default()
        }),
        SourceError::Store(m) => Ok(Report {
            problem: Some(format!("store error: {m}")),
            ..Report::default()
        }),
    }
}

fn print(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    if report.walked {
        writeln!(
            out,
            "checked {} records, {} streams, head {}",
            report.records_checked, report.streams, report.head
        )?;
    }
    let problem = report.problem.as_deref().unwrap_or_default();
    match (report.ok, report.first_bad_position) {
        (true, _) => {
            let chain = report.head_chain.as_deref().unwrap_or_default();
            writeln!(out, "chain at head {}: {chain}", report.head)?;
            writeln!(out, "ok")
        }
        // Position 0 names no record: the head anchor or the key layout is damaged.
        (false, Some(0)) if !report.walked => writeln!(out, "log is damaged: {problem}"),
        (false, Some(position)) => writeln!(out, "first bad position {position}: {problem}"),
        (false, None) => writeln!(out, "{problem}"),
    }
}
