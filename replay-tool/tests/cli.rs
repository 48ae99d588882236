//! The command line outside any one command: online flags, usage errors, exit statuses.

mod fixture;

use fixture::{build, replay_tool, run_raw, STANDARD};

/// Online flags are checked before anything is opened or requested (the server itself is
/// exercised in `tests/online.rs`).
#[test]
fn online_flags_are_checked_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    let data = dir.path().to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--url", "http://127.0.0.1:1"], "--url needs --token"),
        (
            &["--url", "https://127.0.0.1:1", "--token", "t"],
            "only http:// is supported",
        ),
        (&["--url", "127.0.0.1:8080", "--token", "t"], "not a url"),
        (
            &["--url", "http://127.0.0.1:1", "--token", "two words"],
            "--token must be",
        ),
    ];
    for command in ["verify", "stats"] {
        for (flags, says) in cases {
            let mut args = vec!["--data", data];
            args.extend_from_slice(flags);
            args.push(command);
            let run = run_raw(&args);
            assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
            assert!(run.stderr.starts_with("replay-tool: "), "{args:?}: {run:?}");
            assert!(run.stderr.contains(says), "{args:?}: {run:?}");
            assert_eq!(run.stdout, "", "{args:?}");
        }
    }
}

#[test]
fn help_explains_what_differs_online() {
    let run = run_raw(&["--help"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("--url"), "{run:?}");
    assert!(run.stdout.contains("head anchor"), "{run:?}");
    for command in ["verify", "stats"] {
        let run = run_raw(&[command, "--help"]);
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(run.stdout.contains("Online (--url)"), "{command}: {run:?}");
    }
    let run = run_raw(&["stats", "--help"]);
    assert!(run.stdout.contains("bytes of records (online)"), "{run:?}");
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
