//! The accept loop of `marketlog serve`: one HTTP/1 connection per task, with the limits that
//! keep slow or stalled clients from holding the server (API.md §0): a header read timeout, a
//! body read timeout (answered 408 by [`crate::extract::Body`]), a keep-alive idle timeout, a
//! connection limit, and a shutdown deadline after which the connections still open (half-sent
//! bodies, SSE streams a client stopped reading) are dropped.
//!
//! Architecture invariant: at most `connections_max` connections are served at once; the
//! others wait in the kernel's accept backlog. After the shutdown signal no connection is
//! accepted, and `serve_until` returns at the latest `shutdown_deadline_ms` later.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Default time a client has to send complete request headers (API.md §0).
pub const HEADER_READ_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// Default time a client has to send a whole request body once its headers arrived: 1 MiB
/// (the body limit) in 30 s is ~35 KB/s, far below any real client.
pub const BODY_READ_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// Default time a keep-alive connection may sit with no request in flight and no byte read.
pub const KEEPALIVE_IDLE_TIMEOUT_MS_DEFAULT: u64 = 15_000;
/// Default number of connections served at once.
pub const CONNECTIONS_MAX_DEFAULT: u64 = 1024;
/// Default time from SIGTERM to exit (API.md §0).
pub const SHUTDOWN_DEADLINE_MS_DEFAULT: u64 = 10_000;
/// Header lines hyper parses before answering 431 itself (with an empty body); the router's
/// own limit ([`crate::app::HEADERS_COUNT_MAX`]) is lower, so that a request with too many
/// headers normally gets the error JSON.
const HYPER_HEADERS_COUNT_MAX: usize = 256;
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_RETRY_MS: u64 = 50;

/// The connection limits of one server.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub header_read_timeout_ms: u64,
    pub body_read_timeout_ms: u64,
    pub keepalive_idle_timeout_ms: u64,
    pub connections_max: usize,
    pub shutdown_deadline_ms: u64,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            header_read_timeout_ms: HEADER_READ_TIMEOUT_MS_DEFAULT,
            body_read_timeout_ms: BODY_READ_TIMEOUT_MS_DEFAULT,
            keepalive_idle_timeout_ms: KEEPALIVE_IDLE_TIMEOUT_MS_DEFAULT,
            connections_max: usize::try_from(CONNECTIONS_MAX_DEFAULT).unwrap_or(usize::MAX),
            shutdown_deadline_ms: SHUTDOWN_DEADLINE_MS_DEFAULT,
        }
    }
}

/// How long the body of this request may take to arrive: a request extension set per
/// connection, read by [`crate::extract::Body`].
#[derive(Debug, Clone, Copy)]
pub struct BodyReadTimeout(pub Duration);

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, asks every
/// connection to finish its request in flight and close, and drops those still open after the
/// shutdown deadline. `on_shutdown` runs once when the signal arrives (before the deadline
/// starts), e.g. to end SSE streams.
pub async fn serve_until(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
    on_shutdown: impl FnOnce(),
) {
    let permits = Arc::new(Semaphore::new(limits.connections_max.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(ACCEPT_RETRY_MS)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let router = router.clone();
        let stop = stop_rx.clone();
        connections.spawn(async move {
            serve_connection(stream, router, limits, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let open = connections.len();
    tracing::info!(
        connections = open,
        deadline_ms = limits.shutdown_deadline_ms,
        "shutting down: no new connections; finishing in-flight requests"
    );
    on_shutdown();
    stop_tx.send_replace(true);
    let drained = tokio::time::timeout(Duration::from_millis(limits.shutdown_deadline_ms), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "shutdown deadline reached: dropping the connections still open"
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

/// One connection: HTTP/1 with keep-alive, closed when idle, asked to close (after its request
/// in flight) when the server stops.
async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let body_timeout = BodyReadTimeout(Duration::from_millis(limits.body_read_timeout_ms));
    let service_activity = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let busy = service_activity.begin();
        req.extensions_mut().insert(body_timeout);
        let router = router.clone();
        async move {
            let response = router.oneshot(req.map(axum::body::Body::new)).await?;
            // The request counts as in flight until its body is written (an SSE stream is
            // never idle): the guard lives in the body and is dropped with it.
            Ok::<_, std::convert::Infallible>(response.map(|body| {
                axum::body::Body::new(body.map_frame(move |frame| {
                    let _in_flight = &busy;
                    frame
                }))
            }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms))
        .max_headers(HYPER_HEADERS_COUNT_MAX)
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let idle_max = Duration::from_millis(limits.keepalive_idle_timeout_ms.max(1));
    let mut idle_check = tokio::time::interval((idle_max / 4).max(Duration::from_millis(10)));
    idle_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = *stop.borrow();
    if closing {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            done = connection.as_mut() => {
                if let Err(error) = done {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            _ = stop.changed(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = idle_check.tick(), if !closing => {
                if activity.idle_for() >= idle_max {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// When a connection last did something: the requests in flight and the time of its last read
/// or finished request, in ms since the connection was accepted.
struct Activity {
    accepted: tokio::time::Instant,
    in_flight: AtomicUsize,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            accepted: tokio::time::Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn begin(self: &Arc<Activity>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Busy(Arc::clone(self))
    }

    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.accepted.elapsed().saturating_sub(last)
    }
}

/// A request in flight on its connection.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The TCP stream, noting each read so that a client sending a request is not idle.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
