//! Which characters a text field may hold. Names and codes (a product's code and name, an
//! org's or principal's name, a channel reference) are one line of visible text: no control
//! character at all. Free text (reason, remark, comment, reply text, address) may keep line
//! breaks and tabs. Neither may hold NUL, other C0/C1 controls or the bidi overrides and
//! isolates (U+202A–U+202E, U+2066–U+2069) that make text display differently from what is
//! stored — in back-office screens, CSV exports and audit logs.

use crate::error::DomainError;

/// The shape a text field has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// One line: no control character.
    Name,
    /// Line breaks (`\n`, `\r`) and tabs allowed, no other control.
    Free,
}

/// The first character `kind` refuses, if any.
pub fn forbidden_char(value: &str, kind: TextKind) -> Option<char> {
    value.chars().find(|&c| {
        let allowed_space = kind == TextKind::Free && matches!(c, '\n' | '\r' | '\t');
        (c.is_control() && !allowed_space)
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    })
}

/// 422 `validation_failed` (rule `control_characters`) naming `field` when `value` holds a
/// character `kind` refuses.
pub fn require_printable(field: &str, value: &str, kind: TextKind) -> Result<(), DomainError> {
    match forbidden_char(value, kind) {
        None => Ok(()),
        Some(c) => Err(DomainError::validation(
            field,
            "control_characters",
            match kind {
                TextKind::Name => format!(
                    "{field} must not contain control or bidi characters (found U+{:04X})",
                    u32::from(c)
                ),
                TextKind::Free => format!(
                    "{field} may contain line breaks and tabs but no other control or bidi \
                     characters (found U+{:04X})",
                    u32::from(c)
                ),
            },
        )),
    }
}

/// A required one-line name or code: trimmed length `1..=max_chars`, no control character.
pub fn require_name(field: &str, value: &str, max_chars: usize) -> Result<(), DomainError> {
    crate::error::require_text(field, value, max_chars)?;
    require_printable(field, value, TextKind::Name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_every_control_and_bidi_character() {
        for bad in [
            "a\0b",
            "a\nb",
            "a\tb",
            "a\rb",
            "a\u{1b}[31m",
            "a\u{7f}",
            "a\u{85}",
            "a\u{9f}",
            "a\u{202A}",
            "a\u{202E}b",
            "a\u{2066}",
            "a\u{2069}",
        ] {
            let e = require_name("name", bad, 100).unwrap_err();
            assert_eq!(e.code, "validation_failed", "{bad:?}");
            assert_eq!(e.details[0], ("field", "name".to_owned()), "{bad:?}");
            assert_eq!(e.details[1], ("rule", "control_characters".to_owned()));
        }
        for good in [
            "Acme Cloud",
            "云服务器 ECS",
            "Zoë's VM – 2 vCPU",
            "שלום",
            "a\u{200D}b",
        ] {
            assert!(require_name("name", good, 100).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn free_text_keeps_line_breaks_and_tabs_only() {
        assert_eq!(
            forbidden_char("line 1\nline 2\r\n\tindented", TextKind::Free),
            None
        );
        for bad in [
            "a\0",
            "a\u{1b}",
            "a\u{8}",
            "a\u{7f}",
            "a\u{90}",
            "a\u{202D}",
            "a\u{2067}",
        ] {
            assert!(forbidden_char(bad, TextKind::Free).is_some(), "{bad:?}");
            assert!(require_printable("reason", bad, TextKind::Free).is_err());
        }
    }
}
