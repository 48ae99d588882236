//! Black-box tests: the real `marketlog serve` on a free port with a temp data dir and the
//! simulated clock, driven over HTTP as a client would; restarts, SIGTERM and SIGKILL.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use marketlog_tests::load::Load;
use marketlog_tests::server::{replay_tool_binary, run_replay_tool, Launch, Server, ADMIN_TOKEN};
use serde_json::{json, Value};

fn create_org(s: &Server, name: &str) -> (String, u64) {
    let v = s.post("/v1/orgs", &json!({ "name": name })).expect(201);
    (
        v["id"].as_str().unwrap().to_owned(),
        v["position"].as_u64().unwrap(),
    )
}

fn create_principal(s: &Server, body: Value) -> (String, String) {
    let v = s.post("/v1/principals", &body).expect(201);
    (
        v["id"].as_str().unwrap().to_owned(),
        v["token"].as_str().unwrap().to_owned(),
    )
}

fn org_ids_in_log(s: &Server) -> Vec<String> {
    s.all_events(ADMIN_TOKEN, "&type=OrgCreated")
        .iter()
        .map(|e| e["data"]["org_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn auth_and_token_revocation_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    s.send("GET", "/v1/me", None, &[], None)
        .error(401, "unauthenticated");
    s.send("GET", "/v1/me", Some("wrong-token-0123456789"), &[], None)
        .error(401, "unauthenticated");
    assert_eq!(s.get("/v1/me").expect(200)["role"], "platform");

    let (id, token) = create_principal(&s, json!({"role": "customer", "name": "Bo"}));
    let me = s.send("GET", "/v1/me", Some(&token), &[], None).expect(200);
    assert_eq!(me["id"], id);
    assert_eq!(me["role"], "customer");
    s.send(
        "POST",
        "/v1/orgs",
        Some(&token),
        &[],
        Some(&json!({"name": "Mine"})),
    )
    .error(403, "forbidden");

    let revoked = s
        .send(
            "DELETE",
            &format!("/v1/principals/{id}"),
            Some(ADMIN_TOKEN),
            &[],
            None,
        )
        .expect(200);
    assert_eq!(revoked["revoked"], true);
    // The very next request with that token, on a fresh connection too, is refused.
    s.send("GET", "/v1/me", Some(&token), &[], None)
        .error(401, "unauthenticated");
    let fresh = reqwest::blocking::Client::new();
    let r = fresh
        .get(s.url("/v1/me"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // The revocation is in the log, the token is not.
    let events = s.all_events(ADMIN_TOKEN, "");
    let revocation = events
        .iter()
        .find(|e| e["type"] == "PrincipalRevoked")
        .expect("a PrincipalRevoked event");
    assert_eq!(revocation["data"]["principal_id"], id);
    let log_text = serde_json::to_string(&events).unwrap();
    assert!(!log_text.contains(&token), "a token is in the log");
    s.stop();
}

#[test]
fn idempotent_retry_of_org_creation_returns_the_same_id() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let body = json!({"name": "Beta"});
    let send = |b: &Value| {
        s.send(
            "POST",
            "/v1/orgs",
            Some(ADMIN_TOKEN),
            &[("Idempotency-Key", "create-beta-1")],
            Some(b),
        )
    };
    let first = send(&body).expect(201);
    let head = s.head();
    let second = send(&body).expect(201);
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["position"], first["position"]);
    assert_eq!(s.head(), head, "the retry appended");
    send(&json!({"name": "Gamma"})).error(422, "idempotency_key_reused");
    assert_eq!(org_ids_in_log(&s), vec![first["id"].as_str().unwrap()]);
    // Without a key the same body is a new organisation.
    let (other, _) = create_org(&s, "Beta");
    assert_ne!(other, first["id"].as_str().unwrap());
    // The key survives a restart and is still kept 23 h later.
    let launch = s.launch().clone();
    s.stop();
    let s = launch.start();
    s.post("/v1/admin/clock/advance", &json!({"seconds": 23 * 3600}))
        .expect(200);
    let head = s.head();
    let retry = s
        .send(
            "POST",
            "/v1/orgs",
            Some(ADMIN_TOKEN),
            &[("Idempotency-Key", "create-beta-1")],
            Some(&body),
        )
        .expect(201);
    assert_eq!(retry["id"], first["id"]);
    assert_eq!(s.head(), head, "the retry after a restart appended");
    s.stop();
}

#[test]
fn if_match_conflicts_answer_409_with_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let put = |if_match: &str, day: &str| {
        s.send(
            "PUT",
            "/v1/calendar/2026",
            Some(ADMIN_TOKEN),
            &[("If-Match", if_match)],
            Some(&json!({"holidays": [day], "workdays": []})),
        )
    };
    let r = put("\"0\"", "2026-10-01");
    assert_eq!(r.expect(200)["version"], 1);
    assert_eq!(r.header("etag").as_deref(), Some("\"1\""));
    // A second writer that read version 0 loses.
    let d = put("\"0\"", "2026-10-02").error(409, "version_conflict");
    assert_eq!(d["current_version"], 1);
    let d = put("\"5\"", "2026-10-02").error(409, "version_conflict");
    assert_eq!(d["current_version"], 1);
    let r = put("\"1\"", "2026-10-02");
    let v = r.expect(200);
    assert_eq!(v["version"], 2);
    assert_eq!(r.header("etag").as_deref(), Some("\"2\""));
    let position = v["position"].as_u64().unwrap().to_string();
    let cal = s
        .send(
            "GET",
            "/v1/calendar/2026",
            Some(ADMIN_TOKEN),
            &[("X-Min-Position", &position)],
            None,
        )
        .expect(200);
    assert_eq!(cal["holidays"], json!(["2026-10-02"]));
    s.stop();
}

#[test]
fn read_your_writes_via_x_min_position() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    for (i, day) in ["2026-01-01", "2026-02-17", "2026-05-01", "2026-10-01"]
        .iter()
        .enumerate()
    {
        let put = s
            .send(
                "PUT",
                "/v1/calendar/2026",
                Some(ADMIN_TOKEN),
                &[],
                Some(&json!({"holidays": [day], "workdays": []})),
            )
            .expect(200);
        let position = put["position"].as_u64().unwrap();
        let r = s.send(
            "GET",
            "/v1/calendar/2026",
            Some(ADMIN_TOKEN),
            &[("X-Min-Position", &position.to_string())],
            None,
        );
        assert_eq!(r.expect(200)["holidays"], json!([day]), "write {i}");
        let served: u64 = r.header("x-projection-position").unwrap().parse().unwrap();
        assert!(served >= position);
    }
    s.stop();
}

// ---------------------------------------------------------------------------------------
// Server-Sent Events

/// An event of the live feed.
#[derive(Debug)]
struct LiveEvent {
    id: u64,
    event: String,
    data: Value,
}

/// Reads `text/event-stream` from a reqwest byte stream.
struct LiveFeed {
    stream: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
    buffer: String,
}

impl LiveFeed {
    async fn open(base: &str, query: &str, last_event_id: Option<u64>) -> LiveFeed {
        use futures::StreamExt;
        let client = reqwest::Client::new();
        let mut req = client
            .get(format!("{base}/v1/events/live{query}"))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        LiveFeed {
            stream: Box::pin(r.bytes_stream().map(|c| c.map(|b| b.to_vec()))),
            buffer: String::new(),
        }
    }

    /// The next event; `None` when the server ended the stream; panics after 15 s.
    async fn next(&mut self) -> Option<LiveEvent> {
        use futures::StreamExt;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse::<u64>().unwrap());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                let Some(id) = id else { continue }; // keep-alive comment
                return Some(LiveEvent {
                    id,
                    event,
                    data: serde_json::from_str(&data).unwrap(),
                });
            }
            match tokio::time::timeout(Duration::from_secs(15), self.stream.next()).await {
                Err(_) => panic!("no event within 15 s; buffered {:?}", self.buffer),
                Ok(None) => return None,
                Ok(Some(Err(e))) => panic!("live feed failed: {e}"),
                Ok(Some(Ok(chunk))) => self.buffer.push_str(std::str::from_utf8(&chunk).unwrap()),
            }
        }
    }
}

async fn post_org(client: &reqwest::Client, base: &str, name: &str) -> (String, u64) {
    let r = client
        .post(format!("{base}/v1/orgs"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.unwrap();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["position"].as_u64().unwrap(),
    )
}

#[test]
fn live_events_catch_up_then_follow_and_resume_after_last_event_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let base = server.base.clone();
    for i in 0..3 {
        create_org(&server, &format!("Before {i}"));
    }
    let before = server.head();
    // The server is stopped from a plain thread while a feed is open.
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let stopper = std::thread::spawn(move || {
        let _ = stop_rx.recv();
        server.stop()
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut feed = LiveFeed::open(&base, "?from_position=1", None).await;
        let mut ids = Vec::new();
        while ids.last() != Some(&before) {
            let e = feed.next().await.expect("feed ended during catch-up");
            assert_eq!(e.data["position"], e.id);
            assert_eq!(e.event, e.data["type"].as_str().unwrap());
            ids.push(e.id);
        }
        assert_eq!(ids, (1..=before).collect::<Vec<_>>(), "catch-up");
        // Live: written after the catch-up, delivered in order, once.
        let mut written = Vec::new();
        for i in 0..4 {
            written.push(post_org(&client, &base, &format!("After {i}")).await);
        }
        for (org, position) in &written {
            let e = feed.next().await.expect("feed ended while live");
            assert_eq!(e.id, *position);
            assert_eq!(e.event, "OrgCreated");
            assert_eq!(&e.data["data"]["org_id"], org);
            ids.push(e.id);
        }
        let head = written.last().unwrap().1;
        assert_eq!(ids, (1..=head).collect::<Vec<_>>(), "gap or duplicate");

        // A reconnect with Last-Event-ID: N starts at N + 1 (and wins over from_position).
        let mut resumed = LiveFeed::open(&base, "?from_position=1", Some(before)).await;
        for want in before + 1..=head {
            assert_eq!(resumed.next().await.unwrap().id, want);
        }
        let (org, position) = post_org(&client, &base, "Last").await;
        let e = resumed.next().await.unwrap();
        assert_eq!(
            (e.id, e.data["data"]["org_id"].as_str()),
            (position, Some(org.as_str()))
        );
        let e = feed.next().await.unwrap();
        assert_eq!(e.id, position);

        // SIGTERM ends open feeds, so a graceful stop is not held up by them.
        stop_tx.send(()).unwrap();
        assert!(feed.next().await.is_none(), "feed went on after SIGTERM");
        assert!(resumed.next().await.is_none());
    });
    stopper.join().expect("graceful stop with open feeds");
}

// ---------------------------------------------------------------------------------------
// Stopping and restarting

/// Writers that create organisations as fast as the server answers, each with its own
/// connection, until the server stops answering or they are stopped.
struct Writers(Load<(Vec<String>, Vec<String>)>);

impl Writers {
    fn start(base: &str, n: usize) -> Writers {
        let base = base.to_owned();
        Writers(Load::start(n, move |w, ctx| {
            let (mut ids, mut odd) = (Vec::new(), Vec::new());
            for i in 0.. {
                if ctx.stopped() {
                    break;
                }
                let r = ctx
                    .client
                    .post(format!("{base}/v1/orgs"))
                    .bearer_auth(ADMIN_TOKEN)
                    .json(&json!({ "name": format!("w{w}-{i}") }))
                    .send();
                let Ok(r) = r else { break }; // refused or reset: the server is gone
                let status = r.status().as_u16();
                let Ok(v) = r.json::<Value>() else { break }; // cut mid-answer
                if status == 201 {
                    ids.push(v["id"].as_str().unwrap().to_owned());
                    ctx.acked();
                } else {
                    odd.push(format!("{status} {v}"));
                    break;
                }
            }
            (ids, odd)
        }))
    }

    fn wait_for_acks(&self, n: usize) {
        self.0.wait_for_acks(n);
    }

    /// Every acknowledged org id, and any answer that was neither 201 nor a cut connection.
    fn finish(self) -> (Vec<String>, Vec<String>) {
        let (mut ids, mut odd) = (Vec::new(), Vec::new());
        for (i, o) in self.0.finish() {
            ids.extend(i);
            odd.extend(o);
        }
        (ids, odd)
    }
}

#[test]
fn sigterm_with_requests_in_flight_exits_0_and_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let writers = Writers::start(&s.base, 4);
    writers.wait_for_acks(40);
    let launch = s.launch().clone();
    s.stop(); // SIGTERM while the writers keep sending; asserts exit status 0
    let (acked, odd) = writers.finish();
    assert!(acked.len() >= 40);
    // While draining, a request is either answered 201 or not at all (503 = log closed).
    assert!(
        odd.iter().all(|o| o.starts_with("503")),
        "unexpected answers during shutdown: {odd:?}"
    );
    assert!(dir.path().join("views/directory.snap").is_file());

    let s = launch.start();
    let in_log: HashSet<String> = org_ids_in_log(&s).into_iter().collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !in_log.contains(*id)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert_eq!(acked.len(), acked.iter().collect::<HashSet<_>>().len());
    s.stop();
}

#[test]
fn restart_resumes_projections_from_their_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let (org, _) = create_org(&s, "Acme");
    let (isv_id, isv) = create_principal(
        &s,
        json!({"role": "isv_admin", "name": "Ann", "org_id": org}),
    );
    let (_, customer) = create_principal(
        &s,
        json!({"role": "customer", "name": "Bo", "real_name_verified": true}),
    );
    let (revoked_id, revoked) = create_principal(&s, json!({"role": "auditor", "name": "Cy"}));
    s.send(
        "DELETE",
        &format!("/v1/principals/{revoked_id}"),
        Some(ADMIN_TOKEN),
        &[],
        None,
    )
    .expect(200);
    s.send(
        "PUT",
        "/v1/calendar/2026",
        Some(ADMIN_TOKEN),
        &[],
        Some(&json!({"holidays": ["2026-10-01"], "workdays": ["2026-10-10"]})),
    )
    .expect(200);
    let head = s.head();
    let launch = s.launch().clone();
    s.stop();
    let snap = dir.path().join("views").join("directory.snap");
    assert!(snap.is_file(), "no checkpoint at {}", snap.display());
    assert!(std::fs::metadata(&snap).unwrap().len() > 0);

    let s = launch.start();
    // Right away: the directory is at the head, nothing appended by the restart.
    let list = s.get("/v1/projections").expect(200);
    assert_eq!(list["log_position"], head);
    let dir_view = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "directory")
        .unwrap()
        .clone();
    assert_eq!(dir_view["position"], head, "{list}");
    assert_eq!(dir_view["lag"], 0);
    assert_eq!(dir_view["status"], "running");
    // The data is intact.
    let me = s.send("GET", "/v1/me", Some(&isv), &[], None).expect(200);
    assert_eq!(
        (me["id"].as_str(), me["org_id"].as_str()),
        (Some(isv_id.as_str()), Some(org.as_str()))
    );
    assert_eq!(
        s.send("GET", "/v1/me", Some(&customer), &[], None)
            .expect(200)["role"],
        "customer"
    );
    s.send("GET", "/v1/me", Some(&revoked), &[], None)
        .error(401, "unauthenticated");
    let cal = s.get("/v1/calendar/2026").expect(200);
    assert_eq!(cal["holidays"], json!(["2026-10-01"]));
    assert_eq!(cal["workdays"], json!(["2026-10-10"]));
    // And it keeps following the log.
    let (_, token) = create_principal(&s, json!({"role": "analyst", "name": "Di"}));
    s.send("GET", "/v1/me", Some(&token), &[], None).expect(200);
    s.stop();
}

#[test]
fn simulated_clock_resumes_from_the_last_recorded_time_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let v = s
        .post("/v1/admin/clock/advance", &json!({"seconds": 2 * 86_400}))
        .expect(200);
    assert_eq!(v["now"], "2026-11-24T09:00:00+08:00");
    create_org(&s, "Later");
    let launch = s.launch().clone();
    s.stop();
    let s = launch.start(); // same --simulated-clock start as before
    create_org(&s, "After restart");
    let events = s.all_events(ADMIN_TOKEN, "&type=OrgCreated");
    assert_eq!(events[0]["at"], "2026-11-24T09:00:00+08:00");
    assert_eq!(
        events[1]["at"], "2026-11-24T09:00:00+08:00",
        "time went backwards"
    );
    s.stop();
}

/// `replay-tool verify --data DIR --no-progress` exit code and output; when the binary has
/// not been built (it is only with `cargo test --workspace` or `-p replay-tool`), the same
/// checks through the library the tool uses.
fn verify_offline(data: &Path) -> (i32, String) {
    if let Some(result) = run_replay_tool(&["verify"], data) {
        return result;
    }
    eprintln!("replay-tool is not built next to marketlog; verifying through eventlog::verify");
    let copy = eventlog::OfflineCopy::take(data).unwrap();
    let log = eventlog::SledLog::open(copy.path()).unwrap();
    let anchor = eventlog::read_anchor(copy.path()).unwrap();
    let report = eventlog::verify::verify_log(&log, anchor, &mut |_, _| {}).unwrap();
    let code = if report.problem.is_none() { 0 } else { 1 };
    let text = format!("checked {} records: {report:?}", report.records_checked);
    (code, text)
}

#[test]
fn kill_9_keeps_every_acknowledged_write_and_the_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let writers = Writers::start(&s.base, 4);
    writers.wait_for_acks(40);
    let launch = s.launch().clone();
    s.kill9();
    let (acked, _) = writers.finish();
    assert!(acked.len() >= 40);

    let (code, out) = verify_offline(dir.path());
    assert_eq!(code, 0, "verify after kill -9 failed:\n{out}");

    let s = launch.start();
    let in_log: HashSet<String> = org_ids_in_log(&s).into_iter().collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !in_log.contains(*id)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    // Positions are gap-free from 1 to the head.
    let positions: Vec<u64> = s
        .all_events(ADMIN_TOKEN, "")
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, (1..=s.head()).collect::<Vec<_>>());
    // The service goes on where it stopped.
    let (_, head) = create_org(&s, "After the crash");
    s.stop();
    let (code, out) = verify_offline(dir.path());
    assert_eq!(code, 0, "verify after restart failed:\n{out}");
    assert!(out.contains(&format!("checked {head} records")), "{out}");
}

#[test]
fn a_second_server_on_the_same_data_dir_fails_fast_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(dir.path());
    create_org(&first, "Acme");
    let started = domain::clock::monotonic_now();
    let second = Launch::new(dir.path()).spawn();
    let exited = match second {
        Ok(s) => panic!("a second server started on {}", s.base),
        Err(e) => e,
    };
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(exited.status.code(), Some(2), "stderr: {}", exited.stderr);
    assert!(
        exited.stderr.contains("in use"),
        "stderr does not say `in use`: {}",
        exited.stderr
    );
    // replay-tool refuses the held dir the same way (API.md §10).
    if let Some(tool) = replay_tool_binary() {
        let out = Command::new(tool)
            .args(["verify", "--no-progress", "--data"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));
    }
    // The first one is unharmed.
    assert_eq!(org_ids_in_log(&first).len(), 1);
    create_org(&first, "Still serving");
    first.stop();
}

/// The token of the first complete "admin token" line (the reader may hold half a line).
fn generated_token(stderr: &str) -> Option<String> {
    stderr
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .find(|l| l.contains("admin token"))
        .and_then(|l| l.split_whitespace().last())
        .map(str::to_owned)
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_generated_admin_token_is_printed_once_on_stderr_and_works() {
    let dir = tempfile::tempdir().unwrap();
    let s = Launch::new(dir.path()).without_admin_token().start();
    // Printed before the listening line; give the stderr reader a moment to catch up.
    let started = domain::clock::monotonic_now();
    let token = loop {
        if let Some(t) = generated_token(&s.stderr()) {
            break t;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no admin token on stderr: {}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(token.len() >= 16, "{token}");
    assert!(!s.stdout().contains(&token), "the token is on stdout");
    let me = s.send("GET", "/v1/me", Some(&token), &[], None).expect(200);
    assert_eq!(me["role"], "platform");
    s.send(
        "POST",
        "/v1/orgs",
        Some(&token),
        &[],
        Some(&json!({"name": "Acme"})),
    )
    .expect(201);
    let launch = s.launch().clone();
    let stderr = s.stop();
    assert_eq!(stderr.matches(&token).count(), 1, "printed more than once");
    // Only its hash is stored.
    for f in files_under(dir.path()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token is stored in {}",
            f.display()
        );
    }
    // A restart prints no new token and the old one still works.
    let s = launch.start();
    s.send("GET", "/v1/me", Some(&token), &[], None).expect(200);
    let stderr = s.stop();
    assert_eq!(generated_token(&stderr), None, "a second token: {stderr}");
}

#[test]
fn sigterm_right_after_the_listening_line_exits_0() {
    let mut failures = Vec::new();
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let s = Server::start(dir.path());
        s.terminate();
        let (status, stderr) = s.wait_after_terminate();
        if !status.success() {
            failures.push(format!("round {round}: {status}: {stderr}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 20: {failures:#?}",
        failures.len()
    );
}
