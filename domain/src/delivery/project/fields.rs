//! Field rules of delivery commands that need no state (422 naming the field), checked
//! before any state rule (API.md §1), and the one that needs the project's files.

use crate::error::{require_text, DomainError};
use crate::text::{require_name, require_printable, TextKind};

use super::{
    DeliveryState, FileAttached, RequirementForm, ADDRESS_CHARS_MAX, CONTACT_NAME_CHARS_MAX,
    CONTENT_TYPE_CHARS_MAX, DESCRIPTION_CHARS_MAX, EMAIL_CHARS_MAX, FILE_BYTES_MAX, FILE_IDS_MAX,
    FILE_NAME_CHARS_MAX, PHONE_CHARS_MAX, PHONE_CHARS_MIN, REMARK_CHARS_MAX,
};

pub(super) fn require_remark(remark: &str) -> Result<(), DomainError> {
    require_text("remark", remark, REMARK_CHARS_MAX)
}

pub(super) fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<(), DomainError> {
    let Some(v) = value else { return Ok(()) };
    if v.chars().count() > max {
        return Err(DomainError::validation(
            field,
            "max_length",
            format!("{field} must be at most {max} characters"),
        ));
    }
    require_printable(field, v, TextKind::Free)
}

pub(super) fn require_file_ids(field: &str, ids: &[String]) -> Result<(), DomainError> {
    if ids.len() > FILE_IDS_MAX {
        return Err(DomainError::validation(
            field,
            "max_items",
            format!("{field} must name at most {FILE_IDS_MAX} files"),
        ));
    }
    Ok(())
}

/// Every id must be a file attached to this project (422 `unknown_file`).
pub(super) fn known_files(
    state: &DeliveryState,
    field: &str,
    ids: &[String],
) -> Result<(), DomainError> {
    match ids.iter().find(|id| !state.files.contains_key(*id)) {
        None => Ok(()),
        Some(id) => Err(DomainError::rule(
            "unknown_file",
            format!("{field}: {id} is not a file of this delivery"),
        )
        .with("field", field)
        .with("file_id", id.clone())),
    }
}

/// Field rules of the requirement form (422 naming the field).
pub fn validate_form(form: &RequirementForm) -> Result<(), DomainError> {
    require_name("contact_name", &form.contact_name, CONTACT_NAME_CHARS_MAX)?;
    let phone_len = form.phone.chars().count();
    let phone_ok = (PHONE_CHARS_MIN..=PHONE_CHARS_MAX).contains(&phone_len)
        && form
            .phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
        && form.phone.chars().filter(char::is_ascii_digit).count() >= PHONE_CHARS_MIN;
    if !phone_ok {
        return Err(DomainError::validation(
            "phone",
            "phone_shape",
            format!(
                "phone must be {PHONE_CHARS_MIN}..{PHONE_CHARS_MAX} characters of digits, +, -, spaces and parentheses"
            ),
        ));
    }
    if form.email.chars().count() > EMAIL_CHARS_MAX {
        return Err(DomainError::validation(
            "email",
            "max_length",
            format!("email must be at most {EMAIL_CHARS_MAX} characters"),
        ));
    }
    if !email_shaped(&form.email) {
        return Err(DomainError::validation(
            "email",
            "email_shape",
            "email must look like name@example.com",
        ));
    }
    require_text("address", &form.address, ADDRESS_CHARS_MAX)?;
    require_text("description", &form.description, DESCRIPTION_CHARS_MAX)?;
    require_file_ids("file_ids", &form.file_ids)
}

/// `local@domain.tld`: one `@`, no spaces or controls, a dot inside the domain.
fn email_shaped(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

pub(super) fn validate_file(f: &FileAttached) -> Result<(), DomainError> {
    require_name("name", &f.name, FILE_NAME_CHARS_MAX)?;
    if f.size == 0 {
        return Err(DomainError::validation(
            "size",
            "empty",
            "a file must not be empty",
        ));
    }
    if f.size > FILE_BYTES_MAX {
        return Err(DomainError::validation(
            "size",
            "max_bytes",
            format!("a file must be at most {FILE_BYTES_MAX} bytes"),
        ));
    }
    let hex = f.sha256.len() == 64
        && f.sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex {
        return Err(DomainError::validation(
            "sha256",
            "sha256_shape",
            "sha256 must be 64 lowercase hex digits",
        ));
    }
    require_name("content_type", &f.content_type, CONTENT_TYPE_CHARS_MAX)
}
