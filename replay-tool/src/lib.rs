//! `replay-tool`: auditors' and analysts' command line over a Marketlog event log.
//!
//! Codemap: [`cli`] parses flags; [`source`] is the one way commands read the log
//! ([`LogSource`](source::LogSource)), with [`offline`] reading a private copy of a data dir;
//! [`verify`], [`stats`] and [`export`] are the commands; [`time`], [`progress`] and
//! [`codec`] are what they share; [`error`] maps every failure to an exit status.
//!
//! Architecture invariant: the tool never appends to the log and never changes a byte of
//! the data dir; commands see records only through `LogSource`, so an online source can be
//! added without touching them.

pub mod cli;
pub mod codec;
pub mod error;
pub mod export;
pub mod offline;
pub mod progress;
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
    match &cli.command {
        Command::Verify => verify::run(open_source(g), show_progress, out),
        Command::Stats(args) => {
            let source = open_source(g)?;
            stats::run(source.as_ref(), args, g.timezone, show_progress, out)
        }
        Command::Export(args) => {
            let filter = export::Filter::from_args(args)?;
            let source = open_source(g)?;
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

/// The one place that decides where records come from.
fn open_source(g: &GlobalArgs) -> Result<Box<dyn LogSource>, SourceError> {
    if g.url.is_some() {
        return Err(SourceError::Unavailable(
            "online mode is not available yet".into(),
        ));
    }
    Ok(Box::new(OfflineSource::open(&g.data)?))
}
