//! `replay-tool verify`: the whole log against its checksums, chain, positions, versions,
//! stream index and head anchor. A store that cannot even be opened is a finding too.
//! Online there is no stream index or head anchor to check; the source skips those two and
//! the report looks the same.

use std::io::Write;

use crate::error::ToolError;
use crate::progress;
use crate::source::{LogSource, SourceError};
use crate::Verdict;

/// Prints `checked N records, M streams, head H` and then `ok` or the first bad position.
pub fn run(
    opened: Result<Box<dyn LogSource>, SourceError>,
    show_progress: bool,
    out: &mut dyn Write,
) -> Result<Verdict, ToolError> {
    let source = match opened {
        Ok(source) => source,
        Err(e) => return report_failure(e, out),
    };
    let head = match source.head() {
        Ok(head) => head,
        Err(e) => return report_failure(e, out),
    };
    let bar = progress::bar(show_progress, head, "verifying");
    let report = source.verify(&mut |checked, head| {
        bar.set_length(head);
        bar.set_position(checked);
    });
    bar.finish_and_clear();
    let report = match report {
        Ok(report) => report,
        Err(e) => return report_failure(e, out),
    };
    writeln!(
        out,
        "checked {} records, {} streams, head {}",
        report.records_checked, report.streams, report.head
    )?;
    match report.problem {
        None => {
            writeln!(out, "ok")?;
            Ok(Verdict::Clean)
        }
        Some(p) => {
            writeln!(out, "first bad position {}: {}", p.position, p.reason)?;
            Ok(Verdict::Finding)
        }
    }
}

/// An unreachable log is an environment error and a server's refusal or failure goes to
/// stderr; a log the store refuses is a finding.
fn report_failure(e: SourceError, out: &mut dyn Write) -> Result<Verdict, ToolError> {
    match e {
        SourceError::Unavailable(m) => Err(ToolError::Environment(m)),
        server @ SourceError::Server { .. } => Err(server.into()),
        // Position 0 names no record: the head anchor or the key layout is damaged.
        SourceError::Corrupt {
            position: 0,
            reason,
        } => {
            writeln!(out, "log is damaged: {reason}")?;
            Ok(Verdict::Finding)
        }
        SourceError::Corrupt { position, reason } => {
            writeln!(out, "first bad position {position}: {reason}")?;
            Ok(Verdict::Finding)
        }
        SourceError::Store(m) => {
            writeln!(out, "store error: {m}")?;
            Ok(Verdict::Finding)
        }
    }
}
