//! The online [`LogSource`]: a running server's `GET /v1/events?include=raw`, read in pages
//! of [`PAGE_RECORDS`] with `Authorization: Bearer <token>`.
//!
//! The server is not trusted: every record is decoded from the stored bytes it sends
//! (`raw_base64`, the record as the log keeps it: body ‖ crc32c ‖ chain) with
//! [`eventlog::decode_value`], which checks the CRC and the position the body claims;
//! `verify` runs the same [`Verifier`] as offline over those bytes (chain, gap-free
//! positions, gap-free stream versions). The JSON fields the server decoded itself are never
//! read, except `position`, which plays the part of the store key and is checked against
//! the body.
//!
//! Invariants:
//! - The head is taken once, from `GET /v1/health`, when the source opens; every command
//!   sees positions `1..=head` only, so a server that keeps appending gives one consistent
//!   snapshot.
//! - Reads are position-contiguous: a page that skips, repeats or stops short of the head is
//!   a [`SourceError::Corrupt`] at the first position missing, never a silently shorter log.
//! - Only GET requests are sent; the tool changes nothing on the server.

use std::cell::Cell;
use std::time::Duration;

use base64::Engine as _;
use eventlog::verify::{Problem, Verifier, VerifyReport};
use eventlog::{decode_value, LogError, Record};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::ToolError;
use crate::source::{LogSize, LogSource, SourceError};

/// Records asked for per request (the server's largest page).
pub const PAGE_RECORDS: usize = 500;
/// How long to wait for a TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take, body included (a page is at most ~45 MB of base64).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Characters of a non-JSON error body quoted in a message.
const ERROR_BODY_CHARS_MAX: usize = 200;

/// Where a server is and how to authenticate to it: checked `--url` and `--token`.
#[derive(Clone, PartialEq, Eq)]
pub struct OnlineTarget {
    /// `http://host[:port][/prefix]`, without a trailing slash.
    base: String,
    token: String,
}

impl std::fmt::Debug for OnlineTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never printed.
        f.debug_struct("OnlineTarget")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl OnlineTarget {
    /// Checks `--url` (plain `http://`, a host, no query or fragment) and `--token` (present,
    /// printable ASCII without spaces, as a bearer token must be).
    pub fn parse(url: &str, token: Option<&str>) -> Result<OnlineTarget, ToolError> {
        let usage = |why: &str| ToolError::Usage(format!("--url {url:?}: {why}"));
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| usage(&format!("not a url ({e}); e.g. http://127.0.0.1:8080")))?;
        match parsed.scheme() {
            "http" => {}
            "https" => return Err(usage(
                "only http:// is supported (the server speaks plain HTTP; this build has no TLS)",
            )),
            other => return Err(usage(&format!("scheme {other} is not http"))),
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(usage("the url names no host"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(usage(
                "give only the server's base url, without a query or fragment",
            ));
        }
        let token = match token {
            None => {
                return Err(ToolError::Usage(
                    "--url needs --token (or MARKETLOG_TOKEN): the bearer token of a platform, auditor or analyst principal".into(),
                ))
            }
            Some(t) => t.trim(),
        };
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ToolError::Usage(
                "--token must be a non-empty bearer token of printable characters without spaces"
                    .into(),
            ));
        }
        Ok(OnlineTarget {
            base: parsed.as_str().trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// The base url, as messages show it.
    pub fn base(&self) -> &str {
        &self.base
    }
}

/// A running server over HTTP: the checked target and a blocking client. Every request
/// carries `Authorization: Bearer <token>` unless it says otherwise.
pub struct Server {
    target: OnlineTarget,
    client: reqwest::blocking::Client,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Sets up the client; sends nothing yet.
    pub fn new(target: &OnlineTarget) -> Result<Server, SourceError> {
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("replay-tool/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                SourceError::Unavailable(format!("cannot set up an http client: {}", chain(&e)))
            })?;
        Ok(Server {
            target: target.clone(),
            client,
        })
    }

    /// The base url, as messages show it.
    pub fn base(&self) -> &str {
        self.target.base()
    }

    /// `GET base+path?query`, the JSON of a 2xx answer as `T`. A non-2xx answer is
    /// [`SourceError::Server`] with the server's `error.message`.
    pub fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        authenticated: bool,
        what: &str,
    ) -> Result<T, SourceError> {
        let url = format!("{}{path}", self.target.base);
        let mut request = self.client.get(&url).query(query);
        if authenticated {
            request = request.bearer_auth(&self.target.token);
        }
        self.answer(request, &url, what)
    }

    /// `POST base+path` without a body, authenticated; the JSON of a 2xx answer as `T`.
    pub fn post_json<T: DeserializeOwned>(&self, path: &str, what: &str) -> Result<T, SourceError> {
        let url = format!("{}{path}", self.target.base);
        let request = self
            .client
            .post(&url)
            .bearer_auth(&self.target.token)
            .header(reqwest::header::CONTENT_LENGTH, 0);
        self.answer(request, &url, what)
    }

    fn answer<T: DeserializeOwned>(
        &self,
        request: reqwest::blocking::RequestBuilder,
        url: &str,
        what: &str,
    ) -> Result<T, SourceError> {
        let response = request.send().map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().unwrap_or_default();
            return Err(SourceError::Server {
                code: status.as_u16(),
                status: status.to_string(),
                message: error_message(&body),
            });
        }
        let body = response.bytes().map_err(|e| self.unreachable(&e))?;
        serde_json::from_slice(&body).map_err(|e| {
            SourceError::Unavailable(format!(
                "{url} did not answer with {what} (is this a marketlog server?): {e}"
            ))
        })
    }

    /// A transport failure, in words that say what to check.
    fn unreachable(&self, e: &reqwest::Error) -> SourceError {
        let base = &self.target.base;
        SourceError::Unavailable(if e.is_timeout() {
            format!(
                "the server at {base} did not answer within {} s",
                REQUEST_TIMEOUT.as_secs()
            )
        } else if e.is_connect() {
            format!("cannot connect to the server at {base}: {}", root_cause(e))
        } else {
            format!("request to the server at {base} failed: {}", chain(e))
        })
    }
}

/// A running server's log, read over HTTP.
pub struct OnlineSource {
    server: Server,
    /// The server's durable head when the source opened.
    head: u64,
    /// Stored bytes of positions `1..next` summed so far, as (next, bytes): reads from the
    /// start extend it, so `stats` learns the log size from the walk it makes anyway.
    counted: Cell<(u64, u64)>,
}

impl std::fmt::Debug for OnlineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineSource")
            .field("server", &self.server)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

/// One `/v1/events` page, as far as this tool reads it.
#[derive(Debug, Deserialize)]
struct Page {
    items: Vec<Item>,
}

/// One item of a page: its position and stored bytes; the decoded fields are ignored.
#[derive(Debug, Deserialize)]
struct Item {
    position: u64,
    raw_base64: Option<String>,
}

/// A page item as the walk sees it: its position and its stored bytes, or why there are none.
type RawItem = (u64, Result<Vec<u8>, String>);

/// The part of `GET /v1/health` the tool needs.
#[derive(Debug, Deserialize)]
struct Health {
    log_position: u64,
}

impl OnlineSource {
    /// Connects: one single-record page (so an unreachable server or a refused token is
    /// reported before any output), then the head from `/v1/health`.
    pub fn open(target: &OnlineTarget) -> Result<OnlineSource, SourceError> {
        let mut source = OnlineSource {
            server: Server::new(target)?,
            head: 0,
            counted: Cell::new((1, 0)),
        };
        source.page(1, 1)?;
        let health: Health = source
            .server
            .get_json("/v1/health", &[], false, "a health answer")?;
        source.head = health.log_position;
        Ok(source)
    }

    /// Up to `limit` (≤ [`PAGE_RECORDS`]) items from `from`, with their stored bytes decoded
    /// from base64 (`Err(reason)` for an item without usable bytes).
    fn page(&self, from: u64, limit: usize) -> Result<Vec<RawItem>, SourceError> {
        let query = [
            ("from_position", from.to_string()),
            ("limit", limit.clamp(1, PAGE_RECORDS).to_string()),
            ("include", "raw".to_string()),
        ];
        let page: Page = self
            .server
            .get_json("/v1/events", &query, true, "a page of events")?;
        Ok(page
            .items
            .into_iter()
            .map(|item| {
                let raw = match item.raw_base64 {
                    None => Err("the server sent no stored bytes (raw_base64) for it".into()),
                    Some(text) => base64::engine::general_purpose::STANDARD
                        .decode(text.as_bytes())
                        .map_err(|e| format!("the server's raw_base64 is not base64: {e}")),
                };
                (item.position, raw)
            })
            .collect())
    }

    /// Calls `each` with the stored bytes of every position `from..=to` (`to` ≤ head), in
    /// order, fetching page by page. A page that skips or repeats a position, an item
    /// without stored bytes, or a log that ends early is [`SourceError::Corrupt`] at the
    /// first position not delivered.
    fn walk_raw(
        &self,
        from: u64,
        to: u64,
        each: &mut dyn FnMut(u64, Vec<u8>) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        let to = to.min(self.head);
        let mut next = from.max(1);
        while next <= to {
            let want = usize::try_from(to - next + 1).map_or(PAGE_RECORDS, |n| n.min(PAGE_RECORDS));
            let items = self.page(next, want)?;
            if items.is_empty() {
                return Err(SourceError::Corrupt {
                    position: next,
                    reason: format!(
                        "the server's log ends at position {} but its head is {}",
                        next - 1,
                        self.head
                    ),
                });
            }
            for (position, raw) in items {
                if position != next {
                    // The same words as the verifier's, so a gap reads alike either way.
                    return Err(SourceError::Corrupt {
                        position: next,
                        reason: format!("gap: expected position {next}, found {position}"),
                    });
                }
                let bytes = raw.map_err(|reason| SourceError::Corrupt { position, reason })?;
                each(position, bytes)?;
                if next == to {
                    return Ok(());
                }
                next += 1;
            }
        }
        Ok(())
    }

    /// Adds the stored bytes of `from..` (`sizes` in position order) to the running count
    /// when they continue it.
    fn count(&self, from: u64, sizes: &[u64]) {
        let (next, bytes) = self.counted.get();
        if from <= next {
            let skip = usize::try_from(next - from).unwrap_or(usize::MAX);
            let fresh = sizes.iter().skip(skip);
            let added = fresh.clone().count() as u64;
            self.counted
                .set((next + added, bytes.saturating_add(fresh.sum::<u64>())));
        }
    }
}

impl LogSource for OnlineSource {
    fn head(&self) -> Result<u64, SourceError> {
        Ok(self.head)
    }

    fn read_from(&self, from_position: u64, limit: usize) -> Result<Vec<Record>, SourceError> {
        let from = from_position.max(1);
        if limit == 0 || from > self.head {
            return Ok(Vec::new());
        }
        let to = from.saturating_add(limit as u64 - 1).min(self.head);
        let mut records = Vec::with_capacity(limit.min(PAGE_RECORDS * 8));
        let mut sizes = Vec::with_capacity(records.capacity());
        self.walk_raw(from, to, &mut |position, bytes| {
            sizes.push(bytes.len() as u64);
            records.push(decode_value(position, &bytes).map_err(corrupt)?);
            Ok(())
        })?;
        self.count(from, &sizes);
        Ok(records)
    }

    /// Pages of `GET /v1/streams/{stream_id}?from_version=&limit=&include=raw`, each record
    /// decoded from its stored bytes and checked to be the stream's next version; records
    /// past the head taken at open are left out (one snapshot, as for the whole log). The
    /// server answers 404 for a stream it does not have: no records.
    fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<Record>, SourceError> {
        // Checked here, so the id is safe in a url path without escaping.
        if eventlog::validate_stream_id(stream_id).is_err() || limit == 0 {
            return Ok(Vec::new());
        }
        let path = format!("/v1/streams/{stream_id}");
        let mut records: Vec<Record> = Vec::new();
        let mut next = from_version.max(1);
        while records.len() < limit {
            let want = (limit - records.len()).min(PAGE_RECORDS);
            let query = [
                ("from_version", next.to_string()),
                ("limit", want.to_string()),
                ("include", "raw".to_string()),
            ];
            let page: Page = match self
                .server
                .get_json(&path, &query, true, "a page of a stream")
            {
                Ok(page) => page,
                // Unknown to the server: the stream has no records (a stream that vanished
                // halfway through a read is not hidden as a short one).
                Err(SourceError::Server { code: 404, .. }) if next == 1 => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let got = page.items.len();
            for item in page.items {
                let position = item.position;
                let bytes = match item.raw_base64 {
                    None => Err("the server sent no stored bytes (raw_base64) for it".to_string()),
                    Some(text) => base64::engine::general_purpose::STANDARD
                        .decode(text.as_bytes())
                        .map_err(|e| format!("the server's raw_base64 is not base64: {e}")),
                }
                .map_err(|reason| SourceError::Corrupt { position, reason })?;
                let record = decode_value(position, &bytes).map_err(corrupt)?;
                if record.position > self.head {
                    return Ok(records);
                }
                if record.stream_id != stream_id || record.version != next {
                    return Err(SourceError::Corrupt {
                        position,
                        reason: format!(
                            "the server sent {}@{} when asked for {stream_id}@{next}",
                            record.stream_id, record.version
                        ),
                    });
                }
                if let Some(before) = records.last().filter(|r| r.position >= position) {
                    return Err(SourceError::Corrupt {
                        position,
                        reason: format!(
                            "{stream_id}@{next} is at position {position}, not after version {} at {}",
                            before.version, before.position
                        ),
                    });
                }
                records.push(record);
                next += 1;
                if records.len() == limit {
                    break;
                }
            }
            if got < want {
                break;
            }
        }
        Ok(records)
    }

    /// The verifier over the stored bytes the server sends. There is no head anchor online
    /// and the stream index is not served, so those two checks are skipped.
    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, SourceError> {
        let head = self.head;
        let mut verifier = Verifier::new();
        let walked = self.walk_raw(1, head, &mut |position, bytes| {
            verifier
                .check(position, &bytes)
                .map_err(|p| SourceError::Corrupt {
                    position: p.position,
                    reason: p.reason,
                })?;
            if verifier.checked().is_multiple_of(PAGE_RECORDS as u64) {
                progress(verifier.checked(), head);
            }
            Ok(())
        });
        let problem = match walked {
            Ok(()) => None,
            Err(SourceError::Corrupt { position, reason }) => Some(Problem { position, reason }),
            Err(e) => return Err(e),
        };
        progress(verifier.checked(), head);
        Ok(VerifyReport {
            records_checked: verifier.checked(),
            head,
            streams: verifier.streams(),
            anchor: None,
            problem,
        })
    }

    /// The sum of the stored record bytes of `1..=head` (the server's disk usage is not
    /// visible over HTTP); only the positions not yet read are fetched.
    fn log_size(&self) -> Result<Option<LogSize>, SourceError> {
        let (next, counted) = self.counted.get();
        let mut rest = 0u64;
        self.walk_raw(next, self.head, &mut |_, bytes| {
            rest = rest.saturating_add(bytes.len() as u64);
            Ok(())
        })?;
        let total = counted.saturating_add(rest);
        self.counted.set((self.head.max(next - 1) + 1, total));
        Ok(Some(LogSize::RecordBytes(total)))
    }
}

fn corrupt(e: LogError) -> SourceError {
    match e {
        LogError::Corrupt { position, reason } => SourceError::Corrupt { position, reason },
        other => SourceError::Store(other.to_string()),
    }
}

/// The `error.message` of an API error body, or the start of whatever else the body is.
fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    if let Some(m) = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(serde_json::Value::as_str)
    {
        return m.to_string();
    }
    let text: String = body
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(ERROR_BODY_CHARS_MAX)
        .collect();
    if text.is_empty() {
        "(no error message)".into()
    } else {
        text
    }
}

/// An error and its causes, joined with ": " (reqwest's own message alone hides the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        source = cause.source();
    }
    text
}

/// The innermost cause (for a refused connection: the operating system's words).
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(cause) = last.source() {
        last = cause;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_tokens_are_checked_before_any_request() {
        let t = OnlineTarget::parse("http://127.0.0.1:8080/", Some(" tok ")).unwrap();
        assert_eq!(t.base(), "http://127.0.0.1:8080");
        assert_eq!(t.token, "tok");
        let t = OnlineTarget::parse("http://example.test/marketlog/", Some("t")).unwrap();
        assert_eq!(t.base(), "http://example.test/marketlog");
        for (url, token) in [
            ("https://example.test", Some("t")),
            ("ftp://example.test", Some("t")),
            ("127.0.0.1:8080", Some("t")),
            ("http://example.test/?a=b", Some("t")),
            ("http://example.test", None),
            ("http://example.test", Some("")),
            ("http://example.test", Some("two words")),
            ("http://example.test", Some("line\nbreak")),
        ] {
            let e = OnlineTarget::parse(url, token).unwrap_err();
            assert!(matches!(e, ToolError::Usage(_)), "{url} {token:?}: {e:?}");
        }
        let shown = format!(
            "{:?}",
            OnlineTarget::parse("http://h", Some("secret")).unwrap()
        );
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn error_messages_come_from_the_error_json_or_the_body() {
        assert_eq!(
            error_message(r#"{"error":{"code":"unauthenticated","message":"token please"}}"#),
            "token please"
        );
        assert_eq!(error_message("  Bad\n gateway "), "Bad gateway");
        assert_eq!(error_message(""), "(no error message)");
        assert_eq!(error_message(&"x".repeat(1000)).len(), ERROR_BODY_CHARS_MAX);
    }

    #[test]
    fn server_errors_map_to_exit_2_or_1() {
        let e = |code: u16| {
            ToolError::from(SourceError::Server {
                code,
                status: format!("{code} X"),
                message: "m".into(),
            })
        };
        assert!(matches!(e(401), ToolError::Environment(ref m) if m == "server answered 401 X: m"));
        assert!(matches!(e(403), ToolError::Environment(_)));
        assert!(matches!(e(404), ToolError::Environment(_)));
        assert!(matches!(e(500), ToolError::Server(ref m) if m == "server answered 500 X: m"));
        assert!(matches!(e(503), ToolError::Server(_)));
    }
}
