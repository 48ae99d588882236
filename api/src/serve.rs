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
    pub limits: crate::listener::HttpLimits,
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
    crate::policies::spawn(app.clone())?;

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
    crate::listener::serve_until(listener, router, opts.limits, shutdown, move || {
        signal_app.shutdown.send_replace(true);
    })
    .await;
    close(&app).await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Checkpoints the projections and closes the log, so that the head anchor is written.
pub(crate) async fn close(app: &App) -> Result<(), ServeError> {
    for p in &app.projections {
        if let Err(e) = p.checkpoint() {
            tracing::warn!(projection = p.name(), error = %e, "final checkpoint failed");
        }
    }
    let log = app.log.clone();
    tokio::task::spawn_blocking(move || log.close())
        .await
        .map_err(|e| ServeError::Startup(format!("closing the log: {e}")))??;
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

/// Ensures a platform principal can log in on an empty store: the one whose token is
/// `MARKETLOG_ADMIN_TOKEN`, or, when that is unset, a new one whose token is printed once on
/// stderr. Only the token's hash is stored. On a store that has principals the variable is
/// ignored (API.md §0): re-creating a principal from it would bring back an admin that was
/// revoked. A lost admin is recovered with `marketlog admin recover`.
pub async fn bootstrap_admin(app: &App, admin_token: Option<&str>) -> Result<(), ServeError> {
    let token = match admin_token {
        Some(t) if t.trim().len() < ADMIN_TOKEN_CHARS_MIN => {
            return Err(ServeError::Startup(format!(
                "MARKETLOG_ADMIN_TOKEN must be at least {ADMIN_TOKEN_CHARS_MIN} characters"
            )))
        }
        Some(t) => Some(t.trim().to_owned()),
        None => None,
    };
    let (empty, _) = app.directory.read(|d| d.principals.is_empty());
    if !empty {
        if token.is_some() {
            tracing::warn!(
                "MARKETLOG_ADMIN_TOKEN is ignored: the store already has principals \
                 (it only bootstraps an empty store; see `marketlog admin recover`)"
            );
        }
        return Ok(());
    }
    let announce = token.is_none();
    let token = token.unwrap_or_else(new_secret_token);
    create_platform_principal(app, &token, "platform admin", "bootstrap", "BootstrapAdmin").await?;
    if announce {
        eprintln!("admin token (shown once, only its hash is stored): {token}");
    }
    Ok(())
}

/// Shortest accepted `MARKETLOG_ADMIN_TOKEN`.
pub const ADMIN_TOKEN_CHARS_MIN: usize = 16;

/// Appends a new platform principal with `token` through the runner, as actor `system`, and
/// waits until the directory knows it.
async fn create_platform_principal(
    app: &App,
    token: &str,
    name: &str,
    causation: &str,
    command: &'static str,
) -> Result<String, ServeError> {
    let principal_id = app.ids.new_id(IdKind::Principal);
    let meta = CommandMeta {
        actor: Actor::System,
        correlation_id: app.ids.new_id(IdKind::Correlation),
        causation_id: causation.into(),
        idempotency: None,
        if_match: None,
        command,
    };
    let cmd = PrincipalCommand::Create {
        principal_id: principal_id.clone(),
        role: Role::Platform,
        name: name.into(),
        org_id: None,
        staff_id: None,
        real_name_verified: false,
        token_sha256: token_sha256(token),
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
    Ok(principal_id)
}

/// `marketlog admin recover`: with the server stopped, appends a new platform principal
/// (actor `system`, command `RecoverAdmin`) and returns its id and token, which the caller
/// prints once. The operator's way back in when every platform token is lost or revoked.
pub async fn recover_admin(
    data_dir: PathBuf,
    tz: chrono_tz::Tz,
) -> Result<(String, String), ServeError> {
    let app = App::open(AppConfig {
        data_dir: data_dir.clone(),
        tz,
        // A clock that starts at the later of now and the last recorded time: the recovery
        // event never goes back in time, also on a store written with a simulated clock.
        simulated_start: Some(domain::Clock::now(&domain::SystemClock)),
        metrics: crate::app::metrics_handle(),
    })?;
    if !app
        .wait_all_quietly(app.store.head(), Duration::from_secs(30))
        .await
    {
        return Err(ServeError::Startup(
            "projections did not catch up with the log within 30 s".into(),
        ));
    }
    let token = new_secret_token();
    let created = create_platform_principal(
        &app,
        &token,
        "recovered platform admin",
        "admin-recover",
        "RecoverAdmin",
    )
    .await;
    let closed = close(&app).await;
    let id = created?;
    closed?;
    tracing::warn!(principal_id = %id, data = %data_dir.display(), "operator recovered a platform admin");
    Ok((id, token))
}
