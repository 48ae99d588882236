//! `replay-tool`: auditors' and analysts' command line over a Marketlog event log.
//!
//! Codemap: [`cli`] parses flags; [`source`] is the one way commands read the log
//! ([`LogSource`](source::LogSource)), with [`offline`] reading a private copy of a data dir
//! and [`online`] a running server's `GET /v1/events?include=raw` and
//! `GET /v1/streams/{id}?include=raw`; [`verify`], [`stats`], [`export`] and [`history`] are
//! the reading commands; [`rebuild`] rebuilds read models (offline on the real data dir,
//! online through the server); [`time`], [`progress`] and [`codec`] are what they share;
//! [`error`] maps every failure to an exit status.
//!
//! Architecture invariant: the tool never appends to the log, and no command but `rebuild`
//! changes a byte of the data dir (`rebuild` writes only `views/<name>.snap` and what opening
//! the log does); reading commands see records only through `LogSource`, so they print the
//! same whichever source they read (the one difference: the log size `stats` can tell).

pub mod cli;
pub mod codec;
pub mod error;
pub mod export;
pub mod history;
pub mod offline;
pub mod online;
pub mod progress;
pub mod rebuild;
pub mod source;
pub mod stats;
pub mod time;
pub mod verify;

use std::ffi::OsString;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::error::{ToolError, EXIT_FINDING, EXIT_OK, EXIT_USAGE};
use crate::offline::OfflineSource;
use crate::online::{OnlineSource, OnlineTarget};
use crate::source::{LogSource, SourceError};

/// What a command found, when it ran to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing wrong: exit 0.
    Clean,
    /// Something wrong with the log, already reported on stdout: exit 1.
    Finding,
}

/// Runs the tool with the given command line (program name first); returns the exit status.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE));
        }
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = execute(&cli, &mut out).and_then(|verdict| {
        out.flush()?;
        Ok(verdict)
    });
    match result {
        Ok(Verdict::Clean) => ExitCode::from(EXIT_OK),
        Ok(Verdict::Finding) => ExitCode::from(EXIT_FINDING),
        Err(e) => {
            let _ = out.flush();
            if e.is_reported() {
                let _ = writeln!(std::io::stderr(), "replay-tool: {e}");
            }
            e.exit_code()
        }
    }
}

/// Runs one parsed command, writing its report to `out`.
pub fn execute(cli: &Cli, out: &mut dyn Write) -> Result<Verdict, ToolError> {
    let g = &cli.global;
    let show_progress = !g.no_progress;
    let at = Location::of(g)?;
    match &cli.command {
        Command::Verify(args) => verify::run(at.open(), args, show_progress, out),
        Command::Stats(args) => {
            let source = at.open()?;
            stats::run(source.as_ref(), args, g.timezone, show_progress, out)
        }
        Command::History(args) => {
            let source = at.open().map_err(history::reported)?;
            history::run(source.as_ref(), args, g.timezone, show_progress, out)
        }
        Command::Rebuild(args) => match &at {
            Location::Offline(dir) => {
                rebuild::run_offline(dir, &args.names(), args.check, show_progress, out)
            }
            Location::Online(_) if args.check => {
                Err(ToolError::Usage(rebuild::CHECK_IS_OFFLINE_ONLY.into()))
            }
            Location::Online(target) => {
                rebuild::run_online(target, &args.names(), show_progress, out)
            }
        },
        Command::Export(args) => {
            let filter = export::Filter::from_args(args)?;
            let source = at.open()?;
            export::run(
                source.as_ref(),
                &filter,
                args,
                g.timezone,
                show_progress,
                out,
            )
        }
    }
}

/// Where records come from: the one place that decides.
#[derive(Debug)]
enum Location<'a> {
    /// `--data DIR`.
    Offline(&'a std::path::Path),
    /// `--url URL --token T` (`--data` is then ignored).
    Online(OnlineTarget),
}

impl<'a> Location<'a> {
    /// Checks the flags that pick the source (before anything is opened or written).
    fn of(g: &'a GlobalArgs) -> Result<Location<'a>, ToolError> {
        match g.url.as_deref() {
            None => Ok(Location::Offline(&g.data)),
            Some(url) => Ok(Location::Online(OnlineTarget::parse(
                url,
                g.token.as_deref(),
            )?)),
        }
    }

    fn open(&self) -> Result<Box<dyn LogSource>, SourceError> {
        Ok(match self {
            Location::Offline(dir) => Box::new(OfflineSource::open(dir)?),
            Location::Online(target) => Box::new(OnlineSource::open(target)?),
        })
    }
}
