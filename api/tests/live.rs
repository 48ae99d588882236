//! `GET /v1/events/live` in-process: catch-up then live, ids are positions, `Last-Event-ID`
//! resumes after it, and the feed ends when the server shuts down.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use http_body_util::BodyExt;
use serde_json::Value;

/// One parsed Server-Sent Event.
#[derive(Debug)]
struct Sse {
    id: u64,
    event: String,
    data: Value,
}

/// Reads a text/event-stream body event by event.
struct Feed {
    body: axum::body::Body,
    buffer: String,
}

impl Feed {
    async fn open(api: &Api, uri: &str, last_event_id: Option<&str>) -> Feed {
        let mut call = api.call("GET", uri).token(ADMIN);
        if let Some(id) = last_event_id {
            call = call.header("last-event-id", id);
        }
        let r = call.send_streaming().await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Feed {
            body: r.into_body(),
            buffer: String::new(),
        }
    }

    /// The next event, `None` when the stream ended, panics after `wait` without one.
    async fn next(&mut self, wait: Duration) -> Option<Sse> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut event = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse::<u64>().unwrap());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                let Some(id) = id else { continue }; // a keep-alive comment
                return Some(Sse {
                    id,
                    event,
                    data: serde_json::from_str(&data).unwrap(),
                });
            }
            match tokio::time::timeout(wait, self.body.frame()).await {
                Err(_) => panic!("no event within {wait:?}; buffered: {:?}", self.buffer),
                Ok(None) => return None,
                Ok(Some(frame)) => {
                    if let Ok(bytes) = frame.unwrap().into_data() {
                        self.buffer.push_str(std::str::from_utf8(&bytes).unwrap());
                    }
                }
            }
        }
    }

    /// True when no event arrives within `wait`.
    async fn quiet_for(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.next(Duration::from_secs(3600)))
            .await
            .is_err()
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_feed_catches_up_then_follows_without_gap_or_duplicate() {
    let api = Api::new().await;
    for i in 0..3 {
        api.create_org(&format!("Before {i}")).await;
    }
    assert_eq!(api.head().await, 4);
    let mut feed = Feed::open(&api, "/v1/events/live?from_position=2", None).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let e = feed.next(WAIT).await.unwrap();
        seen.push(e.id);
        assert_eq!(e.data["position"], e.id);
        assert_eq!(e.event, e.data["type"].as_str().unwrap());
    }
    assert_eq!(seen, vec![2, 3, 4]);
    let mut written = Vec::new();
    for i in 0..3 {
        written.push(api.create_org(&format!("After {i}")).await.0);
    }
    for org in &written {
        let e = feed.next(WAIT).await.unwrap();
        seen.push(e.id);
        assert_eq!(e.event, "OrgCreated");
        assert_eq!(&e.data["data"]["org_id"], org);
    }
    assert_eq!(seen, (2..=7).collect::<Vec<u64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_resumes_after_that_position() {
    let api = Api::new().await;
    for i in 0..5 {
        api.create_org(&format!("Org {i}")).await;
    }
    // A reconnecting browser repeats the URL and adds Last-Event-ID.
    let mut feed = Feed::open(&api, "/v1/events/live?from_position=1", Some("3")).await;
    for want in 4..=6 {
        assert_eq!(feed.next(WAIT).await.unwrap().id, want);
    }
    // Resuming at the head waits for the next write only.
    let mut feed = Feed::open(&api, "/v1/events/live", Some("6")).await;
    let (org, position) = api.create_org("Next").await;
    let e = feed.next(WAIT).await.unwrap();
    assert_eq!(e.id, position);
    assert_eq!(e.data["data"]["org_id"], org);
    // Garbage Last-Event-ID is refused.
    let r = api
        .call("GET", "/v1/events/live")
        .token(ADMIN)
        .header("last-event-id", "abc")
        .send()
        .await;
    assert_eq!(
        r.error(StatusCode::BAD_REQUEST, "bad_request")["field"],
        "Last-Event-ID"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_at_the_largest_position_does_not_replay_the_log() {
    let api = Api::new().await;
    api.create_org("Org").await;
    let r = api
        .call("GET", "/v1/events/live")
        .token(ADMIN)
        .header("last-event-id", &u64::MAX.to_string())
        .send_streaming()
        .await;
    if r.status() == StatusCode::BAD_REQUEST {
        return;
    }
    assert_eq!(r.status(), StatusCode::OK);
    let mut feed = Feed {
        body: r.into_body(),
        buffer: String::new(),
    };
    assert!(
        feed.quiet_for(Duration::from_millis(500)).await,
        "resuming after the largest position replayed the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_feed_ends_when_the_server_shuts_down() {
    let api = Api::new().await;
    let mut feed = Feed::open(&api, "/v1/events/live?from_position=1", None).await;
    assert_eq!(feed.next(WAIT).await.unwrap().id, 1);
    api.app.shutdown.send_replace(true);
    assert!(feed.next(WAIT).await.is_none(), "the feed went on");
}
