//! Slow, stalled and malformed clients against the real `marketlog serve` (issue 16 §4): the
//! header, body and idle timeouts, the connection limit, the shutdown deadline, and the error
//! JSON of the answers the HTTP layer gives itself. Every timeout is set short through its
//! option, so each test waits well under a few seconds; every wait is bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use marketlog_tests::server::{Launch, Server, ADMIN_TOKEN};
use serde_json::Value;

/// The longest any of these tests waits for the server to react beyond the timeout it set.
const SLACK: Duration = Duration::from_secs(3);

fn connect(s: &Server) -> TcpStream {
    let c = TcpStream::connect(&s.addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    c
}

/// Reads until the server closes the connection (or the read timeout): everything it sent.
fn read_to_close(c: &mut TcpStream) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match c.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}

/// Status and JSON body of a raw HTTP/1.1 answer.
fn parse_answer(raw: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("body not JSON ({e}): {text}"));
    (status, json)
}

#[test]
fn half_sent_headers_are_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = Launch::new(dir.path())
        .with_env("MARKETLOG_HEADER_READ_TIMEOUT_MS", "500")
        .start();
    let mut c = connect(&s);
    c.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let started = domain::clock::monotonic_now();
    let got = read_to_close(&mut c).expect("the connection was not closed");
    let took = started.elapsed();
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(500) + SLACK,
        "closed after {took:?}"
    );
    // A complete request on a fresh connection is served as usual.
    s.get("/v1/health").expect(200);
    s.stop();
}

#[test]
fn a_one_byte_per_second_body_gets_408_within_the_body_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = Launch::new(dir.path())
        .with_env("MARKETLOG_BODY_READ_TIMEOUT_MS", "1500")
        .start();
    let mut c = connect(&s);
    let head = format!(
        "POST /v1/orgs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    );
    c.write_all(head.as_bytes()).unwrap();
    let started = domain::clock::monotonic_now();
    // One byte a second from another thread, until the server stops taking them.
    let mut writer = c.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for b in br#"{"name": "slow"#.iter() {
            if writer.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let got = read_to_close(&mut c).expect("no answer and no close");
    let took = started.elapsed();
    let (status, body) = parse_answer(&got);
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["error"]["code"], "request_timeout", "{body}");
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(1500) + SLACK,
        "answered after {took:?}"
    );
    drop(c);
    let _ = trickle.join();
    // Nothing of the half body was taken as a command.
    let orgs = s.all_events(ADMIN_TOKEN, "&type=OrgCreated");
    assert!(orgs.is_empty(), "{orgs:?}");
    s.stop();
}

#[test]
fn an_idle_keepalive_connection_is_closed_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = Launch::new(dir.path())
        .with_env("MARKETLOG_KEEPALIVE_IDLE_TIMEOUT_MS", "400")
        .start();
    let mut c = connect(&s);
    c.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    c.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let started = domain::clock::monotonic_now();
    read_to_close(&mut c).expect("the idle connection was not closed");
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(400) + SLACK,
        "closed after {took:?}"
    );
    s.stop();
}

#[test]
fn connections_past_the_limit_wait_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Launch::new(dir.path())
        .with_env("MARKETLOG_CONNECTIONS_MAX", "2")
        .start();
    // Connected one after the other, so accepted in this order (the backlog is FIFO): the
    // two holders take both permits, the third waits behind them.
    let holders: Vec<TcpStream> = (0..2).map(|_| connect(&s)).collect();
    let mut third = connect(&s);
    third
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    let early = third.read(&mut byte);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "the third connection was served while two were open: {early:?}"
    );
    drop(holders);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let got = read_to_close(&mut third).unwrap();
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    s.stop();
}

#[test]
fn sigterm_with_a_stalled_body_and_a_non_reading_sse_client_exits_within_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let s = Launch::new(dir.path())
        // The body timeout is far past the deadline: only the deadline can end that request.
        .with_env("MARKETLOG_BODY_READ_TIMEOUT_MS", "60000")
        .with_env("MARKETLOG_SHUTDOWN_DEADLINE_MS", "1000")
        .start();
    s.post("/v1/orgs", &serde_json::json!({"name": "Acme"}))
        .expect(201);
    let mut stalled = connect(&s);
    let head = format!(
        "POST /v1/orgs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    stalled.write_all(head.as_bytes()).unwrap();
    // An SSE client that reads the answer's first bytes, then never again.
    let mut sse = connect(&s);
    let sse_request = format!(
        "GET /v1/events/live?from_position=1 HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {ADMIN_TOKEN}\r\n\r\n"
    );
    sse.write_all(sse_request.as_bytes()).unwrap();
    let mut first = [0u8; 12];
    sse.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    s.wait_for_sigterm_handler();
    let started = domain::clock::monotonic_now();
    s.terminate();
    let (status, stderr) = s.wait_after_terminate();
    let took = started.elapsed();
    assert!(status.success(), "{status}\n{stderr}");
    assert!(
        took < Duration::from_millis(1000) + SLACK,
        "exited after {took:?}\n{stderr}"
    );
    assert!(stderr.contains("stopped cleanly"), "{stderr}");
    drop((stalled, sse));
    // The log was closed cleanly: a restart serves the org created before.
    let s = Launch::new(dir.path()).start();
    assert_eq!(s.all_events(ADMIN_TOKEN, "&type=OrgCreated").len(), 1);
    s.stop();
}

#[test]
fn errors_of_the_http_layer_carry_the_error_json() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let long = "a".repeat(9 * 1024);
    s.send("GET", &format!("/v1/health?x={long}"), None, &[], None)
        .error(414, "uri_too_long");
    let big = "b".repeat(20 * 1024);
    s.send(
        "GET",
        "/v1/me",
        Some(ADMIN_TOKEN),
        &[("x-one", &big), ("x-two", &big)],
        None,
    )
    .error(431, "header_too_large");
    let many: Vec<(String, String)> = (0..120).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    s.send("GET", "/v1/me", Some(ADMIN_TOKEN), &many, None)
        .error(431, "header_too_large");
    s.stop();
}
