//! Request extractors implementing API.md §1 once for every route: the caller (bearer auth),
//! the raw body (size limit, JSON with unknown-field and type errors naming the field),
//! command headers (`Idempotency-Key`, `If-Match`) and read headers (`X-Min-Position`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use domain::Role;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::time::Duration;

use crate::error::ApiError;
use crate::listener::{BodyReadTimeout, BODY_READ_TIMEOUT_MS_DEFAULT};
use crate::state::App;

/// Largest JSON body (API.md §1).
pub const BODY_BYTES_MAX: usize = 1024 * 1024;
/// Longest `Idempotency-Key`.
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 128;

/// The authenticated principal.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: String,
    pub role: Role,
    pub name: String,
    pub org_id: Option<String>,
    pub staff_id: Option<String>,
    pub real_name_verified: bool,
}

impl Caller {
    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(self.role.as_str()))
        }
    }

    pub fn actor(&self) -> domain::Actor {
        domain::Actor::Principal {
            id: self.id.clone(),
            role: self.role,
            org_id: self.org_id.clone(),
        }
    }
}

/// SHA-256 (hex) of a bearer token: the only form in which tokens are stored.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Caller, ApiError> {
        let mut headers = parts
            .headers
            .get_all(axum::http::header::AUTHORIZATION)
            .iter();
        let header = headers
            .next()
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthenticated)?;
        // Two credentials are ambiguous: refuse rather than pick one.
        if headers.next().is_some() {
            return Err(
                ApiError::bad_request("send one Authorization header, not several")
                    .with("field", "Authorization"),
            );
        }
        let token = bearer_token(header).ok_or_else(ApiError::unauthenticated)?;
        let hash = token_sha256(token);
        let (found, _) = app
            .directory
            .read(|d| d.principal_by_token_hash(&hash).cloned());
        let p = found.ok_or_else(ApiError::unauthenticated)?;
        let caller = Caller {
            id: p.id,
            role: p.role,
            name: p.name,
            org_id: p.org_id,
            staff_id: p.staff_id,
            real_name_verified: p.real_name_verified,
        };
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// Longest bearer token accepted (ours are far shorter; a longer one cannot match).
pub const TOKEN_CHARS_MAX: usize = 256;

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive
/// (RFC 9110 §11.1) and may be followed by several spaces.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= TOKEN_CHARS_MAX)
        .then_some(token)
}

/// The raw request body, parsed on demand so that 401/403/404 answer before 400.
#[derive(Debug, Clone)]
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Body, ApiError> {
        let timeout = req
            .extensions()
            .get::<BodyReadTimeout>()
            .map_or(Duration::from_millis(BODY_READ_TIMEOUT_MS_DEFAULT), |t| t.0);
        let Ok(read) = tokio::time::timeout(timeout, Bytes::from_request(req, state)).await else {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body did not arrive within {} ms",
                    timeout.as_millis()
                ),
            )
            .with(
                "timeout_ms",
                u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            ));
        };
        match read {
            Ok(b) if b.len() > BODY_BYTES_MAX => Err(ApiError::payload_too_large(BODY_BYTES_MAX)),
            Ok(b) => Ok(Body(b)),
            Err(rejection) => {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    Err(ApiError::payload_too_large(BODY_BYTES_MAX))
                } else {
                    Err(ApiError::bad_request(format!(
                        "unreadable body: {rejection}"
                    )))
                }
            }
        }
    }
}

impl Body {
    /// Parses the body as `T`; a missing, mistyped or unknown field → 400 naming it.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let bytes: &[u8] = if self.0.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.0
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let err = ApiError::bad_request(format!("invalid JSON body: {inner}"));
            let at = (path != "." && !path.is_empty()).then_some(path);
            // A missing field's path is the object that lacks it: name the field itself.
            let missing = inner
                .to_string()
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split_once('`'))
                .map(|(name, _)| name.to_owned());
            match (at, missing) {
                (Some(at), Some(name)) => err.with("field", format!("{at}.{name}")),
                (None, Some(name)) => err.with("field", name),
                (Some(at), None) => err.with("field", at),
                (None, None) => err,
            }
        })?;
        de.end()
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
        Ok(value)
    }

    /// Fingerprint of the request for idempotency: method, path and body bytes.
    pub fn fingerprint(&self, method: &str, path: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(method.as_bytes());
        h.update([0]);
        h.update(path.as_bytes());
        h.update([0]);
        h.update(&self.0);
        h.finalize().into()
    }
}

/// Command headers: `Idempotency-Key`, `If-Match`, the request id, method and path.
#[derive(Debug, Clone, Default)]
pub struct CommandHeaders {
    pub idempotency_key: Option<String>,
    pub if_match: Option<u64>,
    pub request_id: String,
    pub method: String,
    pub path: String,
    /// A malformed `Idempotency-Key` or `If-Match`: answered (400) only after the role,
    /// existence and tenancy checks, in the order of API.md §1.
    pub invalid: Option<ApiError>,
}

impl CommandHeaders {
    /// The deferred header error, if any.
    pub fn check(&self) -> Result<(), ApiError> {
        match &self.invalid {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CommandHeaders {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<CommandHeaders, ApiError> {
        let mut invalid = None;
        let idempotency_key = match header(&parts.headers, "idempotency-key") {
            Err(e) => {
                invalid = Some(e);
                None
            }
            Ok(None) => None,
            Ok(Some(k)) if (1..=IDEMPOTENCY_KEY_CHARS_MAX).contains(&k.chars().count()) => {
                Some(k.to_owned())
            }
            Ok(Some(_)) => {
                invalid = Some(
                    ApiError::bad_request(format!(
                        "Idempotency-Key must be 1..={IDEMPOTENCY_KEY_CHARS_MAX} characters"
                    ))
                    .with("field", "Idempotency-Key"),
                );
                None
            }
        };
        let if_match = match header(&parts.headers, "if-match") {
            Err(e) => {
                invalid = invalid.or(Some(e));
                None
            }
            Ok(None) => None,
            Ok(Some(v)) => match parse_etag(v) {
                Some(n) => Some(n),
                None => {
                    invalid = invalid.or(Some(
                        ApiError::bad_request("If-Match must be a version in quotes, e.g. \"3\"")
                            .with("field", "If-Match"),
                    ));
                    None
                }
            },
        };
        Ok(CommandHeaders {
            idempotency_key,
            if_match,
            request_id: request_id(&parts.headers),
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            invalid,
        })
    }
}

/// `X-Min-Position` of a read.
#[derive(Debug, Clone, Copy, Default)]
pub struct MinPosition(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for MinPosition {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<MinPosition, ApiError> {
        match header(&parts.headers, "x-min-position")? {
            None => Ok(MinPosition(None)),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(|p| MinPosition(Some(p)))
                .map_err(|_| {
                    ApiError::bad_request("X-Min-Position must be a log position")
                        .with("field", "X-Min-Position")
                }),
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            ApiError::bad_request(format!("header {name} is not visible ASCII")).with("field", name)
        }),
    }
}

/// The query string parsed as `T`, or 400 naming what is wrong with it.
pub fn query<T: DeserializeOwned>(
    q: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|axum::extract::Query(t)| t).map_err(|e| {
        let text = e.body_text();
        let err = ApiError::bad_request(format!("invalid query: {text}"));
        match query_error_field(&text) {
            Some(field) => err.with("field", field),
            None => err,
        }
    })
}

/// The parameter a query-string error is about: axum words them
/// "Failed to deserialize query string: <field>: <what is wrong>".
fn query_error_field(text: &str) -> Option<&str> {
    let (_, rest) = text.split_once("query string: ")?;
    let (field, _) = rest.split_once(": ")?;
    (!field.is_empty()
        && field
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'))
    .then_some(field)
}

/// `"3"`, `W/"3"` or `3` → 3.
pub fn parse_etag(v: &str) -> Option<u64> {
    let v = v.trim();
    let v = v.strip_prefix("W/").unwrap_or(v);
    let v = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v);
    v.parse().ok()
}

/// The request id set by the request-id layer.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("req_unknown")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("bEaReR abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }

    #[test]
    fn etags_parse_in_their_usual_forms() {
        assert_eq!(parse_etag("\"3\""), Some(3));
        assert_eq!(parse_etag("W/\"12\""), Some(12));
        assert_eq!(parse_etag("7"), Some(7));
        assert_eq!(parse_etag("\"x\""), None);
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            name: String,
            n: u32,
        }
        let e = Body(Bytes::from_static(br#"{"name": "a", "n": "x"}"#))
            .json::<T>()
            .unwrap_err();
        assert_eq!(e.details["field"], "n");
        let e = Body(Bytes::from_static(br#"{"name": "a", "n": 1, "zzz": 2}"#))
            .json::<T>()
            .unwrap_err();
        assert!(e.message.contains("zzz"), "{}", e.message);
        let e = Body(Bytes::from_static(br#"{"n": 1}"#))
            .json::<T>()
            .unwrap_err();
        assert!(e.message.contains("name"), "{}", e.message);
        assert_eq!(e.details["field"], "name");
        assert!(Body(Bytes::from_static(b"{")).json::<T>().is_err());
        // A field missing inside a list item is named with its path.
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            items: Vec<T>,
        }
        let e = Body(Bytes::from_static(
            br#"{"items": [{"name": "a", "n": 1}, {"n": 2}]}"#,
        ))
        .json::<Outer>()
        .unwrap_err();
        assert_eq!(e.details["field"], "items[1].name");
    }
}
