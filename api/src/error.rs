//! The one error type of the API and its mapping to the error JSON of API.md §1:
//! `{"error": {"code", "message", "details"}}`. Every failure a client can cause goes through
//! here; internal failures answer 500 or 503 without leaking internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::{DomainError, ErrorKind};
use eventlog::{AppendError, LogError};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Map<String, Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "a valid bearer token is required (Authorization: Bearer <token>)",
        )
    }

    pub fn forbidden(role: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("role {role} may not do this"),
        )
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn validation(field: &str, rule: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
        .with("field", field)
        .with("rule", rule)
    }

    pub fn version_conflict(current: u64) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "version_conflict",
            format!("the resource is at version {current}, not the version in If-Match"),
        )
        .with("current_version", current)
    }

    pub fn projection_lagging(name: &str, position: u64) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "projection_lagging",
            format!("projection {name} has not reached X-Min-Position in time"),
        )
        .with("projection", name)
        .with("position", position)
    }

    /// The log was found damaged (see `eventlog::integrity`): writes are refused for good and
    /// a read that reaches the damage cannot be answered. Not a 500: retrying cannot help,
    /// the operator must act.
    pub fn store_fenced(position: u64, reason: &str) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_fenced",
            format!(
                "the event log is damaged at position {position} ({reason}); writes are refused and records from there on cannot be served; the operator must run `replay-tool verify` on the data dir"
            ),
        )
        .with("position", position)
        .with("reason", reason)
    }

    /// A command that kept finding a stream it reads (not one it writes) changed under it;
    /// retrying it is safe (API.md §1: without If-Match this is never a 409).
    pub fn busy(stream_id: &str, attempts: u64) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!("{stream_id} kept changing while the command was decided; retry it"),
        )
        .with("stream", stream_id)
        .with("attempts", attempts)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn internal(context: &str, error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, context, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }

    pub fn payload_too_large(limit_bytes: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body larger than {limit_bytes} bytes"),
        )
        .with("limit_bytes", limit_bytes)
    }
}

/// The error JSON of API.md §1, as sent and as documented.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorFields,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorFields {
    /// bad_request, unauthenticated, forbidden, not_found, method_not_allowed, invalid_state,
    /// version_conflict, payload_too_large, validation_failed, idempotency_key_reused,
    /// projection_lagging, unavailable, internal, or a domain rule code.
    pub code: &'static str,
    /// A sentence naming the field or rule.
    pub message: String,
    /// `field` and `rule` for validation_failed, `state` for invalid_state,
    /// `current_version` for version_conflict, and what else the code names.
    #[schema(value_type = Object, additional_properties = true)]
    pub details: Map<String, Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!("marketlog_http_errors_total", "code" => self.code).increment(1);
        let body = ErrorBody {
            error: ErrorFields {
                code: self.code,
                message: self.message,
                details: self.details,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        let status = match e.kind {
            ErrorKind::Validation | ErrorKind::Rule => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::InvalidState | ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Internal => return ApiError::internal("deciding", e.message),
        };
        let mut err = ApiError::new(status, e.code, e.message);
        for (k, v) in e.details {
            err.details.insert(k.to_owned(), Value::String(v));
        }
        err
    }
}

impl From<LogError> for ApiError {
    fn from(e: LogError) -> ApiError {
        match e {
            LogError::Invalid(m) => ApiError::bad_request(m),
            LogError::Unavailable(_) | LogError::Closed => {
                ApiError::unavailable("the event log is not accepting writes; try again later")
            }
            LogError::Fenced { position, reason } | LogError::Corrupt { position, reason } => {
                ApiError::store_fenced(position, &reason)
            }
            other => ApiError::internal("event log", other),
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> ApiError {
        match e {
            AppendError::Conflict { current, .. } => ApiError::version_conflict(current),
            AppendError::IdempotencyKeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            ),
            AppendError::Invalid(m) => ApiError::bad_request(m),
            AppendError::Log(l) => l.into(),
        }
    }
}
