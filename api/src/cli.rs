//! Command line of `marketlog` (API.md §0). Every option is also an environment variable
//! `MARKETLOG_<NAME>`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use domain::Timestamp;

use crate::serve::{serve, ServeError, ServeOptions};

#[derive(Debug, Parser)]
#[command(
    name = "marketlog",
    version,
    about = "Marketlog: event-sourced back office of a cloud marketplace"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Data directory (event log, checkpoints, files).
    #[arg(long, env = "MARKETLOG_DATA", default_value = "./data")]
    pub data: PathBuf,
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, env = "MARKETLOG_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Marketplace time zone (business dates, output times).
    #[arg(long, env = "MARKETLOG_TIMEZONE", default_value = "Asia/Shanghai")]
    pub timezone: chrono_tz::Tz,
    /// Test/demo mode: a clock that stands still between `POST /v1/admin/clock/advance`.
    /// Optional RFC 3339 start (default: now); on a data dir with events the clock resumes
    /// from the later of the start and the last recorded time.
    #[arg(long, env = "MARKETLOG_SIMULATED_CLOCK", num_args = 0..=1, default_missing_value = "now", value_name = "RFC3339")]
    pub simulated_clock: Option<String>,
    /// Token of the platform admin (else one is generated on an empty store and printed once).
    #[arg(long, env = "MARKETLOG_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Log format on stderr.
    #[arg(long, env = "MARKETLOG_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sled=warn,tower_http=info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if format == "json" {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            init_tracing(&args.log_format);
            let simulated_start = match args.simulated_clock.as_deref() {
                None => None,
                Some("now") => Some(domain::Clock::now(&domain::SystemClock)),
                Some(t) => match Timestamp::parse_rfc3339(t) {
                    Ok(ts) => Some(ts),
                    Err(e) => {
                        eprintln!("marketlog: --simulated-clock: {e}");
                        return ExitCode::from(2);
                    }
                },
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("marketlog: cannot start the runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            // A write past a file size limit (`ulimit -f`) raises SIGXFSZ, whose default action
            // kills the process without a word. With a handler installed (tokio keeps it for
            // the process's life) the write fails with EFBIG instead: an i/o error the log
            // turns into 503 and a clean exit, as for a full disk.
            #[cfg(unix)]
            let _file_size_signal = match runtime.block_on(async {
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(
                    libc::SIGXFSZ,
                ))
            }) {
                Ok(signal) => signal,
                Err(e) => {
                    eprintln!("marketlog: cannot install the SIGXFSZ handler: {e}");
                    return ExitCode::from(1);
                }
            };
            let data_dir = args.data.clone();
            let opts = ServeOptions {
                data_dir: args.data,
                listen: args.listen,
                tz: args.timezone,
                simulated_start,
                admin_token: args.admin_token,
            };
            match runtime.block_on(serve(opts)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    // One line, no backtrace: a damaged store is reported in words (the panic
                    // sled may raise on damaged files is caught where the log is opened), and
                    // the line names the data dir to check.
                    let mut line = e.to_string();
                    let dir = data_dir.display().to_string();
                    if line.contains("replay-tool verify") && !line.contains(&dir) {
                        line.push_str(&format!(" (`replay-tool verify --data {dir}`)"));
                    }
                    eprintln!("marketlog: {line}");
                    match e {
                        ServeError::Log(eventlog::LogError::InUse(_)) => ExitCode::from(2),
                        _ => ExitCode::from(1),
                    }
                }
            }
        }
    }
}
