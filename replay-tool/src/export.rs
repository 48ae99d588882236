//! `replay-tool export`: events in position order as JSON lines or CSV, filtered by position
//! range (inclusive), recorded-at range (from inclusive, to exclusive), event type and
//! stream id prefix (each repeated filter keeps what any of its values keeps).
//!
//! Both formats carry the same columns ([`COLUMNS`]); JSON lines add `data` when the codec
//! ([`crate::codec::decode_data`]) can decode the payload.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};

use base64::Engine as _;
use chrono_tz::Tz;
use eventlog::Record;
use serde::Serialize;

use crate::cli::{ExportArgs, Format};
use crate::codec::decode_data;
use crate::error::ToolError;
use crate::progress;
use crate::source::{for_each_record, LogSource};
use crate::time::format_micros;
use crate::Verdict;

/// Columns of a row, in order: the CSV header and the JSON field order.
pub const COLUMNS: [&str; 12] = [
    "position",
    "stream_id",
    "version",
    "type",
    "schema",
    "at",
    "actor",
    "correlation_id",
    "causation_id",
    "payload_base64",
    "crc32c",
    "chain",
];

/// Which records an export keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Inclusive.
    pub from_position: u64,
    /// Inclusive.
    pub to_position: u64,
    /// Recorded-at, microseconds, inclusive.
    pub from_micros: Option<i64>,
    /// Recorded-at, microseconds, exclusive.
    pub to_micros: Option<i64>,
    /// Empty = every type.
    pub types: BTreeSet<String>,
    /// Stream id prefixes; empty = every stream.
    pub streams: Vec<String>,
}

impl Filter {
    /// Checks the flags that only make sense together.
    pub fn from_args(args: &ExportArgs) -> Result<Filter, ToolError> {
        let from_position = args.from_position.unwrap_or(1);
        let to_position = args.to_position.unwrap_or(u64::MAX);
        if from_position > to_position {
            return Err(ToolError::Usage(format!(
                "--from-position {from_position} is after --to-position {to_position}"
            )));
        }
        if let (Some(from), Some(to)) = (args.from, args.to) {
            if from > to {
                return Err(ToolError::Usage(
                    "--from is after --to (the time range is from inclusive, to exclusive)".into(),
                ));
            }
        }
        if let Some(t) = args.types.iter().find(|t| t.is_empty()) {
            return Err(ToolError::Usage(format!("--type {t:?} is empty")));
        }
        if let Some(p) = args.streams.iter().find(|p| p.is_empty()) {
            return Err(ToolError::Usage(format!("--stream {p:?} is empty")));
        }
        Ok(Filter {
            from_position,
            to_position,
            from_micros: args.from,
            to_micros: args.to,
            types: args.types.iter().cloned().collect(),
            streams: args.streams.clone(),
        })
    }

    /// Whether `r` is exported (positions are bounded by the walk itself).
    pub fn keeps(&self, r: &Record) -> bool {
        let at = r.recorded_at_micros;
        self.from_micros.is_none_or(|from| at >= from)
            && self.to_micros.is_none_or(|to| at < to)
            && (self.types.is_empty() || self.types.contains(&r.event_type))
            && (self.streams.is_empty()
                || self
                    .streams
                    .iter()
                    .any(|p| r.stream_id.starts_with(p.as_str())))
    }
}

/// One exported event.
#[derive(Debug, Serialize)]
struct Row<'a> {
    position: u64,
    stream_id: &'a str,
    version: u64,
    #[serde(rename = "type")]
    event_type: &'a str,
    schema: u16,
    at: String,
    actor: &'a str,
    correlation_id: &'a str,
    causation_id: &'a str,
    payload_base64: String,
    crc32c: String,
    chain: String,
}

impl<'a> Row<'a> {
    fn of(r: &'a Record, tz: Tz) -> Row<'a> {
        Row {
            position: r.position,
            stream_id: &r.stream_id,
            version: r.version,
            event_type: &r.event_type,
            schema: r.schema_version,
            at: format_micros(r.recorded_at_micros, tz),
            actor: &r.actor,
            correlation_id: &r.correlation_id,
            causation_id: &r.causation_id,
            payload_base64: base64::engine::general_purpose::STANDARD.encode(&r.payload),
            crc32c: format!("{:08x}", r.crc32c),
            chain: hex::encode(r.chain),
        }
    }
}

/// A JSON line: the row's columns, then `data` when the payload could be decoded.
#[derive(Serialize)]
struct JsonLine<'a> {
    #[serde(flatten)]
    row: Row<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<serde_json::Value>,
}

/// Where rows go, in the chosen format.
enum Sink<'w> {
    Jsonl(&'w mut dyn Write),
    Csv(Box<csv::Writer<&'w mut dyn Write>>),
}

impl<'w> Sink<'w> {
    fn new(format: Format, out: &'w mut dyn Write) -> Result<Sink<'w>, ToolError> {
        Ok(match format {
            Format::Jsonl => Sink::Jsonl(out),
            Format::Csv => {
                // The header is written by hand so that an empty export still has one.
                let mut w = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(out);
                w.write_record(COLUMNS)?;
                Sink::Csv(Box::new(w))
            }
        })
    }

    fn write(&mut self, r: &Record, tz: Tz) -> Result<(), ToolError> {
        let row = Row::of(r, tz);
        match self {
            Sink::Jsonl(out) => {
                let line = JsonLine {
                    data: decode_data(&r.event_type, r.schema_version, &r.payload),
                    row,
                };
                serde_json::to_writer(&mut **out, &line).map_err(std::io::Error::from)?;
                out.write_all(b"\n")?;
            }
            Sink::Csv(w) => w.serialize(row)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<(), ToolError> {
        match self {
            Sink::Jsonl(out) => out.flush()?,
            Sink::Csv(mut w) => w.flush()?,
        }
        Ok(())
    }
}

pub fn run(
    source: &dyn LogSource,
    filter: &Filter,
    args: &ExportArgs,
    tz: Tz,
    show_progress: bool,
    stdout: &mut dyn Write,
) -> Result<Verdict, ToolError> {
    let head = source.head()?;
    let mut file = match &args.out {
        Some(path) => Some(BufWriter::new(File::create(path).map_err(|e| {
            ToolError::Environment(format!("--out {}: cannot create: {e}", path.display()))
        })?)),
        None => None,
    };
    let out: &mut dyn Write = match file.as_mut() {
        Some(f) => f,
        None => stdout,
    };
    let last = filter.to_position.min(head);
    let len = last.saturating_add(1).saturating_sub(filter.from_position);
    let bar = progress::bar(show_progress, len, "exporting");
    let mut sink = Sink::new(args.format, out)?;
    let walked = for_each_record(source, filter.from_position, last, &mut |r| {
        if filter.keeps(r) {
            sink.write(r, tz)?;
        }
        bar.set_position(
            r.position
                .saturating_add(1)
                .saturating_sub(filter.from_position),
        );
        Ok(())
    });
    bar.finish_and_clear();
    if let Err(e) = walked {
        return Err(match (&args.out, e) {
            (Some(path), ToolError::Finding(m)) => {
                ToolError::Finding(format!("{m} ({} is incomplete)", path.display()))
            }
            (_, e) => e,
        });
    }
    sink.finish()?;
    Ok(Verdict::Clean)
}
