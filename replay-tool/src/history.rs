//! `replay-tool history`: one stream replayed for an auditor. Every event with its position,
//! version, time, type, schema, actor, correlation and causation ids and data, followed by
//! the aggregate's state after it; then the state as of the chosen point (`--to-version N`
//! inclusive, or `--as-of T`: the events recorded at or before T).
//!
//! The state is folded by [`domain::history::replay`], i.e. by the aggregate's own `evolve`;
//! records come only through [`LogSource`], so offline and online print the same bytes.
//! With `--diff` each event shows only what it changed in the state: RFC 6902 JSON Patch
//! operations (`json_patch::diff` of the state before and after), with the old value of
//! what was replaced or removed in text.
//!
//! Which stream an id names ([`resolve`]): an id of a kind an aggregate is keyed by
//! (`domain::registry::AGGREGATES`, e.g. `ord_`, `dlv_`, `cpc_`, `tpl_`, `stf_`) is that
//! aggregate's stream; an id of another kind (a refund `rfd_`, a coupon `cpn_`, an invoice,
//! a review, …) is held by the stream of the first event, in log order, whose data names it
//! as a top-level value (a refund: its order's `RefundRequested`; a coupon: its owner's
//! wallet's `CouponGranted`), found by one walk over the log; anything else is a stream id.
//!
//! Invariant: the events shown are a prefix of the stream, versions 1, 2, … without a gap,
//! so the state after each is exactly the aggregate's state at that version.

use std::io::Write;

use chrono_tz::Tz;
use domain::history::{initial_state, replay, stream_for, StoredEvent};
use domain::ids::IdKind;
use domain::registry::{aggregate_of, AGGREGATES};
use eventlog::Record;
use json_patch::{Patch, PatchOperation};
use serde::Serialize;
use serde_json::Value;

use crate::cli::HistoryArgs;
use crate::codec::decode_data;
use crate::error::ToolError;
use crate::progress;
use crate::source::{LogSource, SourceError, READ_CHUNK_RECORDS};
use crate::time::format_micros;
use crate::Verdict;

/// Where the replay stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The whole stream.
    End,
    /// Up to and including this version.
    Version(u64),
    /// The events recorded at or before this time (microseconds since the epoch).
    Time(i64),
}

impl Cut {
    pub fn of(args: &HistoryArgs) -> Cut {
        match (args.to_version, args.as_of) {
            (Some(v), _) => Cut::Version(v),
            (None, Some(t)) => Cut::Time(t),
            (None, None) => Cut::End,
        }
    }

    fn keeps(self, r: &Record) -> bool {
        match self {
            Cut::End => true,
            Cut::Version(v) => r.version <= v,
            Cut::Time(t) => r.recorded_at_micros <= t,
        }
    }
}

/// A source error as history reports it: a damaged record names its position plainly.
pub(crate) fn reported(e: SourceError) -> ToolError {
    match e {
        corrupt @ SourceError::Corrupt { .. } => ToolError::Finding(corrupt.to_string()),
        other => other.into(),
    }
}

/// The stream `id` names (see the module doc). An id of a kind no aggregate is keyed by
/// that no event names is a usage error (exit 2).
pub fn resolve(source: &dyn LogSource, id: &str, show_progress: bool) -> Result<String, ToolError> {
    let Some(kind) = IdKind::of(id) else {
        return Ok(stream_for(id));
    };
    if AGGREGATES.iter().any(|a| a.id_kinds.contains(&kind)) {
        return Ok(stream_for(id));
    }
    let head = source.head().map_err(reported)?;
    let bar = progress::bar(show_progress, head, &format!("finding {id}"));
    let found = holder(source, id, head, &mut |position| bar.set_position(position));
    bar.finish_and_clear();
    found?.ok_or_else(|| {
        ToolError::Usage(format!(
            "no stream holds {} {id}: no event names it",
            format!("{kind:?}").to_lowercase()
        ))
    })
}

/// The stream of the first record (positions `1..=head`) of a registered aggregate whose
/// data names `id` as a top-level value. Only payloads holding the id's bytes are decoded
/// (bincode stores a string as its length and its bytes).
fn holder(
    source: &dyn LogSource,
    id: &str,
    head: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<String>, ToolError> {
    let needle = id.as_bytes();
    let mut next = 1u64;
    while next <= head {
        let chunk = source
            .read_from(next, READ_CHUNK_RECORDS)
            .map_err(reported)?;
        let Some(last) = chunk.last().map(|r| r.position) else {
            break;
        };
        for r in chunk.iter().take_while(|r| r.position <= head) {
            let names_it = r.payload.windows(needle.len()).any(|w| w == needle)
                && aggregate_of(&r.stream_id).is_some()
                && decode_data(&r.event_type, r.schema_version, &r.payload)
                    .as_ref()
                    .and_then(Value::as_object)
                    .is_some_and(|data| data.values().any(|v| v.as_str() == Some(id)));
            if names_it {
                return Ok(Some(r.stream_id.clone()));
            }
        }
        progress(last);
        if last < next {
            return Err(ToolError::Finding(format!(
                "corrupt record at position {next}: the log answered position {last} when asked from {next}"
            )));
        }
        next = last + 1;
    }
    Ok(None)
}

/// The stream's records up to the cut, in version order. `Ok(None)`: the stream has no
/// records at all.
pub fn read(
    source: &dyn LogSource,
    stream_id: &str,
    cut: Cut,
) -> Result<Option<Vec<Record>>, ToolError> {
    let mut kept: Vec<Record> = Vec::new();
    let mut next = 1u64;
    loop {
        // A version cut (≥ 1) reads no record past it; a time cut cannot know where it
        // falls before reading.
        let limit = match cut {
            Cut::Version(v) => usize::try_from(v.saturating_add(1).saturating_sub(next))
                .map_or(READ_CHUNK_RECORDS, |n| n.min(READ_CHUNK_RECORDS)),
            Cut::End | Cut::Time(_) => READ_CHUNK_RECORDS,
        };
        if limit == 0 {
            break;
        }
        let chunk = source
            .read_stream(stream_id, next, limit)
            .map_err(reported)?;
        if chunk.is_empty() {
            break;
        }
        for r in chunk {
            if r.stream_id != stream_id || r.version != next {
                return Err(ToolError::Finding(format!(
                    "corrupt record at position {}: the log answered {}@{} when asked for {stream_id}@{next}",
                    r.position, r.stream_id, r.version
                )));
            }
            if let Some(before) = kept.last().filter(|b| b.position >= r.position) {
                return Err(ToolError::Finding(format!(
                    "corrupt record at position {}: {stream_id}@{next} is not after version {} at position {}",
                    r.position, before.version, before.position
                )));
            }
            if !cut.keeps(&r) {
                // The stream exists; what is kept may be empty (nothing before the cut).
                return Ok(Some(kept));
            }
            kept.push(r);
            next += 1;
        }
    }
    Ok((next > 1).then_some(kept))
}

/// One event and the state after it.
#[derive(Debug, Serialize)]
struct EventJson<'a> {
    position: u64,
    version: u64,
    #[serde(rename = "type")]
    event_type: &'a str,
    schema: u16,
    at: String,
    actor: &'a str,
    correlation_id: &'a str,
    causation_id: &'a str,
    data: Value,
    /// The state after the event (without `--diff`).
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<Value>,
    /// What the event changed in the state, as JSON Patch operations (with `--diff`).
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<Patch>,
}

/// The point the final state is as of.
#[derive(Debug, Serialize)]
struct AsOf {
    /// The last version folded (0 when no event is before the cut).
    version: u64,
    /// `--as-of`, in `--timezone`; null otherwise.
    time: Option<String>,
}

#[derive(Debug, Serialize)]
struct HistoryJson<'a> {
    stream_id: &'a str,
    as_of: AsOf,
    events: Vec<EventJson<'a>>,
    state: Value,
}

/// Data and state after each of `records`: folded by the owning aggregate, or for a kind no
/// aggregate owns the data as the event registry decodes it (null if it cannot) and no state.
fn steps(stream_id: &str, records: &[Record]) -> Result<Vec<(Value, Value)>, ToolError> {
    let events: Vec<StoredEvent<'_>> = records
        .iter()
        .map(|r| StoredEvent {
            event_type: &r.event_type,
            schema_version: r.schema_version,
            payload: &r.payload,
        })
        .collect();
    match replay(stream_id, &events) {
        None => Ok(records
            .iter()
            .map(|r| {
                let data = decode_data(&r.event_type, r.schema_version, &r.payload);
                (data.unwrap_or(Value::Null), Value::Null)
            })
            .collect()),
        Some(Ok(steps)) => Ok(steps.into_iter().map(|s| (s.data, s.state)).collect()),
        Some(Err(e)) => {
            // The fold names no event; the shortest failing prefix does (replaying a prefix
            // is deterministic, and a prefix of a good prefix is good).
            let (mut good, mut bad) = (0, events.len());
            while bad - good > 1 {
                let mid = good + (bad - good) / 2;
                match replay(stream_id, &events[..mid]) {
                    Some(Ok(_)) => good = mid,
                    _ => bad = mid,
                }
            }
            let r = &records[bad - 1];
            Err(ToolError::Finding(format!(
                "cannot replay the event at position {} ({} v{} of {stream_id}@{}): {e}",
                r.position, r.event_type, r.schema_version, r.version
            )))
        }
    }
}

/// What each step changed: the JSON Patch from the state before it (the aggregate's initial
/// state for the first event; null for a kind no aggregate owns) to the state after it.
fn diffs(stream_id: &str, steps: &[(Value, Value)]) -> Vec<Patch> {
    let mut before = initial_state(stream_id).unwrap_or(Value::Null);
    steps
        .iter()
        .map(|(_, after)| {
            let patch = json_patch::diff(&before, after);
            before = after.clone();
            patch
        })
        .collect()
}

/// `patch` as text lines, one per operation, with the old value of what it replaces or
/// removes: `+ /path: new`, `~ /path: old -> new`, `- /path: old`; `no change` when empty.
fn diff_lines(before: &Value, patch: &Patch) -> Result<Vec<String>, ToolError> {
    if patch.is_empty() {
        return Ok(vec!["no change".into()]);
    }
    // Operations apply one after the other (an array's removals shift the later indices),
    // so each old value is read from the state as the operations before it left it.
    let mut doc = before.clone();
    let mut lines = Vec::with_capacity(patch.len());
    for op in patch.iter() {
        let path = |p: &str| {
            if p.is_empty() {
                "/".to_string()
            } else {
                p.to_string()
            }
        };
        let old = |p: &str| doc.pointer(p).cloned().unwrap_or(Value::Null);
        lines.push(match op {
            PatchOperation::Add(a) => {
                format!("+ {}: {}", path(a.path.as_str()), compact(&a.value)?)
            }
            PatchOperation::Replace(r) => format!(
                "~ {}: {} -> {}",
                path(r.path.as_str()),
                compact(&old(r.path.as_str()))?,
                compact(&r.value)?
            ),
            PatchOperation::Remove(r) => format!(
                "- {}: {}",
                path(r.path.as_str()),
                compact(&old(r.path.as_str()))?
            ),
            // `diff` writes only the three above; shown as the operation itself otherwise.
            other => compact(&serde_json::to_value(other).unwrap_or(Value::Null))?,
        });
        json_patch::patch(&mut doc, std::slice::from_ref(op)).map_err(|e| {
            ToolError::Finding(format!("a state diff does not apply to its own state: {e}"))
        })?;
    }
    Ok(lines)
}

fn or_dash(id: &str) -> &str {
    if id.is_empty() {
        "-"
    } else {
        id
    }
}

fn compact(v: &Value) -> Result<String, ToolError> {
    serde_json::to_string(v).map_err(|e| ToolError::Output(std::io::Error::from(e)))
}

pub fn run(
    source: &dyn LogSource,
    args: &HistoryArgs,
    tz: Tz,
    show_progress: bool,
    out: &mut dyn Write,
) -> Result<Verdict, ToolError> {
    let stream_id = resolve(source, &args.id, show_progress)?;
    let cut = Cut::of(args);
    let Some(records) = read(source, &stream_id, cut)? else {
        return Err(ToolError::Usage(format!("no stream {stream_id}")));
    };
    let steps = steps(&stream_id, &records)?;
    let patches = if args.diff {
        diffs(&stream_id, &steps).into_iter().map(Some).collect()
    } else {
        vec![None; steps.len()]
    };
    let last_version = records.last().map_or(0, |r| r.version);
    let final_state = steps.last().map_or(Value::Null, |(_, s)| s.clone());
    let as_of_time = match cut {
        Cut::Time(t) => Some(format_micros(t, tz)),
        Cut::End | Cut::Version(_) => None,
    };
    if args.json {
        let json = HistoryJson {
            stream_id: &stream_id,
            as_of: AsOf {
                version: last_version,
                time: as_of_time,
            },
            events: records
                .iter()
                .zip(steps)
                .zip(patches)
                .map(|((r, (data, state)), diff)| EventJson {
                    position: r.position,
                    version: r.version,
                    event_type: &r.event_type,
                    schema: r.schema_version,
                    at: format_micros(r.recorded_at_micros, tz),
                    actor: &r.actor,
                    correlation_id: &r.correlation_id,
                    causation_id: &r.causation_id,
                    data,
                    state: diff.is_none().then_some(state),
                    diff,
                })
                .collect(),
            state: final_state,
        };
        serde_json::to_writer(&mut *out, &json).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(Verdict::Clean);
    }
    let mut before = initial_state(&stream_id).unwrap_or(Value::Null);
    for ((r, (data, state)), diff) in records.iter().zip(&steps).zip(&patches) {
        writeln!(
            out,
            "#{} @{} {} {} v{} by {} (correlation {}, causation {})",
            r.version,
            r.position,
            format_micros(r.recorded_at_micros, tz),
            r.event_type,
            r.schema_version,
            or_dash(&r.actor),
            or_dash(&r.correlation_id),
            or_dash(&r.causation_id),
        )?;
        writeln!(out, "  data: {}", compact(data)?)?;
        match diff {
            None => writeln!(out, "  state: {}", compact(state)?)?,
            Some(patch) => {
                for line in diff_lines(&before, patch)? {
                    writeln!(out, "  {line}")?;
                }
            }
        }
        before = state.clone();
    }
    let point = as_of_time.unwrap_or_else(|| format!("version {last_version}"));
    let pretty = serde_json::to_string_pretty(&final_state)
        .map_err(|e| ToolError::Output(std::io::Error::from(e)))?;
    writeln!(out, "state as of {point}: {pretty}")?;
    Ok(Verdict::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tests::{record, MemorySource};

    fn source() -> MemorySource {
        let mut records = vec![
            record(1, "legacy-lgc_1", 1, "LegacyOpened"),
            record(2, "order-ord_1", 1, "OrderPlaced"),
            record(3, "legacy-lgc_1", 2, "LegacyNoted"),
            record(4, "legacy-lgc_1", 3, "LegacyNoted"),
        ];
        records[3].correlation_id = "cor_4".into();
        MemorySource { records, step: 2 }
    }

    fn text(args: &[&str]) -> Result<String, ToolError> {
        use clap::Parser;
        let mut full = vec!["replay-tool", "history"];
        full.extend_from_slice(args);
        let cli = crate::cli::Cli::try_parse_from(full).unwrap();
        let crate::cli::Command::History(args) = &cli.command else {
            panic!("not history")
        };
        let mut out = Vec::new();
        run(&source(), args, chrono_tz::UTC, false, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn cuts_are_prefixes_of_the_stream() {
        let s = source();
        let all = read(&s, "legacy-lgc_1", Cut::End).unwrap().unwrap();
        assert_eq!(
            all.iter().map(|r| r.position).collect::<Vec<_>>(),
            [1, 3, 4]
        );
        let two = read(&s, "legacy-lgc_1", Cut::Version(2)).unwrap().unwrap();
        assert_eq!(two.len(), 2);
        let at = read(&s, "legacy-lgc_1", Cut::Time(3_000_000))
            .unwrap()
            .unwrap();
        assert_eq!(at.len(), 2);
        let before = read(&s, "legacy-lgc_1", Cut::Time(0)).unwrap().unwrap();
        assert!(
            before.is_empty(),
            "the stream exists, nothing before the cut"
        );
        assert!(read(&s, "legacy-lgc_9", Cut::End).unwrap().is_none());
    }

    #[test]
    fn unowned_kinds_show_events_without_state() {
        let shown = text(&["legacy-lgc_1", "--to-version", "3"]).unwrap();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(
            lines[0],
            "#1 @1 1970-01-01T00:00:01+00:00 LegacyOpened v1 by system (correlation -, causation -)"
        );
        assert_eq!(lines[1], "  data: null");
        assert_eq!(lines[2], "  state: null");
        assert_eq!(
            lines[6],
            "#3 @4 1970-01-01T00:00:04+00:00 LegacyNoted v1 by system (correlation cor_4, causation -)"
        );
        assert_eq!(lines[9], "state as of version 3: null");
        let e = text(&["legacy-lgc_9"]).unwrap_err();
        assert!(matches!(e, ToolError::Usage(ref m) if m == "no stream legacy-lgc_9"));
    }

    #[test]
    fn an_undecodable_event_of_an_owned_stream_is_named() {
        let e = text(&["ord_1"]).unwrap_err();
        match e {
            ToolError::Finding(m) => assert!(
                m.starts_with(
                    "cannot replay the event at position 2 (OrderPlaced v1 of order-ord_1@1): "
                ),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
    }
}
