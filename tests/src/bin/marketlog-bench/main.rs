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

mod big;
mod fixture;
mod offline;
mod served;

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
    /// Run only these scenarios (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
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
    /// Events in the shared fixture of the big-log scenarios (default 1,000,000, or 20,000
    /// with --quick).
    #[arg(long)]
    fixture_events: Option<u64>,
    /// Reuse the fixture at DIR (a `fixture` dir an earlier run left with --keep; built
    /// there if it holds none) instead of building one in this run's dir.
    #[arg(long, value_name = "DIR")]
    fixture: Option<PathBuf>,
    /// The replay-tool binary of the `history` CLI figure (default: next to this binary).
    #[arg(long, value_name = "PATH")]
    replay_tool: Option<PathBuf>,
    /// Internal: run one part of a fixture scenario in this (child) process.
    #[arg(long, hide = true)]
    child: Option<String>,
    /// Internal: the fixture root of --child.
    #[arg(long, hide = true)]
    data: Option<PathBuf>,
    /// Internal: the one model --child rebuild rebuilds (default: all).
    #[arg(long, hide = true)]
    model: Vec<String>,
}

/// Clients of the HTTP scenarios at BENCHMARKS.md's 64.
const HTTP_CLIENTS: usize = 64;

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
    drive_paced(scenario, concurrency, seconds, events_per_op, None, op).await
}

/// [`drive`], each task starting its `i`-th op no earlier than `i × pace` after the start
/// when `pace` is given (a rate of `concurrency / pace` ops per second in all; the wait is
/// not part of an op's latency).
async fn drive_paced<F, Fut>(
    scenario: &str,
    concurrency: usize,
    seconds: f64,
    events_per_op: u64,
    pace: Option<Duration>,
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
                if let Some(pace) = pace {
                    let due = start + pace.saturating_mul(i as u32);
                    if due >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                }
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

/// Payload of the coupon-wallet event of `log_append_multi`: a coupon id, the order it went to
/// and the saving, smaller than an order placement.
const WALLET_PAYLOAD_BYTES: usize = 120;

async fn log_append_multi(dir: &tempfile::TempDir, concurrency: usize, seconds: f64) -> Outcome {
    let log = SledLog::open(&dir.path().join("log_append_multi")).expect("open bench log");
    let l = log.clone();
    let before = LogFigures::now(&log);
    let mut out = drive("log_append_multi", concurrency, seconds, 2, move |t, i| {
        let log = l.clone();
        async move {
            // An order placement redeeming a coupon, as one atomic append: the order stream is
            // new, the customer's coupon wallet (one per task, as one customer per client)
            // moves on from the version the decision read.
            let mut redeemed = event("CouponRedeemed", i);
            redeemed.payload.truncate(WALLET_PAYLOAD_BYTES);
            let req = AppendRequest {
                streams: vec![
                    StreamAppend {
                        stream_id: format!("order-m{t}-{i}"),
                        expected: Expected::NoStream,
                        events: vec![event("OrderPlaced", i)],
                    },
                    StreamAppend {
                        stream_id: format!("wallet-m{t}"),
                        expected: Expected::Exact(i),
                        events: vec![redeemed],
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
    seller_org_id: String,
    product_id: String,
    customers: Vec<api::extract::Caller>,
    customer_tokens: Vec<String>,
    /// The seller org's isv_admin (order lists as a seller).
    seller: api::extract::Caller,
    seller_token: String,
}

const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";

/// The app of `marketlog serve` on `dir`, with the real clock.
fn open_app(dir: &std::path::Path) -> api::state::App {
    api::state::App::open(api::state::AppConfig {
        data_dir: dir.to_path_buf(),
        tz: chrono_tz::Asia::Shanghai,
        // The real clock, as in production: with a simulated clock that nobody advances every
        // event and order carries the same timestamp, and every time-ordered index (order
        // lists, due deadlines) falls back to comparing ids, which a real server never does.
        simulated_start: None,
        metrics: api::app::metrics_handle(),
    })
    .expect("open app")
}

async fn market(dir: &std::path::Path, customers: usize) -> Market {
    use api::extract::Caller;
    use domain::ids::{new_secret_token, IdKind};
    use domain::platform::{
        org_stream, principal_stream, Org, OrgCommand, Principal, PrincipalCommand,
    };
    use domain::product::{product_stream, NewSpec, Product, ProductCommand};
    use domain::{Actor, Role};
    let app = open_app(dir);
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
        seller_org_id: org.clone(),
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
    let seller_id = app.ids.new_id(IdKind::Principal);
    let seller_token = new_secret_token();
    let admin = PrincipalCommand::Create {
        principal_id: seller_id.clone(),
        role: Role::IsvAdmin,
        name: "seller".into(),
        org_id: Some(org.clone()),
        staff_id: None,
        real_name_verified: false,
        token_sha256: api::extract::token_sha256(&seller_token),
    };
    app.runner
        .execute::<Principal>(&meta("Seller"), &principal_stream(&seller_id), &admin)
        .await
        .expect("seller admin");
    let seller = Caller {
        id: seller_id,
        role: Role::IsvAdmin,
        name: "seller".into(),
        org_id: Some(org.clone()),
        staff_id: None,
        real_name_verified: false,
    };
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
        seller_org_id: org,
        product_id,
        customers: callers,
        customer_tokens: tokens,
        seller,
        seller_token,
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

/// The server of the HTTP scenarios: the router of `marketlog serve` behind its listener
/// (`api::listener`, with the default limits), on a loopback port.
struct BenchServer {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl BenchServer {
    async fn start(app: &api::state::App) -> BenchServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = api::app::router(app.clone());
        let task = tokio::spawn(api::listener::serve_until(
            listener,
            router,
            api::listener::HttpLimits::default(),
            std::future::pending(),
            || {},
        ));
        BenchServer { addr, task }
    }

    /// One keep-alive HTTP/1.1 connection per client, opened before the clock starts. A bare
    /// hyper connection instead of reqwest: the load generator shares the two cores with the
    /// server, and reqwest's pool and URL handling cost about as much CPU as the server's
    /// routing (perf).
    async fn connections(&self, clients: usize) -> Arc<Vec<tokio::sync::Mutex<Connection>>> {
        let mut connections = Vec::with_capacity(clients);
        for _ in 0..clients {
            connections.push(tokio::sync::Mutex::new(connect(self.addr).await));
        }
        Arc::new(connections)
    }

    fn stop(self) {
        self.task.abort();
    }
}

/// `http_floor`: `GET /v1/health` on the same server stack as `http_commands`, with the same
/// clients and the same headers, so that only the command's own work separates the two. The
/// health route answers a small JSON of positions read from memory; it takes no token, so
/// the floor leaves out the bearer token check too (one SHA-256 of a short token and a map
/// lookup, a few µs of the ~100 µs of CPU a command costs).
async fn http_floor(dir: &tempfile::TempDir, concurrency: usize, seconds: f64) -> Outcome {
    let m = market(
        &dir.path().join(format!("floor_{concurrency}")),
        concurrency,
    )
    .await;
    let server = BenchServer::start(&m.app).await;
    let connections = server.connections(concurrency).await;
    let tokens = Arc::new(m.customer_tokens.clone());
    let cpu_before = marketlog_tests::bench::cpu_seconds();
    let mut out = drive("http_floor", concurrency, seconds, 0, move |t, _| {
        let (connections, tokens) = (Arc::clone(&connections), Arc::clone(&tokens));
        async move {
            let auth = format!("Bearer {}", tokens[t]);
            let mut conn = connections[t].lock().await;
            let answer = request(&mut conn, "GET", "/v1/health", &auth, bytes::Bytes::new()).await;
            matches!(answer, Some((200, _)))
        }
    })
    .await;
    out.cpu_seconds = cpu_before
        .zip(marketlog_tests::bench::cpu_seconds())
        .map(|(before, after)| after - before);
    server.stop();
    let app = m.app.clone();
    let _ = tokio::task::spawn_blocking(move || app.log.close()).await;
    out
}

/// `http_commands`: POST /v1/orders + pay over HTTP/1.1 keep-alive.
async fn http_commands(dir: &tempfile::TempDir, concurrency: usize, seconds: f64) -> Outcome {
    let m = market(&dir.path().join(format!("http_{concurrency}")), concurrency).await;
    let server = BenchServer::start(&m.app).await;
    let out = http_commands_on(
        &m,
        &server,
        "http_commands",
        &m.customer_tokens,
        seconds,
        None,
    )
    .await;
    server.stop();
    let app = m.app.clone();
    let _ = tokio::task::spawn_blocking(move || app.log.close()).await;
    out
}

/// The load of `http_commands` on a running bench server: one client per token (each a
/// customer of `m`), placing and paying in turn, at most `rate_per_s` ops per second in all
/// when given.
async fn http_commands_on(
    m: &Market,
    server: &BenchServer,
    scenario: &str,
    tokens: &[String],
    seconds: f64,
    rate_per_s: Option<f64>,
) -> Outcome {
    let concurrency = tokens.len();
    let connections = server.connections(concurrency).await;
    let tokens = Arc::new(tokens.to_vec());
    let pace = rate_per_s
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(concurrency as f64 / r));
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
    let mut out = drive_paced(scenario, concurrency, seconds, 1, pace, move |t, _| {
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
                let path = format!("/v1/orders/{id}/pay");
                let paid = request(&mut conn, "POST", &path, &auth, pay_body).await;
                return matches!(paid, Some((200, _)));
            }
            let Some((201, body)) =
                request(&mut conn, "POST", "/v1/orders", &auth, place_body).await
            else {
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
    out
}

/// `coupon_claim_race`: `concurrency` customers claim coupons of one campaign over HTTP until
/// it is sold out (BENCHMARKS.md, concurrency invariants). Every claim is decided — 201, or
/// 409 `sold_out` once the stock is gone — and exactly `stock` coupons are granted; claims
/// per second measure how fast one campaign's stock stream takes claims (ADR 0006: one durable
/// append after the other).
async fn coupon_claim_race(
    dir: &tempfile::TempDir,
    concurrency: usize,
    stock: u32,
) -> serde_json::Value {
    use domain::coupon::{CreateCampaign, KindName, ScopeName};
    use domain::ids::IdKind;
    let m = market(
        &dir.path().join(format!("claims_{concurrency}")),
        concurrency,
    )
    .await;
    let campaign_id = m.app.ids.new_id(IdKind::Campaign);
    let today = m.app.clock.now();
    let create = CreateCampaign {
        campaign_id: campaign_id.clone(),
        seller_org_id: m.seller_org_id.clone(),
        name: "race".into(),
        scope: ScopeName::Store,
        product_ids: Vec::new(),
        kind: KindName::Discount,
        pay_permille: Some(900),
        threshold_cents: None,
        reduce_cents: None,
        per_customer_limit: domain::coupon::PER_CUSTOMER_LIMIT_MAX,
        valid_from: today.plus_seconds(-86_400),
        valid_until: today.plus_days(30),
        total_quantity: stock,
        scenarios: vec![domain::order::OrderType::New],
        show_in_store: true,
        auto_grant: None,
    };
    let meta = api::runner::CommandMeta {
        actor: domain::Actor::System,
        correlation_id: "bench".into(),
        causation_id: "bench".into(),
        idempotency: None,
        if_match: None,
        command: "CreateCampaign",
    };
    m.app.runner.run(&meta, &create).await.expect("campaign");
    let _ = m.app.wait_all(m.app.store.head()).await;
    let server = BenchServer::start(&m.app).await;
    let connections = server.connections(concurrency).await;
    let before = LogFigures::now(m.app.log.as_ref());
    let path = Arc::new(format!("/v1/coupon-campaigns/{campaign_id}/claim"));
    let started = now();
    let mut tasks = Vec::with_capacity(concurrency);
    for t in 0..concurrency {
        let (connections, path) = (Arc::clone(&connections), Arc::clone(&path));
        let auth = format!("Bearer {}", m.customer_tokens[t]);
        tasks.push(tokio::spawn(async move {
            let (mut granted, mut sold_out, mut errors) = (Vec::new(), 0u64, 0u64);
            let mut conn = connections[t].lock().await;
            loop {
                let s = now();
                match request(&mut conn, "POST", &path, &auth, bytes::Bytes::new()).await {
                    Some((201, _)) => granted.push(s.elapsed()),
                    Some((409, body)) if body.windows(8).any(|w| w == b"sold_out") => {
                        sold_out += 1;
                        break;
                    }
                    _ => {
                        errors += 1;
                        break;
                    }
                }
            }
            (granted, sold_out, errors)
        }));
    }
    let (mut latencies, mut sold_out, mut errors) = (Vec::new(), 0, 0);
    for t in tasks {
        if let Ok((l, s, e)) = t.await {
            latencies.extend(l);
            sold_out += s;
            errors += e;
        }
    }
    let mut out = Outcome {
        scenario: "coupon_claim_race".into(),
        concurrency,
        ops: latencies.len() as u64,
        events: latencies.len() as u64 * 2,
        seconds: started.elapsed().as_secs_f64(),
        latencies,
        errors,
        groups: None,
        log_events: None,
        disk_write_bytes: None,
        cpu_seconds: None,
    };
    before.since(m.app.log.as_ref(), &mut out);
    let granted = out.ops;
    let mut line = out.to_json();
    line["stock"] = serde_json::json!(stock);
    line["sold_out_answers"] = serde_json::json!(sold_out);
    line["granted_equals_stock"] = serde_json::json!(granted == u64::from(stock));
    server.stop();
    let app = m.app.clone();
    let _ = tokio::task::spawn_blocking(move || app.log.close()).await;
    line
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

/// Sends `body` as JSON; (status, response body), or None if the connection failed.
async fn request(
    conn: &mut Connection,
    method: &str,
    path: &str,
    authorization: &str,
    body: bytes::Bytes,
) -> Option<(u16, bytes::Bytes)> {
    request_full(conn, method, path, authorization, &[], body)
        .await
        .map(|(status, _, body)| (status, body))
}

/// [`request`] with extra request headers, answering the response headers too.
async fn request_full(
    conn: &mut Connection,
    method: &str,
    path: &str,
    authorization: &str,
    headers: &[(&str, String)],
    body: bytes::Bytes,
) -> Option<(u16, hyper::HeaderMap, bytes::Bytes)> {
    use http_body_util::BodyExt;
    conn.ready().await.ok()?;
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "bench")
        .header("authorization", authorization)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request.body(http_body_util::Full::new(body)).ok()?;
    let response = conn.send_request(request).await.ok()?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, headers, body))
}

/// A `ratio` line: one target of BENCHMARKS.md checked for one run of ours.
fn ratio_line(
    of: &str,
    vs: &str,
    concurrency: usize,
    ours: f64,
    reference: f64,
    target: f64,
) -> serde_json::Value {
    let ratio = if reference > 0.0 {
        ours / reference
    } else {
        0.0
    };
    serde_json::json!({"scenario": "ratio", "of": of, "vs": vs, "concurrency": concurrency,
        "ours": round(ours, 1), "peer": round(reference, 1), "ratio": round(ratio, 3),
        "target": target, "pass": ratio >= target})
}

/// Adds a scenario's latency bound and its zero-error rule to its ratio line: the line
/// passes only if all three hold.
fn with_bounds(
    mut line: serde_json::Value,
    run: &serde_json::Value,
    p99_max_ms: f64,
) -> serde_json::Value {
    let p99 = run["p99_ms"].as_f64();
    let errors = run["errors"].as_u64();
    let bounded = p99.is_some_and(|p| p <= p99_max_ms) && errors == Some(0);
    let pass = line["pass"].as_bool() == Some(true) && bounded;
    line["p99_ms"] = serde_json::json!(p99);
    line["p99_max_ms"] = serde_json::json!(p99_max_ms);
    line["errors"] = serde_json::json!(errors);
    line["pass"] = serde_json::json!(pass);
    line
}

/// A peer's line (`../shared/peer/run.sh`) of `system` at `concurrency`.
fn peer_run(system: &str, concurrency: usize) -> impl Fn(&serde_json::Value) -> bool + '_ {
    move |l| l["system"] == system && l["concurrency"] == concurrency
}

/// One of our lines of `scenario` at `concurrency`.
fn our_run(scenario: &str, concurrency: usize) -> impl Fn(&serde_json::Value) -> bool + '_ {
    move |l| l["system"].is_null() && l["scenario"] == scenario && l["concurrency"] == concurrency
}

/// The reference rate for the run at `index`: the mean of the nearest reference runs before
/// and after it (either one alone when the other is missing).
fn neighbour_rate(
    lines: &[serde_json::Value],
    index: usize,
    reference: impl Fn(&serde_json::Value) -> bool,
    field: &str,
) -> Option<f64> {
    let before = lines[..index].iter().rev().find(|l| reference(l));
    let after = lines[index + 1..].iter().find(|l| reference(l));
    let rates: Vec<f64> = [before, after]
        .into_iter()
        .flatten()
        .filter_map(|l| l[field].as_f64())
        .collect();
    (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
}

/// The ratio lines of BENCHMARKS.md's targets for the recorded runs (ours and the peers', in
/// the order they ran). A target whose reference did not run is left out.
fn report(lines: &[serde_json::Value]) -> Vec<serde_json::Value> {
    const LIMIT: &str = "sled-group-commit-limit";
    const CQRS: &str = "cqrs-es+postgres-es";
    /// Concurrency of the scenarios that BENCHMARKS.md sets at 64 clients or appenders.
    const AT: usize = 64;
    let mut out = Vec::new();
    for (i, r) in lines.iter().enumerate() {
        if !r["system"].is_null() {
            continue; // a peer's line
        }
        let c = r["concurrency"].as_u64().unwrap_or(0) as usize;
        let events = r["events_per_s"].as_f64().unwrap_or(0.0);
        let ops = r["ops_per_s"].as_f64().unwrap_or(0.0);
        match r["scenario"].as_str() {
            Some("log_append") => {
                if let Some(limit) = neighbour_rate(lines, i, peer_run(LIMIT, c), "events_per_s") {
                    let line = ratio_line("log_append", LIMIT, c, events, limit, 0.85);
                    out.push(if c == AT {
                        with_bounds(line, r, 15.0)
                    } else {
                        line
                    });
                }
            }
            Some("log_append_multi") => {
                let single = our_run("log_append", AT);
                if let Some(single) = neighbour_rate(lines, i, single, "events_per_s") {
                    out.push(ratio_line(
                        "log_append_multi",
                        "log_append",
                        c,
                        events,
                        single,
                        0.8,
                    ));
                }
            }
            Some("command_inprocess") => {
                // At 64 against cqrs-es; at 1 both are bound by one fsync per command, so
                // there against the raw sled limit instead.
                if c == AT {
                    if let Some(cqrs) =
                        neighbour_rate(lines, i, peer_run(CQRS, c), "commands_per_s")
                    {
                        out.push(ratio_line("command_inprocess", CQRS, c, ops, cqrs, 8.0));
                    }
                }
                if c == 1 {
                    if let Some(limit) =
                        neighbour_rate(lines, i, peer_run(LIMIT, c), "events_per_s")
                    {
                        out.push(ratio_line("command_inprocess", LIMIT, c, ops, limit, 0.8));
                    }
                }
            }
            Some("http_commands") => {
                let floor = our_run("http_floor", c);
                if let Some(floor) = neighbour_rate(lines, i, floor, "ops_per_s") {
                    let line = ratio_line("http_commands", "http_floor", c, ops, floor, 0.5);
                    out.push(with_bounds(line, r, 25.0));
                }
            }
            Some("rebuild") => {
                out.push(target_line(
                    "rebuild",
                    "events_per_s",
                    r,
                    500_000.0,
                    Bound::Min,
                ));
                out.push(target_line("rebuild", "rss_mib", r, 512.0, Bound::Max));
            }
            Some("history") => {
                out.push(target_line("history", "p99_ms", r, 2.0, Bound::Max));
                if r["cli_ms"].is_number() {
                    out.push(target_line("history", "cli_ms", r, 300.0, Bound::Max));
                }
            }
            Some("restart") => out.push(target_line("restart", "seconds", r, 2.0, Bound::Max)),
            Some("disk") => out.push(target_line("disk", "ratio", r, 2.5, Bound::Max)),
            Some("http_reads_under_write") => {
                let mut line = target_line("http_reads_under_write", "p99_ms", r, 10.0, Bound::Max);
                let stale = r["stale"].as_u64();
                line["stale"] = serde_json::json!(stale);
                line["pass"] = serde_json::json!(line["pass"] == true && stale == Some(0));
                out.push(line);
            }
            Some("scale") => {
                // Against the run on the smallest log of the same run (BENCHMARKS.md: 10k).
                let before = |l: &serde_json::Value| l["events_before"].as_u64();
                let smallest = lines
                    .iter()
                    .filter(|l| l["system"].is_null() && l["scenario"] == "scale")
                    .min_by_key(|l| before(l).unwrap_or(u64::MAX));
                if let Some(small) = smallest.filter(|s| before(s) < before(r)) {
                    let reference = small["ops_per_s"].as_f64().unwrap_or(0.0);
                    let mut line = ratio_line("scale", "scale", c, ops, reference, SCALE_RATIO_MIN);
                    line["target_max"] = serde_json::json!(SCALE_RATIO_MAX);
                    line["events_before"] = serde_json::json!(before(r));
                    line["peer_events_before"] = serde_json::json!(before(small));
                    let ratio = line["ratio"].as_f64().unwrap_or(0.0);
                    line["pass"] =
                        serde_json::json!((SCALE_RATIO_MIN..=SCALE_RATIO_MAX).contains(&ratio));
                    out.push(line);
                }
            }
            _ => {}
        }
    }
    out
}

/// `scale`: throughput with a big log within ±20 % of that with the smallest.
const SCALE_RATIO_MIN: f64 = 0.8;
const SCALE_RATIO_MAX: f64 = 1.2;

/// Which side of a target a figure must stay on.
#[derive(Clone, Copy)]
enum Bound {
    /// At least the target.
    Min,
    /// At most the target.
    Max,
}

/// A `target` line: one absolute target of BENCHMARKS.md (a figure `measure` of a run of
/// `of`) checked for one run; a run without the figure fails it.
fn target_line(
    of: &str,
    measure: &str,
    run: &serde_json::Value,
    target: f64,
    bound: Bound,
) -> serde_json::Value {
    let ours = run[measure].as_f64();
    let met = ours.is_some_and(|v| match bound {
        Bound::Min => v >= target,
        Bound::Max => v <= target,
    });
    let errors = run["errors"].as_u64();
    let bound = match bound {
        Bound::Min => "min",
        Bound::Max => "max",
    };
    serde_json::json!({"scenario": "target", "of": of, "measure": measure,
        "concurrency": run["concurrency"], "ours": ours, "target": target, "bound": bound,
        "errors": errors, "pass": met && errors == Some(0)})
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
                for line in report(&lines) {
                    println!("{line}");
                }
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
    if let Some(part) = &args.child {
        std::process::exit(run_child(&args, part, seconds));
    }
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
    let wanted = |s: &str| args.only.is_empty() || args.only.iter().any(|o| o == s);
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
    // The floor runs first, in the same run, as the reference of `http_commands`.
    if wanted("http_floor") {
        emit(rt.block_on(http_floor(&dir, 64, seconds)));
    }
    if wanted("http_commands") {
        emit(rt.block_on(http_commands(&dir, 64, seconds)));
    }
    if wanted("coupon_claim_race") {
        let stock = if args.quick { 300 } else { 3_000 };
        println!("{}", rt.block_on(coupon_claim_race(&dir, 64, stock)));
    }
    drop(rt);
    let plan = big::Plan {
        base: dir.path(),
        reuse: args.fixture.clone(),
        fixture_events: args.fixture_events.unwrap_or(if args.quick {
            big::FIXTURE_EVENTS_QUICK
        } else {
            big::FIXTURE_EVENTS
        }),
        scale_small_events: if args.quick {
            big::SCALE_SMALL_EVENTS_QUICK
        } else {
            big::SCALE_SMALL_EVENTS
        },
        seconds,
        history_cli_runs: if args.quick {
            big::HISTORY_CLI_RUNS_QUICK
        } else {
            big::HISTORY_CLI_RUNS
        },
        replay_tool: args.replay_tool.clone(),
        wanted: &wanted,
    };
    let failed = big::run(&plan, &mut |line| println!("{line}")).err();
    if let Some(e) = &failed {
        eprintln!("marketlog-bench: {e}");
    }
    if args.keep {
        eprintln!(
            "marketlog-bench: data dirs kept in {}",
            dir.keep().display()
        );
    } else {
        drop(dir); // removes the run's data dirs (exit below runs no destructor)
    }
    if failed.is_some() {
        std::process::exit(1);
    }
}

/// `--child PART`: one part of a fixture scenario (`big`), its JSON lines on stdout; the
/// exit code.
fn run_child(args: &Args, part: &str, seconds: f64) -> i32 {
    let Some(root) = &args.data else {
        eprintln!("marketlog-bench: --child needs --data");
        return 2;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let data = fixture::data_dir(root);
    let info =
        || fixture::read_info(root).ok_or_else(|| format!("no fixture at {}", root.display()));
    let result: Result<serde_json::Value, String> = match part {
        "fixture" => {
            let events = args.fixture_events.unwrap_or(big::FIXTURE_EVENTS_QUICK);
            rt.block_on(fixture::build(root, events))
                .and_then(|i| serde_json::to_value(i).map_err(|e| e.to_string()))
                .map(|mut v| {
                    // The tokens stay in fixture.json; the line says what was built.
                    if let Some(o) = v.as_object_mut() {
                        o.remove("customer_tokens");
                        o.remove("customer_ids");
                        o.remove("seller_token");
                    }
                    v
                })
        }
        "read" => offline::read_all(&data),
        "rebuild" => offline::rebuild(&data, &args.model),
        "history" => info().map(|i| rt.block_on(served::history(root, &i, seconds))),
        "restart" => info().map(|i| rt.block_on(served::restart(root, &i))),
        "scale" => info().map(|i| rt.block_on(served::scale(root, &i, seconds))),
        "reads" => info().map(|i| {
            let probe = (seconds / 4.0).clamp(0.3, 2.0);
            rt.block_on(served::reads_under_write(root, &i, seconds, probe))
        }),
        other => Err(format!("unknown --child {other}")),
    };
    drop(rt);
    match result {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("marketlog-bench: {part}: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{neighbour_rate, peer_run, report};
    use serde_json::{json, Value};

    const LIMIT: &str = "sled-group-commit-limit";
    const CQRS: &str = "cqrs-es+postgres-es";

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
            neighbour_rate(&lines, 3, peer_run(LIMIT, 64), "events_per_s"),
            Some(15.0)
        );
        assert_eq!(
            neighbour_rate(&lines, 3, peer_run(LIMIT, 16), "events_per_s"),
            Some(99.0)
        );
        assert_eq!(
            neighbour_rate(&lines, 3, peer_run(LIMIT, 256), "events_per_s"),
            None
        );
    }

    fn ratios_of<'a>(lines: &'a [Value], of: &str) -> Vec<&'a Value> {
        lines.iter().filter(|l| l["of"] == of).collect()
    }

    #[test]
    fn http_commands_are_held_to_half_the_floor_a_p99_of_25_ms_and_no_errors() {
        let floor =
            |ops: f64| json!({"scenario": "http_floor", "concurrency": 64, "ops_per_s": ops});
        let commands = |ops: f64, p99: f64, errors: u64| json!({"scenario": "http_commands", "concurrency": 64, "ops_per_s": ops, "p99_ms": p99, "errors": errors});
        let lines = [
            floor(30_000.0),
            commands(12_500.0, 9.0, 0),
            floor(20_000.0),
            commands(12_500.0, 26.0, 0),
            commands(12_500.0, 9.0, 1),
            commands(9_000.0, 9.0, 0),
        ];
        let out = report(&lines);
        let http = ratios_of(&out, "http_commands");
        assert_eq!(http.len(), 4, "{out:?}");
        assert_eq!(http[0]["vs"], "http_floor");
        assert_eq!(
            http[0]["peer"], 25_000.0,
            "the mean of the floors on either side"
        );
        assert_eq!(http[0]["ratio"], 0.5);
        let passes: Vec<bool> = http.iter().map(|l| l["pass"].as_bool().unwrap()).collect();
        assert_eq!(passes, [true, false, false, false], "{http:?}");
        assert_eq!(http[1]["p99_max_ms"], 25.0);
        assert_eq!(http[2]["errors"], 1);
    }

    #[test]
    fn log_append_multi_is_compared_with_log_append_at_64_of_the_same_run() {
        let lines = [
            json!({"scenario": "log_append", "concurrency": 16, "events_per_s": 1.0}),
            json!({"scenario": "log_append", "concurrency": 64, "events_per_s": 50_000.0}),
            json!({"system": LIMIT, "concurrency": 64, "events_per_s": 60_000.0}),
            json!({"scenario": "log_append_multi", "concurrency": 64, "events_per_s": 45_000.0}),
            json!({"scenario": "log_append", "concurrency": 64, "events_per_s": 70_000.0}),
        ];
        let out = report(&lines);
        let multi = ratios_of(&out, "log_append_multi");
        assert_eq!(
            multi.len(),
            1,
            "no ratio against the limit any more: {out:?}"
        );
        assert_eq!(multi[0]["vs"], "log_append");
        assert_eq!(multi[0]["peer"], 60_000.0);
        assert_eq!(multi[0]["ratio"], 0.75);
        assert_eq!(multi[0]["target"], 0.8);
        assert_eq!(multi[0]["pass"], false);
    }

    #[test]
    fn scale_is_compared_with_its_run_on_the_smallest_log_within_20_percent() {
        let scale = |before: u64, ops: f64| json!({"scenario": "scale", "concurrency": 64, "events_before": before, "ops_per_s": ops});
        let lines = [
            scale(10_000, 4_000.0),
            scale(1_000_000, 3_300.0),
            scale(10_000_000, 3_100.0),
            scale(20_000_000, 4_900.0),
        ];
        let out = report(&lines);
        let ratios = ratios_of(&out, "scale");
        assert_eq!(ratios.len(), 3, "none for the smallest log itself: {out:?}");
        assert!(ratios.iter().all(|l| l["peer_events_before"] == 10_000));
        let passes: Vec<bool> = ratios
            .iter()
            .map(|l| l["pass"].as_bool().unwrap())
            .collect();
        assert_eq!(
            passes,
            [true, false, false],
            "0.825, 0.775, 1.225: {ratios:?}"
        );
    }

    #[test]
    fn an_absolute_target_passes_on_its_side_only_and_without_errors() {
        let lines = [
            json!({"scenario": "rebuild", "concurrency": 1, "events_per_s": 500_000.0, "rss_mib": 513.0, "errors": 0}),
            json!({"scenario": "restart", "concurrency": 1, "seconds": 1.5, "errors": 1}),
            json!({"scenario": "http_reads_under_write", "concurrency": 64, "p99_ms": 9.0, "stale": 1, "errors": 0}),
            json!({"scenario": "history", "concurrency": 1, "p99_ms": 1.0, "errors": 0}),
        ];
        let out = report(&lines);
        let verdicts: Vec<(&str, &str, bool)> = out
            .iter()
            .map(|l| {
                (
                    l["of"].as_str().unwrap(),
                    l["measure"].as_str().unwrap(),
                    l["pass"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            verdicts,
            [
                ("rebuild", "events_per_s", true),
                ("rebuild", "rss_mib", false),
                ("restart", "seconds", false),
                ("http_reads_under_write", "p99_ms", false),
                ("history", "p99_ms", true),
            ],
            "no cli_ms line without the CLI figure: {out:?}"
        );
    }

    #[test]
    fn command_inprocess_meets_cqrs_es_at_64_and_the_limit_only_at_1() {
        let lines = [
            json!({"system": LIMIT, "concurrency": 1, "events_per_s": 3_000.0}),
            json!({"scenario": "command_inprocess", "concurrency": 1, "ops_per_s": 2_500.0}),
            json!({"system": LIMIT, "concurrency": 1, "events_per_s": 3_000.0}),
            json!({"scenario": "command_inprocess", "concurrency": 16, "ops_per_s": 9_000.0}),
            json!({"system": CQRS, "concurrency": 64, "commands_per_s": 4_000.0}),
            json!({"system": LIMIT, "concurrency": 64, "events_per_s": 70_000.0}),
            json!({"scenario": "command_inprocess", "concurrency": 64, "ops_per_s": 30_000.0}),
            json!({"system": CQRS, "concurrency": 64, "commands_per_s": 2_000.0}),
        ];
        let out = report(&lines);
        let commands = ratios_of(&out, "command_inprocess");
        assert_eq!(commands.len(), 2, "{out:?}");
        assert_eq!(
            (&commands[0]["vs"], &commands[0]["concurrency"]),
            (&json!(LIMIT), &json!(1))
        );
        assert_eq!(commands[0]["target"], 0.8);
        assert_eq!(commands[0]["pass"], true);
        assert_eq!(
            (&commands[1]["vs"], &commands[1]["concurrency"]),
            (&json!(CQRS), &json!(64))
        );
        assert_eq!(commands[1]["ratio"], 10.0);
        assert_eq!(commands[1]["target"], 8.0);
        assert_eq!(commands[1]["pass"], true);
    }
}
