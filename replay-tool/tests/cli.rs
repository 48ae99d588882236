//! The command line outside any one command: online mode, usage errors, exit statuses.

mod fixture;

use fixture::{build, replay_tool, run_raw, STANDARD};

#[test]
fn online_mode_is_refused_for_now() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    let data = dir.path().to_str().unwrap();
    for command in ["verify", "stats"] {
        let run = run_raw(&[
            "--data",
            data,
            "--url",
            "http://127.0.0.1:1",
            "--token",
            "t",
            command,
        ]);
        assert_eq!(run.code, Some(2), "{run:?}");
        assert_eq!(
            run.stderr,
            "replay-tool: online mode is not available yet\n"
        );
        assert_eq!(run.stdout, "");
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &[][..],
        &["frobnicate"],
        &["verify", "--bogus"],
        &["--timezone", "Mars/Olympus_Mons", "stats"],
    ] {
        let run = run_raw(args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
    let run = replay_tool(dir.path(), &["--timezone", "Nowhere", "stats"]);
    assert!(run.stderr.contains("--timezone"), "{run:?}");
}

#[test]
fn help_and_version_exit_0() {
    for flag in ["--help", "--version"] {
        let run = run_raw(&[flag]);
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(run.stdout.contains("replay-tool"), "{run:?}");
    }
}

#[test]
fn global_flags_work_after_the_subcommand_too() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    let run = run_raw(&[
        "verify",
        "--no-progress",
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
}
