//! The command line: global flags and one subcommand per job. clap reports its own usage
//! errors (exit 2); checks that span several flags live in the commands.

use std::path::PathBuf;

use chrono_tz::Tz;
use clap::builder::PossibleValuesParser;
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use projections::registry::names;

use crate::time::{parse_rfc3339_micros, parse_timezone};

/// Auditors' and analysts' tool for a Marketlog event log.
///
/// Reads either a stopped server's data dir (--data DIR, through a private copy) or a running
/// server (--url URL --token T, over GET /v1/events and /v1/streams/{id} with include=raw);
/// the commands print the same either way. Online, every record is decoded and checked from
/// the stored bytes the server sends, never from its JSON. What differs online: `verify` has
/// no head anchor or stream index to check and skips those two checks, and `stats` reports
/// the log size as the sum of the stored record bytes (the server's disk is not visible over
/// HTTP). `rebuild` is the one command that writes: offline it stores read-model checkpoints
/// in the data dir itself, online it asks the server to rebuild.
///
/// Exit status: 0 ok, 1 a finding (corruption, mismatch, a failed rebuild, a server failing
/// with 5xx), 2 usage or environment error (missing or busy data dir, server unreachable,
/// token refused, unknown stream or projection).
#[derive(Debug, Parser)]
#[command(name = "replay-tool", version, subcommand_required = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command understands.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Data directory of a stopped server (read through a private copy, never changed;
    /// only `rebuild` opens it in place to store checkpoints); ignored with --url.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./data",
        env = "MARKETLOG_DATA",
        global = true
    )]
    pub data: PathBuf,
    /// Read from a running server (e.g. http://127.0.0.1:8080) instead of a data dir.
    ///
    /// Pages of GET /v1/events?include=raw (and /v1/streams/{id}?include=raw for history);
    /// each record is decoded from its stored bytes. Plain http:// only. The log is read as
    /// of the head /v1/health reports at the start.
    #[arg(long, value_name = "URL", env = "MARKETLOG_URL", global = true)]
    pub url: Option<String>,
    /// Bearer token for --url (a platform, auditor or analyst principal; history needs
    /// platform or auditor, rebuild platform or analyst).
    #[arg(
        long,
        value_name = "T",
        env = "MARKETLOG_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,
    /// Time zone that times are printed in (IANA name).
    #[arg(
        long,
        value_name = "TZ",
        default_value = "Asia/Shanghai",
        value_parser = parse_timezone,
        env = "MARKETLOG_TIMEZONE",
        global = true
    )]
    pub timezone: Tz,
    /// Never draw a progress bar (none is drawn when stderr is not a terminal either).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check checksums, the hash chain, gap-free positions and stream versions, the stream
    /// index and the head anchor; print the first bad position, if any, else the chain head
    /// (the last record's position and chain hash, which an auditor can pin).
    ///
    /// Online (--url) the checksums, the chain, positions and stream versions are checked
    /// from the stored bytes the server sends; there is no head anchor online and the stream
    /// index is not served, so those two checks are skipped.
    Verify(VerifyArgs),
    /// Events per type, streams per kind, log size, first and last time.
    ///
    /// Offline the log size is the bytes the log and the file store take on disk. Online
    /// (--url) it is the sum of the stored record bytes (body, crc32c and chain of each
    /// record), printed as "log size: N bytes of records (online)"; --json keeps the key
    /// log_size_bytes for it.
    Stats(StatsArgs),
    /// Write events in position order as JSON lines or CSV.
    Export(ExportArgs),
    /// Replay one stream: every event (version, position, time, type, actor, correlation
    /// and causation ids, data) followed by the aggregate's state after it, then the state
    /// as of the chosen point (time travel).
    ///
    /// The state is folded with the aggregate's own rules (every aggregate of the domain's
    /// registry: order, delivery, campaign, template, staff, …), from the stored bytes; a
    /// stream kind no aggregate owns shows its events with `state: null`. With --diff each
    /// event shows only what it changed in the state.
    /// Online (--url) the stream is read from GET /v1/streams/{id}?include=raw and every
    /// record is decoded from its stored bytes, so the output is the same as offline.
    History(HistoryArgs),
    /// Rebuild read models from the log (offline: stores each model's checkpoint,
    /// data/views/<name>.snap, swapped in atomically), or compare them with --check.
    ///
    /// This is the one command that changes the data dir; it opens the real data dir (not a
    /// copy), so a running server on it is refused ("data dir in use"). Online (--url) it
    /// asks the server for a blue/green rebuild of each model (POST
    /// /v1/projections/{name}/rebuild) and waits until each runs again; --check is offline
    /// only.
    Rebuild(RebuildArgs),
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// An id or a stream id. An id of a kind an aggregate is keyed by (ord_, dlv_, cpc_,
    /// tpl_, stf_, prd_, ins_, org_, principal and customer ids) names that aggregate's
    /// stream; an id of another kind (a refund rfd_, a coupon cpn_, an invoice, a review, …)
    /// names the stream holding it: the stream of the first event whose data names it (a
    /// refund's order, a coupon's wallet), found by reading the log from the start. Anything
    /// else is a stream id, such as stock-cpc_… or legacy-lgc_….
    #[arg(value_name = "ID|STREAM-ID")]
    pub id: String,
    /// Stop at the last event recorded at or before this time (RFC 3339 with offset).
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339_micros, conflicts_with = "to_version")]
    pub as_of: Option<i64>,
    /// Stop at this stream version (inclusive).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub to_version: Option<u64>,
    /// After each event show only what it changed in the state (paths added, removed and
    /// changed, old -> new) instead of the whole state; with --json, as RFC 6902 JSON Patch
    /// operations under "diff".
    #[arg(long)]
    pub diff: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("models").required(true).args(["projection", "all"])))]
pub struct RebuildArgs {
    /// The read model to rebuild.
    #[arg(long, value_name = "NAME", value_parser = PossibleValuesParser::new(names()))]
    pub projection: Option<String>,
    /// Rebuild every read model, in order.
    #[arg(long)]
    pub all: bool,
    /// Offline only: write nothing, rebuild in memory and compare with the stored
    /// checkpoint caught up to the head; exit 1 on any difference (or a missing checkpoint).
    #[arg(long)]
    pub check: bool,
}

impl RebuildArgs {
    /// The models asked for, in rebuild order.
    pub fn names(&self) -> Vec<&str> {
        match &self.projection {
            Some(name) if !self.all => vec![name.as_str()],
            _ => names(),
        }
    }
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// First position to export (inclusive).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub from_position: Option<u64>,
    /// Last position to export (inclusive).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub to_position: Option<u64>,
    /// Only events recorded at or after this time (RFC 3339 with offset).
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339_micros)]
    pub from: Option<i64>,
    /// Only events recorded before this time (RFC 3339 with offset; exclusive).
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339_micros)]
    pub to: Option<i64>,
    /// Only events of this type (repeat for several).
    #[arg(long = "type", value_name = "T")]
    pub types: Vec<String>,
    /// Only events of streams whose id starts with this prefix, e.g. order- or
    /// delivery-dlv_01 (repeat for several).
    #[arg(long = "stream", value_name = "PREFIX")]
    pub streams: Vec<String>,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Write to this file (created or truncated) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A header row, then one row per event.
    Csv,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
