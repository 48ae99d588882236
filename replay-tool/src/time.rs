//! Times as the tool reads and prints them: recorded-at is microseconds since the epoch (UTC)
//! in the log, RFC 3339 in the chosen `--timezone` on screen, the same rendering the server
//! uses (`domain::time::Timestamp::to_rfc3339_in`: six fractional digits only when the
//! sub-second part is non-zero).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

const MICROS_PER_SECOND: i64 = 1_000_000;
/// Longest text accepted as a time flag; longer is not a timestamp.
const RFC3339_TEXT_BYTES_MAX: usize = 64;

/// RFC 3339 with the zone's offset, e.g. `2026-11-22T08:00:00+08:00`. A value chrono cannot
/// represent (only a damaged record could hold one) prints as raw microseconds.
pub fn format_micros(micros: i64, tz: Tz) -> String {
    let Some(utc) = DateTime::<Utc>::from_timestamp_micros(micros) else {
        return format!("{micros}us since 1970-01-01T00:00:00Z");
    };
    let local = utc.with_timezone(&tz);
    if micros.rem_euclid(MICROS_PER_SECOND) == 0 {
        local.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    } else {
        local.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()
    }
}

/// Parses a time flag: RFC 3339 with an offset, to microseconds since the epoch.
pub fn parse_rfc3339_micros(text: &str) -> Result<i64, String> {
    let invalid = || {
        let shown: String = text.chars().take(RFC3339_TEXT_BYTES_MAX).collect();
        format!("{shown:?} is not an rfc 3339 time with an offset, e.g. 2026-11-22T08:00:00+08:00")
    };
    if text.len() > RFC3339_TEXT_BYTES_MAX {
        return Err(invalid());
    }
    let parsed = DateTime::parse_from_rfc3339(text).map_err(|_| invalid())?;
    Ok(parsed.with_timezone(&Utc).timestamp_micros())
}

/// Parses an IANA time zone name for `--timezone`.
pub fn parse_timezone(text: &str) -> Result<Tz, String> {
    text.parse::<Tz>().map_err(|_| {
        format!("unknown time zone {text:?}: use an iana name such as Asia/Shanghai or UTC")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_the_zone_offset_and_micros_only_when_present() {
        let tz = chrono_tz::Asia::Shanghai;
        let at = parse_rfc3339_micros("2026-11-22T00:00:00Z").unwrap();
        assert_eq!(format_micros(at, tz), "2026-11-22T08:00:00+08:00");
        assert_eq!(
            format_micros(at + 1, tz),
            "2026-11-22T08:00:00.000001+08:00"
        );
        assert!(format_micros(i64::MAX, tz).contains("us since"));
    }

    #[test]
    fn time_flags_need_an_offset() {
        assert!(parse_rfc3339_micros("2026-11-22T08:00:00").is_err());
        assert!(parse_rfc3339_micros("yesterday").is_err());
        assert_eq!(
            parse_rfc3339_micros("2026-11-22T08:00:00+08:00"),
            parse_rfc3339_micros("2026-11-22T00:00:00Z")
        );
        assert!(parse_timezone("Mars/Olympus").is_err());
        assert_eq!(parse_timezone("UTC"), Ok(chrono_tz::UTC));
    }
}
