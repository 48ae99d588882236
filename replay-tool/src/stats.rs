//! `replay-tool stats`: events per type, streams per kind, totals, log size, first and last
//! recorded-at time, from one pass over the log in chunks.
//!
//! Streams are counted by their first event (version 1) rather than remembered by id, so
//! memory stays bounded by the number of types and kinds however many streams there are;
//! this relies on versions starting at 1, which `verify` checks.
//!
//! The log size is what the source can tell ([`LogSize`]): bytes on disk offline, the sum of
//! the stored record bytes online (labelled so in text; the JSON key is `log_size_bytes`
//! either way). It is asked for after the walk, so an online source counts the bytes of the
//! records it has just served instead of fetching the log twice.

use std::collections::BTreeMap;
use std::io::Write;

use chrono_tz::Tz;
use eventlog::{stream_kind, Record};
use serde::Serialize;

use crate::cli::StatsArgs;
use crate::error::ToolError;
use crate::progress;
use crate::source::{for_each_record, LogSize, LogSource};
use crate::time::format_micros;
use crate::Verdict;

/// Counts over the whole log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub streams: u64,
    pub head: u64,
    pub log_size: Option<LogSize>,
    pub first_at_micros: Option<i64>,
    pub last_at_micros: Option<i64>,
    pub events_per_type: BTreeMap<String, u64>,
    pub streams_per_kind: BTreeMap<String, u64>,
}

impl Stats {
    /// Adds one record.
    pub fn add(&mut self, r: &Record) {
        self.events += 1;
        *self
            .events_per_type
            .entry(r.event_type.clone())
            .or_default() += 1;
        if r.version == 1 {
            self.streams += 1;
            *self
                .streams_per_kind
                .entry(stream_kind(&r.stream_id).to_string())
                .or_default() += 1;
        }
        let at = r.recorded_at_micros;
        self.first_at_micros = Some(self.first_at_micros.map_or(at, |f| f.min(at)));
        self.last_at_micros = Some(self.last_at_micros.map_or(at, |l| l.max(at)));
    }
}

/// The `--json` shape.
#[derive(Serialize)]
struct StatsJson<'a> {
    events: u64,
    streams: u64,
    head: u64,
    log_size_bytes: Option<u64>,
    first_at: Option<String>,
    last_at: Option<String>,
    events_per_type: &'a BTreeMap<String, u64>,
    streams_per_kind: &'a BTreeMap<String, u64>,
}

/// Gathers the stats of `source`.
pub fn collect(source: &dyn LogSource, show_progress: bool) -> Result<Stats, ToolError> {
    let head = source.head()?;
    let mut stats = Stats {
        head,
        ..Stats::default()
    };
    let bar = progress::bar(show_progress, head, "counting");
    let walked = for_each_record(source, 1, head, &mut |r| {
        stats.add(r);
        bar.set_position(r.position);
        Ok(())
    });
    bar.finish_and_clear();
    walked?;
    stats.log_size = source.log_size()?;
    Ok(stats)
}

pub fn run(
    source: &dyn LogSource,
    args: &StatsArgs,
    tz: Tz,
    show_progress: bool,
    out: &mut dyn Write,
) -> Result<Verdict, ToolError> {
    let stats = collect(source, show_progress)?;
    let first_at = stats.first_at_micros.map(|m| format_micros(m, tz));
    let last_at = stats.last_at_micros.map(|m| format_micros(m, tz));
    if args.json {
        let json = StatsJson {
            events: stats.events,
            streams: stats.streams,
            head: stats.head,
            log_size_bytes: stats.log_size.map(LogSize::bytes),
            first_at,
            last_at,
            events_per_type: &stats.events_per_type,
            streams_per_kind: &stats.streams_per_kind,
        };
        serde_json::to_writer(&mut *out, &json).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(Verdict::Clean);
    }
    let none = || "-".to_string();
    writeln!(out, "events: {}", stats.events)?;
    writeln!(out, "streams: {}", stats.streams)?;
    writeln!(out, "head position: {}", stats.head)?;
    match stats.log_size {
        Some(LogSize::OnDisk(bytes)) => writeln!(out, "log size: {bytes} bytes")?,
        Some(LogSize::RecordBytes(bytes)) => {
            writeln!(out, "log size: {bytes} bytes of records (online)")?
        }
        None => writeln!(out, "log size: unknown")?,
    }
    writeln!(out, "first event at: {}", first_at.unwrap_or_else(none))?;
    writeln!(out, "last event at: {}", last_at.unwrap_or_else(none))?;
    write_table(out, "events per type:", &stats.events_per_type)?;
    write_table(out, "streams per kind:", &stats.streams_per_kind)?;
    Ok(Verdict::Clean)
}

fn write_table(
    out: &mut dyn Write,
    title: &str,
    counts: &BTreeMap<String, u64>,
) -> std::io::Result<()> {
    writeln!(out, "{title}")?;
    let width = counts.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    for (name, n) in counts {
        writeln!(out, "  {name:<width$}  {n}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tests::{record, MemorySource};

    #[test]
    fn streams_are_counted_once_by_their_first_version() {
        let source = MemorySource {
            records: vec![
                record(1, "order-a", 1, "OrderPlaced"),
                record(2, "order-a", 2, "OrderPaid"),
                record(3, "legacy-c", 1, "LegacyOpened"),
                record(4, "order-b", 1, "OrderPlaced"),
                record(5, "noprefix", 1, "Odd"),
            ],
            step: 2,
        };
        let stats = collect(&source, false).unwrap();
        assert_eq!((stats.events, stats.streams, stats.head), (5, 4, 5));
        assert_eq!(stats.events_per_type["OrderPlaced"], 2);
        let kinds: Vec<(&str, u64)> = stats
            .streams_per_kind
            .iter()
            .map(|(k, n)| (k.as_str(), *n))
            .collect();
        assert_eq!(kinds, vec![("legacy", 1), ("noprefix", 1), ("order", 2)]);
        assert_eq!(stats.first_at_micros, Some(1_000_000));
        assert_eq!(stats.last_at_micros, Some(5_000_000));
    }
}
