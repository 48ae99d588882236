//! The tamper matrix of issue 16 against the real `marketlog serve`: bytes flipped at many
//! offsets of `log/db`, truncations, deleted files, a damaged head anchor, damaged
//! checkpoints and leftovers of a failed run. For every case the server either exits 1 at
//! once with one clear line naming the data dir and `replay-tool verify` (never 101, never a
//! panic message or backtrace), or starts; and when it starts on a log that `replay-tool
//! verify` rejects, health says `degraded` with the position and every write answers 503
//! `store_fenced`; reading the whole log never hands out the same cursor twice.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use marketlog_tests::server::{run_replay_tool, Launch, Server, ADMIN_TOKEN};
use serde_json::{json, Value};

/// Orders placed in the prepared data dir (one event each, plus the market's setup).
const ORDERS: usize = 1_500;
/// Longest wait for the background integrity scan of the prepared log to finish.
const SCAN_WAIT: Duration = Duration::from_secs(10);

/// One way to damage a copy of the prepared data dir.
struct Case {
    name: String,
    damage: Box<dyn Fn(&Path)>,
}

fn case(name: impl Into<String>, damage: impl Fn(&Path) + 'static) -> Case {
    Case {
        name: name.into(),
        damage: Box::new(damage),
    }
}

fn copy_tree(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to);
        } else if entry.file_name() != "LOCK" {
            fs::copy(entry.path(), &to).unwrap();
        }
    }
}

fn flip_at(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).unwrap();
    let at = usize::try_from(offset).unwrap().min(bytes.len() - 1);
    bytes[at] ^= 0x5a;
    fs::write(path, bytes).unwrap();
}

fn truncate_to(path: &Path, len: u64) {
    let f = fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(len).unwrap();
}

fn len_of(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

/// A stopped server's data dir with a market and [`ORDERS`] orders, and its head.
fn prepare(dir: &Path) -> u64 {
    let server = Server::start(dir);
    let m = server.market();
    for _ in 0..ORDERS {
        server
            .send(
                "POST",
                "/v1/orders",
                Some(&m.customer),
                &[],
                Some(&json!({"product_id": m.product, "spec_id": "m", "quantity": 1, "order_type": "new"})),
            )
            .expect(201);
    }
    let head = server.head();
    server.stop();
    head
}

fn cases(db_len: u64) -> Vec<Case> {
    let db = |d: &Path| d.join("log").join("db");
    let mut all = Vec::new();
    let mut offsets = vec![0, 1, 17, 512, 4_096, 5_767, 7_551, 65_536, 2_883_584];
    for percent in [10, 25, 50, 75, 90, 95, 99] {
        offsets.push(db_len * percent / 100);
    }
    offsets.push(db_len.saturating_sub(1));
    for offset in offsets {
        all.push(case(format!("flip log/db at {offset}"), move |d| {
            flip_at(&db(d), offset)
        }));
    }
    all.push(case("truncate log/db to half", move |d| {
        truncate_to(&db(d), len_of(&db(d)) / 2)
    }));
    all.push(case("cut 4 KiB off log/db", move |d| {
        truncate_to(&db(d), len_of(&db(d)).saturating_sub(4_096))
    }));
    all.push(case("delete head.anchor", |d| {
        fs::remove_file(d.join("head.anchor")).unwrap()
    }));
    all.push(case(
        "delete head.anchor and cut 4 KiB off log/db",
        move |d| {
            fs::remove_file(d.join("head.anchor")).unwrap();
            truncate_to(&db(d), len_of(&db(d)).saturating_sub(4_096));
        },
    ));
    all.push(case("zero head.anchor", |d| {
        let a = d.join("head.anchor");
        fs::write(&a, vec![0u8; usize::try_from(len_of(&a)).unwrap()]).unwrap();
    }));
    all.push(case("garbage head.anchor", |d| {
        fs::write(d.join("head.anchor"), [0xff, 0xfe, 0x80, 0x00, 0x41]).unwrap()
    }));
    all.push(case("empty head.anchor", |d| {
        fs::write(d.join("head.anchor"), b"").unwrap()
    }));
    all.push(case("delete log/db", move |d| {
        fs::remove_file(db(d)).unwrap()
    }));
    all.push(case("delete log/conf", |d| {
        fs::remove_file(d.join("log").join("conf")).unwrap()
    }));
    all.push(case("delete the log directory", |d| {
        fs::remove_dir_all(d.join("log")).unwrap()
    }));
    all.push(case("flip a byte of every checkpoint", |d| {
        for entry in fs::read_dir(d.join("views")).unwrap() {
            let path = entry.unwrap().path();
            let len = len_of(&path);
            flip_at(&path, len / 2);
        }
    }));
    all.push(case("truncate every checkpoint to 10 bytes", |d| {
        for entry in fs::read_dir(d.join("views")).unwrap() {
            truncate_to(&entry.unwrap().path(), 10);
        }
    }));
    all.push(case("leftovers of a failed run", |d| {
        fs::write(d.join("log").join("snap.0000000000123456.generating"), b"").unwrap();
        fs::write(d.join("views").join(".orders.snap.tmp"), b"half").unwrap();
    }));
    all
}

/// `GET /v1/health` until the integrity scan finished or damage was found.
fn settled_health(server: &Server) -> Value {
    let started = domain::clock::monotonic_now();
    loop {
        let health = server.get("/v1/health").expect(200);
        let integrity = &health["integrity"];
        if integrity["status"] != "ok" || integrity["scan"] == "finished" {
            return health;
        }
        assert!(
            started.elapsed() < SCAN_WAIT,
            "the integrity scan did not finish: {health}"
        );
        // Real waiting for the server's background scan, bounded by SCAN_WAIT.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pages through `GET /v1/events`: every page either answers an error or moves the cursor.
fn read_whole_log(server: &Server, name: &str) {
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v1/events?limit=500".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = server.send("GET", &path, Some(ADMIN_TOKEN), &[], None);
        if page.status != 200 {
            assert_eq!(page.status, 503, "{name}: reading the log: {page:?}");
            page.error(503, "store_fenced");
            return;
        }
        let page = page.json();
        match page["next_cursor"].as_str() {
            None => return,
            Some(next) => {
                assert_ne!(
                    cursor.as_deref(),
                    Some(next),
                    "{name}: the cursor did not move"
                );
                cursor = Some(next.to_owned());
            }
        }
    }
}

/// A write that needs no state: a new principal.
fn try_write(server: &Server) -> marketlog_tests::server::Reply {
    server.post(
        "/v1/principals",
        &json!({"role": "customer", "name": "After the damage"}),
    )
}

#[test]
fn a_damaged_data_dir_is_refused_or_fenced_never_served_as_whole() {
    let base_dir = tempfile::tempdir().unwrap();
    let base = base_dir.path().join("data");
    let head = prepare(&base);
    let db_len = len_of(&base.join("log").join("db"));
    let verify_built = run_replay_tool(&["verify"], &base).is_some();
    if !verify_built {
        eprintln!(
            "replay-tool is not built: the matrix checks exits and fencing without comparing \
             with `replay-tool verify` (build it, e.g. `cargo test --workspace --release`)"
        );
    }
    let mut summary = Vec::new();
    for c in cases(db_len) {
        let dir = tempfile::tempdir().unwrap();
        let data: PathBuf = dir.path().join("data");
        copy_tree(&base, &data);
        (c.damage)(&data);
        // What verify says about this copy (on its own copy; the tool never changes it).
        let verdict = run_replay_tool(&["verify"], &data);
        let started = domain::clock::monotonic_now();
        match Launch::new(&data).spawn() {
            Err(exited) => {
                let text = format!("{}{}", exited.stdout, exited.stderr);
                assert_eq!(
                    exited.status.code(),
                    Some(1),
                    "{}: exit status {} (never 101 or a signal)\n{text}",
                    c.name,
                    exited.status
                );
                assert!(
                    !text.contains("panicked") && !text.contains("backtrace"),
                    "{}: a panic reached the output\n{text}",
                    c.name
                );
                assert!(
                    text.contains(&data.display().to_string())
                        && text.contains("replay-tool verify"),
                    "{}: the message must name the data dir and what to run\n{text}",
                    c.name
                );
                if let Some((code, out)) = &verdict {
                    assert_ne!(
                        *code, 0,
                        "{}: the server refused a log verify accepts: {out}\n{text}",
                        c.name
                    );
                }
                summary.push(format!("{}: refused ({:?})", c.name, started.elapsed()));
            }
            Ok(server) => {
                let health = settled_health(&server);
                let damaged = health["integrity"]["status"] == "damaged";
                if let Some((code, out)) = &verdict {
                    if *code != 0 {
                        assert!(
                            damaged,
                            "{}: verify rejects this log ({out}) but the server says {health}",
                            c.name
                        );
                    }
                }
                if damaged {
                    assert_eq!(health["status"], "degraded", "{}: {health}", c.name);
                    assert!(
                        health["integrity"]["position"].is_u64(),
                        "{}: {health}",
                        c.name
                    );
                    assert!(
                        health["integrity"]["reason"].is_string(),
                        "{}: {health}",
                        c.name
                    );
                    let details = try_write(&server).error(503, "store_fenced");
                    assert!(details["position"].is_u64(), "{}: {details}", c.name);
                    read_whole_log(&server, &c.name);
                    assert!(
                        server.head() <= head.max(health["log_position"].as_u64().unwrap()),
                        "{}: something was appended to a fenced log",
                        c.name
                    );
                    summary.push(format!(
                        "{}: fenced at {} by {} ({:?})",
                        c.name,
                        health["integrity"]["position"],
                        health["integrity"]["found_by"],
                        started.elapsed()
                    ));
                } else {
                    assert_eq!(health["status"], "ok", "{}: {health}", c.name);
                    assert_eq!(server.head(), head, "{}: a whole log lost events", c.name);
                    try_write(&server).expect(201);
                    read_whole_log(&server, &c.name);
                    summary.push(format!("{}: whole ({:?})", c.name, started.elapsed()));
                }
                let stderr = server.stderr();
                assert!(!stderr.contains("panicked"), "{}: {stderr}", c.name);
                server.kill9();
            }
        }
    }
    eprintln!(
        "tamper matrix ({} cases):\n{}",
        summary.len(),
        summary.join("\n")
    );
}
