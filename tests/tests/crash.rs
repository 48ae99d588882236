//! The crash drill of EVENTLOG.md: a child process appends under concurrent load and is
//! killed with SIGKILL at different moments; after each kill the reopened log must hold every
//! acknowledged append, be gap-free, and pass verify.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use eventlog::verify::verify_log;
use eventlog::{Direction, EventStore, OfflineCopy, SledLog};

/// Acks to wait for before each kill: early, mid-stream and late moments.
const KILL_AFTER_ACKS: [usize; 6] = [1, 17, 120, 333, 800, 1_500];

#[test]
fn acknowledged_appends_survive_sigkill_at_any_moment() {
    let dir = tempfile::tempdir().unwrap();
    // writer -> highest acknowledged (seq, position) over all rounds
    let mut acked: HashMap<u32, (u64, u64)> = HashMap::new();
    for (round, kill_after) in KILL_AFTER_ACKS.iter().enumerate() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_log-crash-child"))
            .args(["--dir", dir.path().to_str().unwrap(), "--writers", "16"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = 0;
        while seen < *kill_after {
            let line = lines.next().expect("child ended early").unwrap();
            let parts: Vec<&str> = line.split(' ').collect();
            assert_eq!(parts[0], "ack", "unexpected line {line}");
            let (w, seq, pos): (u32, u64, u64) = (
                parts[1].parse().unwrap(),
                parts[2].parse().unwrap(),
                parts[3].parse().unwrap(),
            );
            let e = acked.entry(w).or_insert((0, 0));
            if seq > e.0 {
                *e = (seq, pos);
            }
            seen += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let copy = OfflineCopy::take(dir.path()).unwrap();
        let log = SledLog::open(copy.path())
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let report = verify_log(
            &log,
            eventlog::read_anchor(copy.path()).unwrap(),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(report.problem, None, "round {round}: verify failed");
        for (w, (seq, pos)) in &acked {
            let stream = format!("crash-w{w}");
            let version = log.stream_version(&stream).unwrap();
            assert!(
                version >= *seq,
                "round {round}: writer {w} acked {seq} but stream has {version}"
            );
            let r = log
                .read_stream(&stream, *seq, Direction::Forward, 1)
                .unwrap();
            assert_eq!(r[0].position, *pos, "round {round}: acked position moved");
            assert_eq!(r[0].payload, format!("w{w}-s{seq}").into_bytes());
        }
        // Positions are gap-free from 1 to the head.
        let mut next = 1;
        loop {
            let chunk = log.read_all(next, 4_096).unwrap();
            let Some(last) = chunk.last() else { break };
            for r in &chunk {
                assert_eq!(r.position, next);
                next += 1;
            }
            assert_eq!(last.position, next - 1);
        }
        assert_eq!(next - 1, log.head());
        log.close().unwrap();
    }
    assert!(
        acked.len() > 1,
        "the drill must have run concurrent writers"
    );
}
