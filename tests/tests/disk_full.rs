//! A full disk (a small tmpfs mounted for the test; skipped with a message where mounting is
//! not allowed): writes answer 503, the server exits with status 75 so a supervisor can
//! restart it, and once space is back the restarted server opens the same data dir, holds
//! every acknowledged order and takes writes again (README, "Operations"). The same holds for
//! a file size limit (`prlimit --fsize`): SIGXFSZ is caught, so the write fails with EFBIG.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use marketlog_tests::server::{Launch, Market, Server};
use serde_json::{json, Value};

/// Size of the test filesystem.
const FILESYSTEM_MEGABYTES: u64 = 48;
/// Most orders tried once the disk is full before the test gives up on a refusal.
const ORDERS_AFTER_FULL_MAX: usize = 2_000;
/// The exit status after a storage failure (EX_TEMPFAIL).
const EXIT_STORAGE_FAILURE: i32 = 75;
/// The file size limit of the SIGXFSZ test: above what the market setup writes, far below
/// what `ORDERS_AFTER_FULL_MAX` orders need.
const FILE_SIZE_LIMIT_BYTES: u64 = 300_000;

/// A mounted tmpfs, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn new(at: &Path) -> Option<Mount> {
        fs::create_dir_all(at).ok()?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={FILESYSTEM_MEGABYTES}m"))
            .arg("tmpfs")
            .arg(at)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "skipping the disk-full test: cannot mount a tmpfs here ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Mount(at.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Writes zeros to `path` until the filesystem is full.
fn fill(path: &Path) {
    let mut f = fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

fn place(server: &Server, customer: &str, product: &str) -> marketlog_tests::server::Reply {
    server.send(
        "POST",
        "/v1/orders",
        Some(customer),
        &[],
        Some(&json!({"product_id": product, "spec_id": "m", "quantity": 1, "order_type": "new"})),
    )
}

#[test]
fn a_full_disk_answers_503_exits_75_and_the_restart_keeps_every_acknowledged_order() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = Mount::new(&dir.path().join("fs")) else {
        return;
    };
    let data = mount.0.join("data");
    let server = Server::start(&data);
    let m = server.market();
    let mut acked = Vec::new();
    for _ in 0..20 {
        acked.push(place(&server, &m.customer, &m.product).expect(201)["id"].clone());
    }
    let filler = mount.0.join("filler");
    fill(&filler);
    write_until_the_server_exits_75(server, &m, &mut acked);

    // Space is back: the same data dir opens and holds every acknowledged order.
    fs::remove_file(&filler).unwrap();
    restart_holds_every_acknowledged_order(&data, &m, &acked);
    drop(mount);
}

#[test]
fn a_file_size_limit_answers_503_exits_75_and_the_restart_keeps_every_acknowledged_order() {
    let limit = format!("--fsize={FILE_SIZE_LIMIT_BYTES}");
    if !Command::new("prlimit")
        .args([limit.as_str(), "--", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipping the file-size-limit test: prlimit is not available here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Launch::new(&data)
        .wrapped_in(&["prlimit", limit.as_str(), "--"])
        .start();
    let m = server.market();
    let mut acked = Vec::new();
    write_until_the_server_exits_75(server, &m, &mut acked);
    assert!(!acked.is_empty(), "no order fitted under the limit");

    // Without the limit the same data dir opens and holds every acknowledged order.
    restart_holds_every_acknowledged_order(&data, &m, &acked);
}

/// Places orders until one is refused (503, as a full disk answers), then checks that the
/// server exits with [`EXIT_STORAGE_FAILURE`] and says why, without a panic.
fn write_until_the_server_exits_75(server: Server, m: &Market, acked: &mut Vec<Value>) {
    let mut refused = None;
    for _ in 0..ORDERS_AFTER_FULL_MAX {
        match server.try_send(
            "POST",
            "/v1/orders",
            Some(&m.customer),
            &[],
            Some(&json!({"product_id": m.product, "spec_id": "m", "quantity": 1, "order_type": "new"})),
        ) {
            Ok(r) if r.status == 201 => acked.push(r.json()["id"].clone()),
            Ok(r) => {
                refused = Some(r);
                break;
            }
            // The process is already exiting: the refusal was answered to another request.
            Err(_) => break,
        }
    }
    if let Some(r) = &refused {
        r.error(503, "unavailable");
    }
    let (status, stderr) = server.wait_after_terminate();
    assert_eq!(
        status.code(),
        Some(EXIT_STORAGE_FAILURE),
        "the server must exit for a supervisor after a storage failure\n{stderr}"
    );
    assert!(stderr.contains("storage failure"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn restart_holds_every_acknowledged_order(data: &Path, m: &Market, acked: &[Value]) {
    let server = Launch::new(data).start();
    let health = server.get("/v1/health").expect(200);
    assert_eq!(health["status"], "ok", "{health}");
    for id in acked {
        let id = id.as_str().unwrap();
        server
            .send(
                "GET",
                &format!("/v1/orders/{id}"),
                Some(&m.customer),
                &[],
                None,
            )
            .expect(200);
    }
    place(&server, &m.customer, &m.product).expect(201);
    server.stop();
}
