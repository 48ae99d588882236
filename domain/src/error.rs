//! The one error type every decider returns. The API maps each kind to its status and code
//! (API.md §1) in one place; messages are lowercase and name the field or rule.

use std::fmt;

/// What kind of refusal, which fixes the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 422 `validation_failed`: a field breaks a rule that needs no state.
    Validation,
    /// 409 `invalid_state`: not allowed in the current state.
    InvalidState,
    /// 409 with a domain code (e.g. `sold_out`, `already_set`).
    Conflict,
    /// 422 with a domain code that depends on state (e.g. `amount_mismatch`).
    Rule,
    /// 404: the thing does not exist.
    NotFound,
    /// 500: a decision broke its own contract (read a stream it did not load); a bug.
    Internal,
}

/// A refusal with a stable machine code, a human message and details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
    /// Extra machine-readable facts (`field`, `rule`, `state`, …), in order.
    pub details: Vec<(&'static str, String)>,
}

impl DomainError {
    /// 422 `validation_failed` naming `field` and `rule`.
    pub fn validation(field: &str, rule: &str, message: impl Into<String>) -> DomainError {
        DomainError {
            kind: ErrorKind::Validation,
            code: "validation_failed",
            message: message.into(),
            details: vec![("field", field.to_owned()), ("rule", rule.to_owned())],
        }
    }

    /// 409 `invalid_state` with `details.state`.
    pub fn invalid_state(state: &str, message: impl Into<String>) -> DomainError {
        DomainError {
            kind: ErrorKind::InvalidState,
            code: "invalid_state",
            message: message.into(),
            details: vec![("state", state.to_owned())],
        }
    }

    /// 409 with a domain code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> DomainError {
        DomainError {
            kind: ErrorKind::Conflict,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// 422 with a domain code.
    pub fn rule(code: &'static str, message: impl Into<String>) -> DomainError {
        DomainError {
            kind: ErrorKind::Rule,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// 422 `template_invalid`: a flow template breaks publish rule `rule` (SPEC §8), at node
    /// `node_id` (none for the node count).
    pub fn template_invalid(
        node_id: Option<&str>,
        rule: &'static str,
        message: impl Into<String>,
    ) -> DomainError {
        let mut details = Vec::with_capacity(2);
        if let Some(id) = node_id {
            details.push(("node_id", id.to_owned()));
        }
        details.push(("rule", rule.to_owned()));
        DomainError {
            kind: ErrorKind::Rule,
            code: "template_invalid",
            message: message.into(),
            details,
        }
    }

    /// 500 `internal`: a bug in a decision, not a refusal.
    pub fn internal(message: impl Into<String>) -> DomainError {
        DomainError {
            kind: ErrorKind::Internal,
            code: "internal",
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// 404 naming what does not exist.
    pub fn not_found(what: &str) -> DomainError {
        DomainError {
            kind: ErrorKind::NotFound,
            code: "not_found",
            message: format!("{what} not found"),
            details: Vec::new(),
        }
    }

    /// Adds a detail.
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> DomainError {
        self.details.push((key, value.into()));
        self
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DomainError {}

/// Checks a required free-text field: trimmed length within `1..=max` characters, no control
/// character but line breaks and tabs (see [`crate::text`]; names use
/// [`crate::text::require_name`]).
pub fn require_text(field: &str, value: &str, max_chars: usize) -> Result<(), DomainError> {
    let n = value.trim().chars().count();
    if n == 0 {
        return Err(DomainError::validation(
            field,
            "required",
            format!("{field} must not be empty"),
        ));
    }
    if value.chars().count() > max_chars {
        return Err(DomainError::validation(
            field,
            "max_length",
            format!("{field} must be at most {max_chars} characters"),
        ));
    }
    crate::text::require_printable(field, value, crate::text::TextKind::Free)
}
