//! `marketlog serve`: open the data dir, bootstrap the platform admin, serve HTTP, shut down
//! gracefully on SIGTERM / SIGINT (stop accepting, finish in-flight requests, checkpoint the
//! projections, close the log so the head anchor is written, exit 0).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use domain::ids::{new_secret_token, IdKind};
use domain::platform::{principal_stream, Principal, PrincipalCommand};
use domain::{Actor, Role, Timestamp};
use eventlog::LogError;

use crate::extract::token_sha256;
use crate::runner::CommandMeta;
use crate::state::{App, AppConfig};

/// How serve was asked to run.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub data_dir: PathBuf,
    pub listen: String,
    pub tz: chrono_tz::Tz,
    pub simulated_start: Option<Timestamp>,
    pub admin_token: Option<String>,
}

/// Why serve could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Log(#[from] LogError),
    #[error("cannot listen on {addr}: {error}")]
    Listen { addr: String, error: std::io::Error },
    #[error("{0}")]
    Startup(String),
}

/// Runs the server until a shutdown signal.
pub async fn serve(opts: ServeOptions) -> Result<(), ServeError> {
    let app = App::open(AppConfig {
        data_dir: opts.data_dir.clone(),
        tz: opts.tz,
        simulated_start: opts.simulated_start,
        metrics: crate::app::metrics_handle(),
    })?;
    app.exit_on_storage_failure();
    // Serve only once the directory (authentication) has caught up with the log.
    if !app
        .wait_all_quietly(app.store.head(), Duration::from_secs(30))
        .await
    {
        return Err(ServeError::Startup(
            "projections did not catch up with the log within 30 s".into(),
        ));
    }
    bootstrap_admin(&app, opts.admin_token.as_deref()).await?;
    crate::scheduler::spawn(app.clone());

    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .map_err(|error| ServeError::Listen {
            addr: opts.listen.clone(),
            error,
        })?;
    let addr: SocketAddr = listener.local_addr().map_err(|error| ServeError::Listen {
        addr: opts.listen.clone(),
        error,
    })?;
    // Signal handlers are installed before the address is announced, so a SIGTERM that
    // follows the announcement at once is a graceful stop, not the default kill.
    let shutdown = shutdown_signal()?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, data = %opts.data_dir.display(), simulated_clock = app.simulated.is_some(), "listening");

    let router = crate::app::router(app.clone());
    let signal_app = app.clone();
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; finishing in-flight requests");
            signal_app.shutdown.send_replace(true);
        })
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "server error");
    }
    for p in &app.projections {
        if let Err(e) = p.checkpoint() {
            tracing::warn!(projection = p.name(), error = %e, "final checkpoint failed");
        }
    }
    let log = app.log.clone();
    tokio::task::spawn_blocking(move || log.close())
        .await
        .map_err(|e| ServeError::Startup(format!("closing the log: {e}")))??;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Installs the SIGTERM / SIGINT handlers now and returns the future that completes on the
/// first of them.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, ServeError> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| ServeError::Startup(format!("cannot install the SIGTERM handler: {e}")))?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| ServeError::Startup(format!("cannot install the SIGINT handler: {e}")))?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Ensures a platform principal can log in: the one whose token is `MARKETLOG_ADMIN_TOKEN`,
/// or, when that is unset and no principal exists yet, a new one whose token is printed once
/// on stderr. Only the token's hash is stored.
pub async fn bootstrap_admin(app: &App, admin_token: Option<&str>) -> Result<(), ServeError> {
    let (token, announce) = match admin_token {
        Some(t) if t.trim().len() < 16 => {
            return Err(ServeError::Startup(
                "MARKETLOG_ADMIN_TOKEN must be at least 16 characters".into(),
            ))
        }
        Some(t) => (t.trim().to_owned(), false),
        None => {
            let (empty, _) = app.directory.read(|d| d.principals.is_empty());
            if !empty {
                return Ok(());
            }
            (new_secret_token(), true)
        }
    };
    let hash = token_sha256(&token);
    let (exists, _) = app
        .directory
        .read(|d| d.principal_by_token_hash(&hash).is_some());
    if exists {
        return Ok(());
    }
    let principal_id = app.ids.new_id(IdKind::Principal);
    let meta = CommandMeta {
        actor: Actor::System,
        correlation_id: app.ids.new_id(IdKind::Correlation),
        causation_id: "bootstrap".into(),
        idempotency: None,
        if_match: None,
        command: "BootstrapAdmin",
    };
    let cmd = PrincipalCommand::Create {
        principal_id: principal_id.clone(),
        role: Role::Platform,
        name: "platform admin".into(),
        org_id: None,
        staff_id: None,
        real_name_verified: false,
        token_sha256: hash,
    };
    let done = app
        .runner
        .execute::<Principal>(&meta, &principal_stream(&principal_id), &cmd)
        .await
        .map_err(|e| ServeError::Startup(format!("creating the admin principal: {}", e.message)))?;
    if !app
        .wait_all_quietly(done.position, Duration::from_secs(5))
        .await
    {
        return Err(ServeError::Startup(
            "the directory did not apply the admin principal".into(),
        ));
    }
    if announce {
        eprintln!("admin token (shown once, only its hash is stored): {token}");
    }
    Ok(())
}
