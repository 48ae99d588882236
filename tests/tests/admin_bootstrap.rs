//! `MARKETLOG_ADMIN_TOKEN` bootstraps an empty store only; a revoked admin never comes back;
//! `marketlog admin recover` is the operator's explicit way back in (issue 16 §5).

use std::process::Command;

use marketlog_tests::server::{marketlog_binary, Launch, Server, ADMIN_TOKEN};
use serde_json::json;

#[test]
fn a_revoked_bootstrap_admin_stays_revoked_after_a_restart_with_the_env_token() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let first_id = s.get("/v1/me").expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = s.token(&json!({"role": "platform", "name": "second admin"}));
    s.send(
        "DELETE",
        &format!("/v1/principals/{first_id}"),
        Some(&second),
        &[],
        None,
    )
    .expect(200);
    s.get("/v1/me").error(401, "unauthenticated");
    let launch = s.launch().clone();
    s.stop();

    // The variable is still set: the server starts, warns, and the revoked token stays dead.
    let s = launch.start();
    s.get("/v1/me").error(401, "unauthenticated");
    s.send("GET", "/v1/me", Some(&second), &[], None)
        .expect(200);
    let created = s.all_events(&second, "&type=PrincipalCreated");
    assert_eq!(created.len(), 2, "a principal was re-created: {created:?}");
    let stderr = s.stop();
    assert!(
        stderr.contains("MARKETLOG_ADMIN_TOKEN is ignored"),
        "no warning: {stderr}"
    );
}

#[test]
fn admin_recover_adds_a_platform_admin_by_system_to_a_stopped_store() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let first_id = s.get("/v1/me").expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let launch = s.launch().clone();
    s.stop();

    let out = Command::new(marketlog_binary())
        .args(["admin", "recover", "--data"])
        .arg(dir.path())
        .env_remove("MARKETLOG_DATA")
        .output()
        .expect("run marketlog admin recover");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(stderr.contains("recovered a platform admin"), "{stderr}");
    let token = stdout
        .lines()
        .find_map(|l| l.strip_prefix("token (shown once, only its hash is stored): "))
        .expect("a token line")
        .trim()
        .to_owned();
    assert!(!stderr.contains(&token), "the token is in the log output");

    let s = launch.start();
    let me = s.send("GET", "/v1/me", Some(&token), &[], None).expect(200);
    assert_eq!(me["role"], "platform");
    assert_ne!(me["id"], first_id.as_str());
    let created = s.all_events(&token, "&type=PrincipalCreated");
    let recovered = created
        .iter()
        .find(|e| e["data"]["principal_id"] == me["id"])
        .expect("the recovery event");
    assert_eq!(recovered["actor"], "system", "{recovered}");
    // The original admin is untouched.
    s.get("/v1/me").expect(200);
    s.stop();
}

#[test]
fn admin_recover_refuses_a_data_dir_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let s = Launch::new(dir.path()).start();
    let out = Command::new(marketlog_binary())
        .args(["admin", "recover", "--data"])
        .arg(dir.path())
        .env_remove("MARKETLOG_DATA")
        .output()
        .expect("run marketlog admin recover");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    s.send("GET", "/v1/me", Some(ADMIN_TOKEN), &[], None)
        .expect(200);
    s.stop();
}
