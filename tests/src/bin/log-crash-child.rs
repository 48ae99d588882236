//! Crash-drill child: appends to the log from several concurrent writers and prints one line
//! per acknowledged append (`ack <writer> <seq> <position>`) until it is killed.
//! Each writer owns stream `crash-w<writer>` and appends with an exact expectation, so the
//! acknowledged sequence of each writer must be a prefix of its stream after a crash.

/// mimalloc, as in the binaries under test (glibc malloc costs the log writer dearly).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use eventlog::{AppendRequest, EventStore, Expected, Metadata, NewEvent, SledLog};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    dir: PathBuf,
    #[arg(long, default_value_t = 16)]
    writers: u32,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let log = match SledLog::open(&args.dir) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("log-crash-child: {e}");
            std::process::exit(2);
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for w in 0..args.writers {
        let log = log.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let stream = format!("crash-w{w}");
            let mut version = log.stream_version(&stream).unwrap_or(0);
            loop {
                let seq = version + 1;
                let payload = format!("w{w}-s{seq}").into_bytes();
                let req = AppendRequest::single(
                    stream.clone(),
                    Expected::Exact(version),
                    vec![NewEvent {
                        event_type: "CrashProbe".into(),
                        schema_version: 1,
                        payload,
                    }],
                    Metadata {
                        actor: "system".into(),
                        ..Metadata::default()
                    },
                );
                match log.append(req).await {
                    Ok(r) => {
                        version = seq;
                        if tx
                            .send(format!("ack {w} {seq} {}", r.last_position))
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        eprintln!("log-crash-child: append failed: {e}");
                        std::process::exit(3);
                    }
                }
            }
        });
    }
    drop(tx);
    let mut out = std::io::stdout().lock();
    while let Some(line) = rx.recv().await {
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            return;
        }
    }
}
