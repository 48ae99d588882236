//! `replay-tool rebuild`: offline on the real data dir (checkpoints stored, then checked equal;
//! a missing checkpoint differs; a busy dir is refused), online through the server's
//! blue/green rebuild, and the flags that pick the models.

mod fixture;
mod live;

use std::fs;
use std::path::Path;

use eventlog::SledLog;
use fixture::{replay_tool, run_raw, snapshot};
use live::{market, online, LiveApi, ADMIN};

/// The bytes of every checkpoint under `views/`.
fn views(data_dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    snapshot(&data_dir.join("views"))
}

/// The head of a closed data dir's log.
fn head_of(data_dir: &Path) -> u64 {
    let _serial = fixture::serial();
    let copy = eventlog::OfflineCopy::take(data_dir).unwrap();
    let log = SledLog::open(copy.path()).unwrap();
    let head = eventlog::EventStore::head(&log);
    log.close().unwrap();
    head
}

#[test]
fn offline_rebuild_stores_checkpoints_that_check_equal() {
    let api = LiveApi::start();
    market(&api.url);
    let dir = api.stop();
    let data = dir.path();
    let head = head_of(data);
    assert!(head > 10, "{head}");

    let run = replay_tool(data, &["rebuild", "--all"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let want: String = projections::registry::names()
        .iter()
        .map(|n| format!("rebuilt {n} to position {head}\n"))
        .collect();
    assert_eq!(run.stdout, want);
    assert_eq!(run.stderr, "");
    for name in projections::registry::names() {
        assert!(
            data.join("views").join(format!("{name}.snap")).is_file(),
            "{name}"
        );
    }
    assert!(
        !fs::read_dir(data.join("views")).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")),
        "no temp file is left behind"
    );

    // --check compares and writes no checkpoint.
    let stored = views(data);
    let run = replay_tool(data, &["rebuild", "--all", "--check"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let want: String = projections::registry::names()
        .iter()
        .map(|n| format!("{n}: equal at position {head}\n"))
        .collect();
    assert_eq!(run.stdout, want);
    assert!(stored == views(data), "--check changed a checkpoint");

    // Without its checkpoint, orders has nothing stored to compare (not a difference: exit
    // 0); the others stay equal.
    fs::remove_file(data.join("views").join("orders.snap")).unwrap();
    let run = replay_tool(data, &["rebuild", "--all", "--check"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "orders: nothing stored to compare with at position {head} (no checkpoint)\n"
        )),
        "{run:?}"
    );
    assert_eq!(
        run.stdout.matches(": equal at position ").count(),
        projections::registry::names().len() - 1
    );
    assert!(
        !data.join("views").join("orders.snap").exists(),
        "--check wrote it"
    );

    // A damaged checkpoint is no checkpoint either.
    let products = data.join("views").join("products.snap");
    let mut bytes = fs::read(&products).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(&products, bytes).unwrap();
    let run = replay_tool(data, &["rebuild", "--projection", "products", "--check"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout.starts_with("products: DIFFERS at position "),
        "{run:?}"
    );

    // Rebuilding one model brings it back.
    for name in ["orders", "products"] {
        let run = replay_tool(data, &["rebuild", "--projection", name]);
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.stdout, format!("rebuilt {name} to position {head}\n"));
    }
    let run = replay_tool(data, &["rebuild", "--all", "--check"]);
    assert_eq!(run.code, Some(0), "{run:?}");

    // The log itself is unharmed.
    let run = replay_tool(data, &["verify"]);
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[test]
fn a_stored_model_that_differs_names_its_first_differing_path() {
    let api = LiveApi::start();
    let m = market(&api.url);
    let dir = api.stop();
    let data = dir.path();
    let head = head_of(data);
    // A checkpoint of the right log whose product row says another version: what a model
    // that folded an event wrongly would have stored.
    let version = {
        let _serial = fixture::serial();
        let log = SledLog::open(data).unwrap();
        let mut built = projections::runtime::build::<projections::products::Products>(
            &log,
            head,
            &mut |_, _| {},
        )
        .unwrap();
        let row = built.state.by_id.get_mut(&m.product_id).unwrap();
        let version = row.version;
        row.version += 10;
        projections::runtime::store_checkpoint::<projections::products::Products>(
            data, &built, &log,
        )
        .unwrap();
        log.close().unwrap();
        version
    };
    let run = replay_tool(data, &["rebuild", "--all", "--check"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let line = format!(
        "products: DIFFERS at position {head}: first difference at /by_id/{}/version: stored {}, rebuilt {version}\n",
        m.product_id,
        version + 10
    );
    assert!(run.stdout.contains(&line), "{run:?}");
    assert_eq!(run.stdout.matches("DIFFERS").count(), 1, "{run:?}");
}

#[test]
fn a_data_dir_in_use_or_missing_is_exit_2() {
    let api = LiveApi::start();
    market(&api.url);
    let dir = api.stop();
    let before = snapshot(dir.path());
    let held = SledLog::open(dir.path()).unwrap();
    for args in [
        &["rebuild", "--all"][..],
        &["rebuild", "--projection", "orders", "--check"],
    ] {
        let run = replay_tool(dir.path(), args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(
            run.stderr.starts_with("replay-tool: data dir in use: "),
            "{args:?}: {run:?}"
        );
        assert_eq!(run.stdout, "");
    }
    held.close().unwrap();
    drop(held);
    let checkpoints = |all: &std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>| {
        all.iter()
            .filter(|(p, _)| p.starts_with("views"))
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect::<Vec<_>>()
    };
    assert!(
        checkpoints(&before) == checkpoints(&snapshot(dir.path())),
        "nothing was rebuilt"
    );

    // A missing dir or one without a log is refused, and no log is created there.
    let empty = tempfile::tempdir().unwrap();
    let missing = empty.path().join("nope");
    let run = replay_tool(&missing, &["rebuild", "--all"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("does not exist"), "{run:?}");
    assert!(!missing.exists());
    let run = replay_tool(empty.path(), &["rebuild", "--all"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("holds no event log"), "{run:?}");
    assert_eq!(
        fs::read_dir(empty.path()).unwrap().count(),
        0,
        "created files"
    );
}

#[test]
fn online_rebuild_waits_until_the_model_runs_again() {
    let api = LiveApi::start();
    let url = api.url.clone();
    let m = market(&url);
    let run = online(&url, ADMIN, &["rebuild", "--projection", "orders"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.starts_with("rebuilt orders to position "),
        "{run:?}"
    );
    assert_eq!(run.stdout.lines().count(), 1, "{run:?}");
    assert_eq!(run.stderr, "");

    let run = online(&url, &m.analyst, &["rebuild", "--all"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let names: Vec<&str> = run
        .stdout
        .lines()
        .map(|l| {
            l.strip_prefix("rebuilt ")
                .and_then(|l| l.split_once(" to position "))
                .unwrap()
                .0
        })
        .collect();
    assert_eq!(names, projections::registry::names(), "{run:?}");

    // The rebuilt order list still answers as before.
    let client = reqwest::blocking::Client::new();
    let order = live::call(
        &client,
        reqwest::Method::GET,
        &format!("{url}/v1/orders/{}", m.order_id),
        &m.auditor,
        serde_json::Value::Null,
        200,
    );
    assert_eq!(order["status"], "paid", "{order}");
    assert_eq!(order["payable_cents"], 9000, "{order}");

    // --check needs the stored checkpoint: offline only.
    let run = online(&url, ADMIN, &["rebuild", "--all", "--check"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(
        run.stderr,
        "replay-tool: --check is offline only (compare needs the stored checkpoint)\n"
    );
    // An auditor may not start a rebuild: the server's refusal, exit 2.
    let run = online(&url, &m.auditor, &["rebuild", "--projection", "orders"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr
            .starts_with("replay-tool: server answered 403 Forbidden: "),
        "{run:?}"
    );
    api.stop();
}

#[test]
fn the_models_are_picked_by_exactly_one_flag() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["rebuild"][..],
        &["rebuild", "--all", "--projection", "orders"],
        &["rebuild", "--projection", "nosuchmodel"],
        &["rebuild", "--projection"],
        &["rebuild", "--check"],
    ] {
        let run = replay_tool(dir.path(), args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert_eq!(run.stdout, "", "{args:?}");
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
    let run = replay_tool(dir.path(), &["rebuild", "--projection", "nosuchmodel"]);
    for name in projections::registry::names() {
        assert!(run.stderr.contains(name), "lists {name}: {run:?}");
    }
    let run = run_raw(&["rebuild", "--help"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("orders"), "{run:?}");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "created files"
    );
}
