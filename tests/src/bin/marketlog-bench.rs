//! The benchmark command (BENCHMARKS.md): one JSON line per scenario on stdout.
//!
//! `marketlog-bench [--quick] [--seconds S] [--only SCENARIO] [--concurrency LEVELS]`
//! `marketlog-bench --report FILE`: FILE holds, in the order they ran, our JSON lines and those
//! of `../shared/peer/run.sh`; a `ratio` line is printed for every run of ours that has a peer.
//! The raw sled limit of a run is the mean of the nearest limit runs at the same concurrency
//! before and after it (`tests/bench.sh` sandwiches every run): this disk drifts within minutes.

/// mimalloc, as in the binaries under test (glibc malloc costs the log writer dearly).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use eventlog::{AppendRequest, EventStore, Expected, Metadata, NewEvent, SledLog, StreamAppend};
use marketlog_tests::bench::{round, Outcome};

#[derive(Parser)]
#[command(about = "Marketlog benchmarks; one JSON line per scenario")]
struct Args {
    /// Small sizes (the whole run well under a minute), for CI smoke checks.
    #[arg(long)]
    quick: bool,
    /// Keep the data dirs of the run (their path is printed on stderr), e.g. to time a restart
    /// or to try replay-tool on a big log.
    #[arg(long)]
    keep: bool,
    /// Seconds per measured level (default 8, or 1 with --quick).
    #[arg(long)]
    seconds: Option<f64>,
    /// Run only this scenario.
    #[arg(long)]
    only: Option<String>,
    /// Concurrency levels for log_append.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    concurrency: Vec<usize>,
    /// Run nothing: print the ratio lines of the runs recorded in FILE (ours and the
    /// peer's JSON lines, in the order they ran).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Where the bench data dirs go (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

const PAYLOAD_BYTES: usize = 200;

#[allow(clippy::disallowed_methods)] // measurement, not business time
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

fn event(kind: &str, seed: u64) -> NewEvent {
    let mut payload = vec![b'x'; PAYLOAD_BYTES];
    payload[..8].copy_from_slice(&seed.to_be_bytes());
    NewEvent {
        event_type: kind.into(),
        schema_version: 1,
        payload,
    }
}

fn meta() -> Metadata {
    Metadata {
        actor: "cus_bench:customer".into(),
        correlation_id: "cor_bench".into(),
        causation_id: "req_bench".into(),
        recorded_at_micros: 1_795_000_000_000_000,
    }
}

/// Runs `concurrency` tasks that each repeat `op` until `seconds` pass.
async fn drive<F, Fut>(
    scenario: &str,
    concurrency: usize,
    seconds: f64,
    events_per_op: u64,
    op: F,
) -> Outcome
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let start = now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::with_capacity(concurrency);
    for t in 0..concurrency {
        let op = Arc::clone(&op);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4_096);
            let mut errors = 0u64;
            let mut i = 0u64;
            while now() < deadline {
                let s = now();
                if op(t, i).await {
                    lat.push(s.elapsed());
                } else {
                    errors += 1;
                }
                i += 1;
            }
            (lat, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            latencies.extend(l);
            errors += e;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Outcome {
        scenario: scenario.into(),
        concurrency,
        ops: latencies.len() as u64,
        events: latencies.len() as u64 * events_per_op,
        seconds: secs,
        latencies,
        errors,
        groups: None,
        log_events: None,
        disk_write_bytes: None,
        cpu_seconds: None,
    }
}

/// The log's writer counters and this process's disk writes and CPU time when a run starts.
struct LogFigures {
    stats: eventlog::WriterStats,
    written: Option<u64>,
    cpu: Option<f64>,
}

impl LogFigures {
    fn now(log: &dyn eventlog::LogAdmin) -> LogFigures {
        LogFigures {
            stats: log.writer_stats(),
            written: marketlog_tests::bench::disk_write_bytes(),
            cpu: marketlog_tests::bench::cpu_seconds(),
        }
    }

    /// Adds the groups, events, bytes written and CPU used since `self` to `out`.
    fn since(self, log: &dyn eventlog::LogAdmin, out: &mut Outcome) {
        let stats = log.writer_stats();
        out.groups = Some(stats.groups - self.stats.groups);
        out.log_events = Some(stats.events - self.stats.events);
        out.disk_write_bytes = self
            .written
            .zip(marketlog_tests::bench::disk_write_bytes())
            .map(|(before, after)| after.saturating_sub(before));
        out.cpu_seconds = self
            .cpu
            .zip(marketlog_tests::bench::cpu_seconds())
            .map(|(before, after)| after - before);
    }
}

async fn log_append(dir: &tempfile::TempDir, concurrency: usize, seconds: f64) -> Outcome {
    let log = SledLog::open(&dir.path().join(format!("log_append_{concurrency}")))
        .expect("open bench log");
    let l = log.clone();
    let before = LogFigures::now(&log);
    let mut out = drive("log_append", concurrency, seconds, 1, move |t, i| {
        let log = l.clone();
        async move {
            let req = AppendRequest::single(
                format!("order-b{t}-{i}"),
                Expected::NoStream,
                vec![event("OrderPlaced", i)],
                meta(),
            );
            log.append(req).await.is_ok()
        }
    })
    .await;
    before.since(&log, &mut out);
    let _ = tokio::task::spawn_blocking(move || log.close()).await;
    out
}

async fn log_append_multi(dir: &tempfile::TempDir, concurrency: usize, seconds: f64) -> Outcome {
    let log = SledLog::open(&dir.path().join("log_append_multi")).expect("open bench log");
    let l = log.clone();
    let before = LogFigures::now(&log);
    let mut out = drive("log_append_multi", concurrency, seconds, 2, move |t, i| {
        let log = l.clone();
        async move {
            // Order placement redeeming a coupon: the order stream is new, the campaign
            // stream (one per task) moves on.
            let req = AppendRequest {
                streams: vec![
                    StreamAppend {
                        stream_id: format!("order-m{t}-{i}"),
                        expected: Expected::NoStream,
                        events: vec![event("OrderPlaced", i)],
                    },
                    StreamAppend {
                        stream_id: format!("campaign-m{t}"),
                        expected: Expected::Exact(i),
                        events: vec![event("CouponRedeemed", i)],
                    },
                ],
                meta: meta(),
                idempotency: None,
            };
            log.append(req).await.is_ok()
        }
    })
    .await;
    before.since(&log, &mut out);
    let _ = tokio::task::spawn_blocking(move || log.close()).await;
    out
}

/// A marketplace with one listed product and `customers` customers, served in-process.
struct Market {
    app: api::state::App,
    product_id: String,
    customers: Vec<api::extract::Caller>,
    customer_tokens: Vec<String>,
}

const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";

async fn market(dir: &std::path::Path, customers: usize) -> Market {
    use api::extract::Caller;
    use domain::ids::{new_secret_token, IdKind};
    use domain::platform::{
        org_stream, principal_stream, Org, OrgCommand, Principal, PrincipalCommand,
    };
    use domain::product::{product_stream, NewSpec, Product, ProductCommand};
    use domain::{Actor, Role};
    let app = api::state::App::open(api::state::AppConfig {
        data_dir: dir.to_path_buf(),
        tz: chrono_tz::Asia::Shanghai,
        // The real clock, as in production: with a simulated clock that nobody advances every
        // event and order carries the same timestamp, and every time-ordered index (order
        // lists, due deadlines) falls back to comparing ids, which a real server never does.
        simulated_start: None,
        metrics: api::app::metrics_handle(),
    })
    .expect("open app");
    api::serve::bootstrap_admin(&app, Some(ADMIN_TOKEN))
        .await
        .expect("admin");
    let meta = |command| api::runner::CommandMeta {
        actor: Actor::System,
        correlation_id: "bench".into(),
        causation_id: "bench".into(),
        idempotency: None,
        if_match: None,
        command,
    };
    let org = app.ids.new_id(IdKind::Org);
    app.runner
        .execute::<Org>(
            &meta("CreateOrg"),
            &org_stream(&org),
            &OrgCommand::Create {
                org_id: org.clone(),
                name: "Bench".into(),
            },
        )
        .await
        .expect("org");
    let product_id = app.ids.new_id(IdKind::Product);
    let ps = product_stream(&product_id);
    let create = ProductCommand::Create {
        product_id: product_id.clone(),
        seller_org_id: org,
        code: "B".into(),
        name: "Bench product".into(),
        category: "c".into(),
        delivery: "saas".into(),
        delivery_days: 1,
        warranty_days: 0,
        flow_template_id: None,
        specs: vec![NewSpec {
            id: "s".into(),
            name: "s".into(),
            duration: 1,
            unit: "month".into(),
            price_cents: 9_900,
            trial: false,
        }],
    };
    for cmd in [create, ProductCommand::Submit, ProductCommand::Approve] {
        app.runner
            .execute::<Product>(&meta("Product"), &ps, &cmd)
            .await
            .expect("product");
    }
    let mut callers = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..customers {
        let id = app.ids.new_id(IdKind::Customer);
        let token = new_secret_token();
        let cmd = PrincipalCommand::Create {
            principal_id: id.clone(),
            role: Role::Customer,
            name: format!("c{i}"),
            org_id: None,
            staff_id: None,
            real_name_verified: false,
            token_sha256: api::extract::token_sha256(&token),
        };
        app.runner
            .execute::<Principal>(&meta("Customer"), &principal_stream(&id), &cmd)
            .await
            .expect("customer");
        callers.push(Caller {
            id,
            role: Role::Customer,
            name: format!("c{i}"),
            org_id: None,
            staff_id: None,
            real_name_verified: false,
        });
        tokens.push(token);
    }
    let _ = app.wait_all(app.store.head()).await;
    Market {
        app,
        product_id,
        customers: callers,
        customer_tokens: tokens,
    }
}

/// `command_inprocess`: place + pay through the command runner, no HTTP.
async fn command_inprocess(dir: &tempfile::TempDir, concurrency: usize, seconds: f64) -> Outcome {
    use domain::ids::IdKind;
    let m = Arc::new(
        market(
            &dir.path().join(format!("inprocess_{concurrency}")),
            concurrency,
        )
        .await,
    );
    // Each task alternates: place an order, then pay it (one command per measured op).
    let unpaid: Arc<Vec<std::sync::Mutex<Option<String>>>> = Arc::new(
        (0..concurrency)
            .map(|_| std::sync::Mutex::new(None))
            .collect(),
    );
    let mm = Arc::clone(&m);
    let before = LogFigures::now(m.app.log.as_ref());
    let mut out = drive("command_inprocess", concurrency, seconds, 1, move |t, _| {
        let (m, unpaid) = (Arc::clone(&mm), Arc::clone(&unpaid));
        async move {
            let caller = &m.customers[t];
            let meta = |command| api::runner::CommandMeta {
                actor: caller.actor(),
                correlation_id: "bench".into(),
                causation_id: "bench".into(),
                idempotency: None,
                if_match: None,
                command,
            };
            let runner = &m.app.runner;
            let pending = unpaid[t].lock().map(|mut g| g.take()).unwrap_or(None);
            if let Some(order_id) = pending {
                let pay = domain::order::PayOrder {
                    order_id,
                    amount_cents: 9_900,
                    voucher_cents: 0,
                };
                return runner
                    .decide::<domain::order::Order>(&meta("PayOrder"), &pay)
                    .await
                    .is_ok();
            }
            let order_id = m.app.ids.new_id(IdKind::Order);
            let input = domain::order::PlaceOrder {
                order_id: order_id.clone(),
                customer_id: caller.id.clone(),
                product_id: m.product_id.clone(),
                spec_id: "s".into(),
                quantity: 1,
                order_type: "new".into(),
                instance_id: None,
                coupon_id: None,
                client: None,
                channel_kind: None,
                channel_ref: None,
                remark: None,
            };
            let placed = runner
                .decide::<domain::order::Order>(&meta("PlaceOrder"), &input)
                .await
                .is_ok();
            if placed {
                if let Ok(mut g) = unpaid[t].lock() {
                    *g = Some(order_id);
                }
            }
            placed
        }
    })
    .await;
    before.since(m.app.log.as_ref(), &mut out);
    let _ = tokio::task::spawn_blocking(move || m.app.log.close()).await;
    out
}

/// `http_commands`: POST /v1/orders + pay over HTTP/1.1 keep-alive.
async fn http_commands(dir: &tempfile::TempDir, concurrency: usize, seconds: f64) -> Outcome {
    let m = market(&dir.path().join(format!("http_{concurrency}")), concurrency).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = api::app::router(m.app.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    // One keep-alive HTTP/1.1 connection per client, opened before the clock starts. A bare
    // hyper connection instead of reqwest: the load generator shares the two cores with the
    // server, and reqwest's pool and URL handling cost about as much CPU as the server's
    // routing (perf).
    let mut connections = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        connections.push(tokio::sync::Mutex::new(connect(addr).await));
    }
    let connections = Arc::new(connections);
    let tokens = Arc::new(m.customer_tokens.clone());
    let place_body = bytes::Bytes::from(
        serde_json::json!({"product_id": m.product_id, "spec_id": "s", "quantity": 1, "order_type": "new"})
            .to_string(),
    );
    let pay_body = bytes::Bytes::from_static(br#"{"amount_cents":9900}"#);
    let unpaid: Arc<Vec<std::sync::Mutex<Option<String>>>> = Arc::new(
        (0..concurrency)
            .map(|_| std::sync::Mutex::new(None))
            .collect(),
    );
    let before = LogFigures::now(m.app.log.as_ref());
    let mut out = drive("http_commands", concurrency, seconds, 1, move |t, _| {
        let (connections, tokens, unpaid) = (
            Arc::clone(&connections),
            Arc::clone(&tokens),
            Arc::clone(&unpaid),
        );
        let (place_body, pay_body) = (place_body.clone(), pay_body.clone());
        async move {
            let auth = format!("Bearer {}", tokens[t]);
            let mut conn = connections[t].lock().await;
            let pending = unpaid[t].lock().map(|mut g| g.take()).unwrap_or(None);
            if let Some(id) = pending {
                let paid = post(&mut conn, &format!("/v1/orders/{id}/pay"), &auth, pay_body).await;
                return matches!(paid, Some((200, _)));
            }
            let Some((201, body)) = post(&mut conn, "/v1/orders", &auth, place_body).await else {
                return false;
            };
            #[derive(serde::Deserialize)]
            struct Placed {
                id: String,
            }
            let Ok(placed) = serde_json::from_slice::<Placed>(&body) else {
                return false;
            };
            if let Ok(mut g) = unpaid[t].lock() {
                *g = Some(placed.id);
            }
            true
        }
    })
    .await;
    before.since(m.app.log.as_ref(), &mut out);
    server.abort();
    let app = m.app.clone();
    let _ = tokio::task::spawn_blocking(move || app.log.close()).await;
    out
}

/// A client's HTTP/1.1 keep-alive connection to the bench server.
type Connection = hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>;

async fn connect(addr: std::net::SocketAddr) -> Connection {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = stream.set_nodelay(true);
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("HTTP handshake");
    tokio::spawn(connection);
    sender
}

/// POSTs `body` as JSON; (status, response body), or None if the connection failed.
async fn post(
    conn: &mut Connection,
    path: &str,
    authorization: &str,
    body: bytes::Bytes,
) -> Option<(u16, bytes::Bytes)> {
    use http_body_util::BodyExt;
    conn.ready().await.ok()?;
    let request = hyper::Request::post(path)
        .header("host", "bench")
        .header("authorization", authorization)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(body))
        .ok()?;
    let response = conn.send_request(request).await.ok()?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, body))
}

fn ratio_line(of: &str, vs: &str, concurrency: usize, ours: f64, peer: f64, target: f64) {
    let ratio = if peer > 0.0 { ours / peer } else { 0.0 };
    println!(
        "{}",
        serde_json::json!({"scenario": "ratio", "of": of, "vs": vs, "concurrency": concurrency,
            "ours": round(ours, 1), "peer": round(peer, 1), "ratio": round(ratio, 3), "target": target, "pass": ratio >= target})
    );
}

/// The peer's rate for the run at `index`: the mean of the nearest runs of `system` at the
/// same concurrency before and after it (either one alone when the other is missing).
fn neighbour_rate(
    lines: &[serde_json::Value],
    index: usize,
    system: &str,
    concurrency: usize,
    field: &str,
) -> Option<f64> {
    let matches = |l: &&serde_json::Value| l["system"] == system && l["concurrency"] == concurrency;
    let before = lines[..index].iter().rev().find(matches);
    let after = lines[index + 1..].iter().find(matches);
    let rates: Vec<f64> = [before, after]
        .into_iter()
        .flatten()
        .filter_map(|l| l[field].as_f64())
        .collect();
    (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
}

/// Prints the ratio lines of BENCHMARKS.md for the recorded runs.
fn report(lines: &[serde_json::Value]) {
    const LIMIT: &str = "sled-group-commit-limit";
    const CQRS: &str = "cqrs-es+postgres-es";
    let single_64 = lines
        .iter()
        .rev()
        .find(|r| r["scenario"] == "log_append" && r["concurrency"] == 64 && r["system"].is_null())
        .and_then(|r| r["events_per_s"].as_f64());
    for (i, r) in lines.iter().enumerate() {
        if !r["system"].is_null() {
            continue; // a peer's line
        }
        let c = r["concurrency"].as_u64().unwrap_or(0) as usize;
        let events = r["events_per_s"].as_f64().unwrap_or(0.0);
        let ops = r["ops_per_s"].as_f64().unwrap_or(0.0);
        let limit = neighbour_rate(lines, i, LIMIT, c, "events_per_s");
        match r["scenario"].as_str() {
            Some("log_append") => {
                if let Some(limit) = limit {
                    ratio_line("log_append", LIMIT, c, events, limit, 0.85);
                }
            }
            Some("log_append_multi") => {
                if let Some(limit) = limit {
                    ratio_line("log_append_multi", LIMIT, c, events, limit, 0.8 * 0.85);
                }
                if let Some(single) = single_64 {
                    ratio_line("log_append_multi", "log_append@64", c, events, single, 0.8);
                }
            }
            Some("command_inprocess") => {
                if let Some(cqrs) = neighbour_rate(lines, i, CQRS, c, "commands_per_s") {
                    ratio_line("command_inprocess", CQRS, c, ops, cqrs, 8.0);
                }
                // The limit target is set at 64 tasks (BENCHMARKS.md).
                if let (64, Some(limit)) = (c, limit) {
                    ratio_line("command_inprocess", LIMIT, c, ops, limit, 0.7);
                }
            }
            Some("http_commands") => {
                if let Some(limit) = limit {
                    ratio_line("http_commands", LIMIT, c, ops, limit, 0.45);
                }
            }
            _ => {}
        }
    }
}

fn main() {
    let args = Args::parse();
    if let Some(path) = &args.report {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let lines: Vec<serde_json::Value> = text
                    .lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect();
                report(&lines);
                return;
            }
            Err(e) => {
                eprintln!(
                    "marketlog-bench: cannot read --report {}: {e}",
                    path.display()
                );
                std::process::exit(2);
            }
        }
    }
    let seconds = args.seconds.unwrap_or(if args.quick { 1.0 } else { 8.0 });
    let base = match &args.dir {
        Some(d) => tempfile::Builder::new()
            .prefix("marketlog-bench")
            .tempdir_in(d),
        None => tempfile::Builder::new().prefix("marketlog-bench").tempdir(),
    };
    let dir = match base {
        Ok(d) => d,
        Err(e) => {
            eprintln!("marketlog-bench: cannot create a bench dir: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let wanted = |s: &str| args.only.as_deref().is_none_or(|o| o == s);
    let emit = |mut o: Outcome| println!("{}", o.to_json());
    if wanted("log_append") {
        for &c in &args.concurrency {
            emit(rt.block_on(log_append(&dir, c, seconds)));
        }
    }
    if wanted("log_append_multi") {
        emit(rt.block_on(log_append_multi(&dir, 64, seconds)));
    }
    if wanted("command_inprocess") {
        for &c in &args.concurrency {
            if c <= 64 {
                emit(rt.block_on(command_inprocess(&dir, c, seconds)));
            }
        }
    }
    if wanted("http_commands") {
        emit(rt.block_on(http_commands(&dir, 64, seconds)));
    }
    drop(rt);
    if args.keep {
        eprintln!(
            "marketlog-bench: data dirs kept in {}",
            dir.keep().display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::neighbour_rate;
    use serde_json::json;

    const LIMIT: &str = "sled-group-commit-limit";

    #[test]
    fn a_run_is_compared_with_the_mean_of_its_two_neighbouring_limit_runs() {
        let lines = [
            json!({"system": LIMIT, "concurrency": 64, "events_per_s": 1.0}),
            json!({"system": LIMIT, "concurrency": 64, "events_per_s": 10.0}),
            json!({"system": LIMIT, "concurrency": 16, "events_per_s": 99.0}),
            json!({"scenario": "log_append", "concurrency": 64, "events_per_s": 12.0}),
            json!({"system": LIMIT, "concurrency": 64, "events_per_s": 20.0}),
            json!({"system": LIMIT, "concurrency": 64, "events_per_s": 1000.0}),
        ];
        assert_eq!(
            neighbour_rate(&lines, 3, LIMIT, 64, "events_per_s"),
            Some(15.0)
        );
        assert_eq!(
            neighbour_rate(&lines, 3, LIMIT, 16, "events_per_s"),
            Some(99.0)
        );
        assert_eq!(neighbour_rate(&lines, 3, LIMIT, 256, "events_per_s"), None);
    }
}
