//! Command line of `marketlog` (API.md §0). Every option is also an environment variable
//! `MARKETLOG_<NAME>`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use domain::Timestamp;

use crate::listener::{self, HttpLimits};
use crate::serve::{recover_admin, serve, ServeError, ServeOptions};

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
    /// Seed an empty data dir with a demo marketplace through the normal command path
    /// (simulated weeks of trade ending before now), then print tokens and commands to try.
    Demo(DemoArgs),
    /// Operator actions on a stopped server's data dir.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a new platform admin on a store whose admins are lost or revoked (server
    /// stopped). Appends `PrincipalCreated` by actor `system` through the normal command path
    /// and prints the new token once on stdout; only its hash is stored.
    Recover(RecoverArgs),
}

#[derive(Debug, clap::Args)]
pub struct RecoverArgs {
    /// Data directory of the stopped server.
    #[arg(long, env = "MARKETLOG_DATA", default_value = "./data")]
    pub data: PathBuf,
    /// Marketplace time zone.
    #[arg(long, env = "MARKETLOG_TIMEZONE", default_value = "Asia/Shanghai")]
    pub timezone: chrono_tz::Tz,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Data directory to seed; it must have no events yet.
    #[arg(long, env = "MARKETLOG_DATA", default_value = "./data")]
    pub data: PathBuf,
    /// Orders to place over the simulated weeks.
    #[arg(long, default_value_t = 3000)]
    pub orders: u32,
    /// Weeks of business, ending before now.
    #[arg(long, default_value_t = 6)]
    pub weeks: u32,
    /// Seed of every choice: the same seed makes the same marketplace (ids and tokens aside).
    #[arg(long, default_value_t = 19)]
    pub seed: u64,
    /// Marketplace time zone (business dates, output times).
    #[arg(long, env = "MARKETLOG_TIMEZONE", default_value = "Asia/Shanghai")]
    pub timezone: chrono_tz::Tz,
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
    /// Token of the first platform admin of an EMPTY store (else one is generated and printed
    /// once). Ignored, with a warning, on a store that has principals: use `admin recover`.
    #[arg(long, env = "MARKETLOG_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Milliseconds a client has to send complete request headers; then the connection is
    /// closed. Also bounds the wait for the next request on a keep-alive connection.
    #[arg(long, env = "MARKETLOG_HEADER_READ_TIMEOUT_MS", default_value_t = listener::HEADER_READ_TIMEOUT_MS_DEFAULT)]
    pub header_read_timeout_ms: u64,
    /// Milliseconds a client has to send a whole request body once its headers arrived; then
    /// 408 `request_timeout` and the connection is closed.
    #[arg(long, env = "MARKETLOG_BODY_READ_TIMEOUT_MS", default_value_t = listener::BODY_READ_TIMEOUT_MS_DEFAULT)]
    pub body_read_timeout_ms: u64,
    /// Milliseconds a keep-alive connection may stay open with no request in flight.
    #[arg(long, env = "MARKETLOG_KEEPALIVE_IDLE_TIMEOUT_MS", default_value_t = listener::KEEPALIVE_IDLE_TIMEOUT_MS_DEFAULT)]
    pub keepalive_idle_timeout_ms: u64,
    /// Connections served at once; more wait in the accept backlog.
    #[arg(long, env = "MARKETLOG_CONNECTIONS_MAX", default_value_t = listener::CONNECTIONS_MAX_DEFAULT, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub connections_max: u64,
    /// Milliseconds from SIGTERM/SIGINT to exit: in-flight requests finish until then; the
    /// connections still open (bodies not fully sent, SSE streams) are then dropped.
    #[arg(long, env = "MARKETLOG_SHUTDOWN_DEADLINE_MS", default_value_t = listener::SHUTDOWN_DEADLINE_MS_DEFAULT)]
    pub shutdown_deadline_ms: u64,
    /// Log format on stderr.
    #[arg(long, env = "MARKETLOG_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

fn init_tracing(format: &str) {
    init_tracing_with(format, "info,sled=warn,tower_http=info");
}

/// Tracing on stderr; `RUST_LOG` overrides `default_filter`.
fn init_tracing_with(format: &str, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
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
            let data_dir = args.data.clone();
            let opts = ServeOptions {
                data_dir: args.data,
                listen: args.listen,
                tz: args.timezone,
                simulated_start,
                admin_token: args.admin_token,
                limits: HttpLimits {
                    header_read_timeout_ms: args.header_read_timeout_ms,
                    body_read_timeout_ms: args.body_read_timeout_ms,
                    keepalive_idle_timeout_ms: args.keepalive_idle_timeout_ms,
                    connections_max: usize::try_from(args.connections_max).unwrap_or(usize::MAX),
                    shutdown_deadline_ms: args.shutdown_deadline_ms,
                },
            };
            run(&data_dir, serve(opts)).map_or_else(|code| code, |()| ExitCode::SUCCESS)
        }
        Command::Demo(args) => {
            // Only warnings: the demo's own requests are not worth a line each.
            init_tracing_with("text", "warn");
            let opts = crate::demo::DemoOptions {
                data_dir: args.data,
                orders: args.orders,
                weeks: args.weeks,
                seed: args.seed,
                tz: args.timezone,
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("marketlog demo: cannot start the runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            match runtime.block_on(crate::demo::demo(opts)) {
                Ok(summary) => {
                    print!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("marketlog demo: {e}");
                    ExitCode::from(e.exit_code())
                }
            }
        }
        Command::Admin(AdminCommand::Recover(args)) => {
            init_tracing("text");
            run(&args.data.clone(), recover_admin(args.data, args.timezone)).map_or_else(
                |code| code,
                |(id, token)| {
                    println!("recovered platform admin {id}");
                    println!("token (shown once, only its hash is stored): {token}");
                    ExitCode::SUCCESS
                },
            )
        }
    }
}

/// Runs `work` on a multi-threaded runtime; a failure is printed and mapped to the exit code
/// (2: the data dir is in use by another process, 1: any other failure).
fn run<T>(
    data_dir: &std::path::Path,
    work: impl std::future::Future<Output = Result<T, ServeError>>,
) -> Result<T, ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("marketlog: cannot start the runtime: {e}");
            ExitCode::from(1)
        })?;
    // A write past a file size limit (`ulimit -f`) raises SIGXFSZ, whose default action
    // kills the process without a word. With a handler installed (tokio keeps it for the
    // process's life) the write fails with EFBIG instead: an i/o error the log turns into 503
    // and a clean exit, as for a full disk.
    #[cfg(unix)]
    let _file_size_signal = runtime
        .block_on(async {
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ))
        })
        .map_err(|e| {
            eprintln!("marketlog: cannot install the SIGXFSZ handler: {e}");
            ExitCode::from(1)
        })?;
    runtime.block_on(work).map_err(|e| {
        // One line, no backtrace: a damaged store is reported in words (the panic sled may
        // raise on damaged files is caught where the log is opened), and the line names the
        // data dir to check.
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
    })
}
