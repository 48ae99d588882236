//! Property tests: random append sequences against an in-memory model of the log.

use std::collections::HashMap;

use eventlog::{
    AppendError, AppendRequest, Direction, EventStore, Expected, Idempotency, Metadata, NewEvent,
    SledLog, StreamAppend,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Exp {
    Any,
    NoStream,
    Exact(u64),
    Current,
}

#[derive(Debug, Clone)]
struct Op {
    streams: Vec<(u8, Exp, u8)>,
    key: Option<(u8, u8)>,
}

fn op() -> impl Strategy<Value = Op> {
    let exp = prop_oneof![
        Just(Exp::Any),
        Just(Exp::NoStream),
        (0u64..4).prop_map(Exp::Exact),
        Just(Exp::Current),
    ];
    (
        proptest::collection::vec((0u8..4, exp, 0u8..3), 1..4),
        proptest::option::of((0u8..3, 0u8..2)),
    )
        .prop_map(|(mut streams, key)| {
            streams.sort_by_key(|s| s.0);
            streams.dedup_by_key(|s| s.0);
            if streams.iter().all(|s| s.2 == 0) {
                streams[0].2 = 1;
            }
            Op { streams, key }
        })
}

#[derive(Default)]
struct Model {
    versions: HashMap<String, u64>,
    events: Vec<(String, u64, Vec<u8>)>,
    keys: HashMap<String, ([u8; 32], u64, u64)>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn the_log_behaves_like_its_model(ops in proptest::collection::vec(op(), 1..25)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = SledLog::open(dir.path()).unwrap();
        let mut model = Model::default();
        for (n, op) in ops.iter().enumerate() {
            let streams: Vec<StreamAppend> = op.streams.iter().map(|(s, exp, count)| {
                let id = format!("s-{s}");
                let current = model.versions.get(&id).copied().unwrap_or(0);
                StreamAppend {
                    expected: match exp {
                        Exp::Any => Expected::Any,
                        Exp::NoStream => Expected::NoStream,
                        Exp::Exact(v) => Expected::Exact(*v),
                        Exp::Current => Expected::Exact(current),
                    },
                    events: (0..*count).map(|i| NewEvent { event_type: "E".into(), schema_version: 1, payload: vec![n as u8, i] }).collect(),
                    stream_id: id,
                }
            }).collect();
            let idem = op.key.map(|(k, fp)| Idempotency { key: format!("k{k}"), fingerprint: [fp; 32] });
            let request = AppendRequest { streams: streams.clone(), meta: Metadata::default(), idempotency: idem.clone() };
            let got = rt.block_on(log.append(request));

            // Model.
            if let Some(i) = &idem {
                if let Some((fp, first, last)) = model.keys.get(&i.key) {
                    if *fp == i.fingerprint {
                        let r = got.unwrap();
                        prop_assert!(r.deduplicated);
                        prop_assert_eq!((r.first_position, r.last_position), (*first, *last));
                    } else {
                        prop_assert!(matches!(got, Err(AppendError::IdempotencyKeyReused)));
                    }
                    continue;
                }
            }
            let ok = streams.iter().all(|s| {
                let cur = model.versions.get(&s.stream_id).copied().unwrap_or(0);
                match s.expected { Expected::Any => true, Expected::NoStream => cur == 0, Expected::Exact(v) => v == cur }
            });
            if !ok {
                prop_assert!(matches!(got, Err(AppendError::Conflict { .. })), "{:?}", got);
                continue;
            }
            let r = got.unwrap();
            let first = model.events.len() as u64 + 1;
            for s in &streams {
                for e in &s.events {
                    let v = model.versions.entry(s.stream_id.clone()).or_insert(0);
                    *v += 1;
                    model.events.push((s.stream_id.clone(), *v, e.payload.clone()));
                }
            }
            let last = model.events.len() as u64;
            prop_assert_eq!((r.first_position, r.last_position), (first, last));
            if let Some(i) = idem {
                model.keys.insert(i.key, (i.fingerprint, first, last));
            }
        }
        // Whole log and every stream, forward and backward, equal the model.
        let all = log.read_all(1, 10_000).unwrap();
        prop_assert_eq!(all.len(), model.events.len());
        for (r, (s, v, p)) in all.iter().zip(&model.events) {
            prop_assert_eq!((&r.stream_id, r.version, &r.payload), (s, *v, p));
        }
        for (s, v) in &model.versions {
            prop_assert_eq!(log.stream_version(s).unwrap(), *v);
            let fwd = log.read_stream(s, 1, Direction::Forward, 1_000).unwrap();
            prop_assert_eq!(fwd.iter().map(|r| r.version).collect::<Vec<_>>(), (1..=*v).collect::<Vec<_>>());
            let back = log.read_stream(s, u64::MAX, Direction::Backward, 1_000).unwrap();
            prop_assert_eq!(back.iter().map(|r| r.version).collect::<Vec<_>>(), (1..=*v).rev().collect::<Vec<_>>());
        }
        log.close().unwrap();
    }
}
