//! Instants in time as the domain sees them.
//!
//! [`Timestamp`] is a count of microseconds since the Unix epoch, UTC. It is the only time type
//! that events, commands and states carry: an integer orders, hashes and encodes compactly and
//! identically on every machine, and a time zone is applied only when a date is shown or a
//! business date is computed (see `calendar`).
//!
//! Invariant: every `Timestamp` lies in [`Timestamp::MIN`, `Timestamp::MAX`], a range chosen so
//! that its rendering in *any* time zone (offsets stay within ±24 h) has a four-digit year and
//! is therefore valid RFC 3339. Arithmetic saturates at the ends of that range instead of
//! wrapping or panicking, so no input can make time arithmetic fail.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// Microseconds in one second.
pub const MICROS_PER_SECOND: i64 = 1_000_000;
/// Seconds in one calendar day (24 h; day counts in the domain are N × 24 h, SPEC §9).
pub const SECONDS_PER_DAY: i64 = 86_400;
/// Microseconds in one calendar day of 24 h.
pub const MICROS_PER_DAY: i64 = SECONDS_PER_DAY * MICROS_PER_SECOND;
/// Longest text [`Timestamp::parse_rfc3339`] looks at; anything longer is not a timestamp and
/// is rejected before parsing (and never echoed back in full).
pub const RFC3339_TEXT_BYTES_MAX: usize = 64;

/// Errors from reading a timestamp. The caller knows which field it was reading and adds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The text is not an RFC 3339 date-time with an offset.
    #[error("invalid timestamp {text:?}: expected rfc 3339 with an offset, e.g. 2026-11-22T08:00:00+08:00")]
    InvalidRfc3339 {
        /// The offending text, cut to [`RFC3339_TEXT_BYTES_MAX`].
        text: String,
    },
    /// The instant is outside the supported range (years 0001..=9999).
    #[error("timestamp {micros} µs is outside the supported range of years 0001..=9999")]
    OutOfRange {
        /// Microseconds since the Unix epoch.
        micros: i64,
    },
}

/// An instant: microseconds since 1970-01-01T00:00:00Z.
///
/// Ordering is chronological. See the module docs for the range invariant.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Timestamp(i64);

impl Timestamp {
    /// 0001-01-02T00:00:00Z, the earliest supported instant.
    pub const MIN: Timestamp = Timestamp(-62_135_510_400_000_000);
    /// 9999-12-30T23:59:59.999999Z, the latest supported instant.
    pub const MAX: Timestamp = Timestamp(253_402_214_399_999_999);
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    /// The instant `micros` microseconds after the epoch, clamped into [`Self::MIN`,
    /// `Self::MAX`] (saturating: a value beyond the range becomes the nearest end).
    pub const fn from_micros(micros: i64) -> Timestamp {
        if micros < Self::MIN.0 {
            Self::MIN
        } else if micros > Self::MAX.0 {
            Self::MAX
        } else {
            Timestamp(micros)
        }
    }

    /// Like [`Self::from_micros`] but refuses values outside the range instead of clamping;
    /// used where an out-of-range value means corrupt input (decoding).
    pub const fn try_from_micros(micros: i64) -> Result<Timestamp, TimeError> {
        if micros < Self::MIN.0 || micros > Self::MAX.0 {
            Err(TimeError::OutOfRange { micros })
        } else {
            Ok(Timestamp(micros))
        }
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Converts from chrono, clamping into the supported range.
    pub fn from_datetime(datetime: DateTime<Utc>) -> Timestamp {
        Timestamp::from_micros(datetime.timestamp_micros())
    }

    /// Converts to chrono. Total: the supported range lies inside chrono's.
    pub fn to_datetime(self) -> DateTime<Utc> {
        match DateTime::from_timestamp_micros(self.0) {
            Some(datetime) => datetime,
            // Unreachable by the range invariant; saturate rather than panic.
            None if self.0 < 0 => DateTime::<Utc>::MIN_UTC,
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// Parses RFC 3339 text that carries an offset (`Z` or `±hh:mm`), e.g.
    /// `2026-11-22T08:00:00+08:00`. Text without an offset is refused because its instant
    /// would depend on where it was read. Digits beyond microseconds are truncated.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimeError> {
        let invalid = || TimeError::InvalidRfc3339 {
            text: text.chars().take(RFC3339_TEXT_BYTES_MAX).collect(),
        };
        if text.len() > RFC3339_TEXT_BYTES_MAX {
            return Err(invalid());
        }
        let parsed = DateTime::parse_from_rfc3339(text).map_err(|_| invalid())?;
        Timestamp::try_from_micros(parsed.with_timezone(&Utc).timestamp_micros())
    }

    /// RFC 3339 in the given zone with its offset, e.g. `2026-11-22T08:00:00+08:00`; six
    /// fractional digits appear only when the sub-second part is non-zero.
    pub fn to_rfc3339_in(self, tz: chrono_tz::Tz) -> String {
        let format = if self.0.rem_euclid(MICROS_PER_SECOND) == 0 {
            SecondsFormat::Secs
        } else {
            SecondsFormat::Micros
        };
        // `to_rfc3339_opts` writes the offset as `±hh:mm` (never `Z` with `use_z` false),
        // without parsing a strftime pattern on every call.
        self.to_datetime()
            .with_timezone(&tz)
            .to_rfc3339_opts(format, false)
    }

    /// RFC 3339 in UTC with a `Z` suffix, e.g. `2026-11-22T00:00:00Z`; six fractional digits
    /// only when the sub-second part is non-zero. This is the JSON form.
    pub fn to_rfc3339_utc(self) -> String {
        let format = if self.0.rem_euclid(MICROS_PER_SECOND) == 0 {
            SecondsFormat::Secs
        } else {
            SecondsFormat::Micros
        };
        self.to_datetime().to_rfc3339_opts(format, true)
    }

    /// This instant moved by `micros` (negative moves back), saturating at the range ends.
    pub const fn plus_micros(self, micros: i64) -> Timestamp {
        Timestamp::from_micros(self.0.saturating_add(micros))
    }

    /// This instant moved by `seconds` (negative moves back), saturating at the range ends.
    pub const fn plus_seconds(self, seconds: i64) -> Timestamp {
        self.plus_micros(seconds.saturating_mul(MICROS_PER_SECOND))
    }

    /// This instant plus `days` calendar days of exactly 24 h each (SPEC §9: "N × 24 h from the
    /// event that starts them"), regardless of daylight-saving changes; saturating.
    pub const fn plus_days(self, days: u32) -> Timestamp {
        self.plus_micros((days as i64).saturating_mul(MICROS_PER_DAY))
    }

    /// Microseconds from `earlier` to `self`; negative when `earlier` is later. Cannot
    /// overflow: both lie in the supported range.
    pub const fn micros_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Timestamp {
    /// The RFC 3339 UTC form, as in JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_utc())
    }
}

/// Human-readable formats (JSON) get the RFC 3339 UTC string, binary formats (bincode) the
/// bare `i64` — readable where people read it, compact where it is stored.
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_rfc3339_utc())
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

/// The mirror of `Serialize`; the human-readable form accepts any offset.
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(Rfc3339Visitor)
        } else {
            let micros = i64::deserialize(deserializer)?;
            Timestamp::try_from_micros(micros).map_err(de::Error::custom)
        }
    }
}

struct Rfc3339Visitor;

impl Visitor<'_> for Rfc3339Visitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an rfc 3339 timestamp with an offset")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
        Timestamp::parse_rfc3339(text).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SHANGHAI: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

    fn utc(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn range_ends_are_the_documented_instants() {
        assert_eq!(Timestamp::MIN.to_rfc3339_utc(), "0001-01-02T00:00:00Z");
        assert_eq!(
            Timestamp::MAX.to_rfc3339_utc(),
            "9999-12-30T23:59:59.999999Z"
        );
    }

    #[test]
    fn range_ends_render_four_digit_years_in_extreme_zones() {
        let kiritimati = chrono_tz::Pacific::Kiritimati; // +14:00
        let niue = chrono_tz::Pacific::Niue; // -11:00
        assert!(Timestamp::MAX
            .to_rfc3339_in(kiritimati)
            .starts_with("9999-12-31T"));
        assert!(Timestamp::MIN
            .to_rfc3339_in(niue)
            .starts_with("0001-01-01T"));
    }

    #[test]
    fn from_micros_saturates_at_range_ends() {
        assert_eq!(Timestamp::from_micros(i64::MAX), Timestamp::MAX);
        assert_eq!(Timestamp::from_micros(i64::MIN), Timestamp::MIN);
        assert_eq!(Timestamp::from_micros(42).as_micros(), 42);
        assert_eq!(
            Timestamp::try_from_micros(i64::MAX),
            Err(TimeError::OutOfRange { micros: i64::MAX })
        );
    }

    #[test]
    fn datetime_round_trip_keeps_microseconds() {
        let datetime = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()
            + chrono::Duration::microseconds(123_456);
        let ts = Timestamp::from_datetime(datetime);
        assert_eq!(ts.as_micros(), 1_795_305_600_123_456);
        assert_eq!(ts.to_datetime(), datetime);
    }

    #[test]
    fn parse_rfc3339_accepts_any_offset_and_normalises_to_utc() {
        let cases = [
            ("2026-11-22T08:00:00+08:00", "2026-11-22T00:00:00Z"),
            ("2026-11-22T00:00:00Z", "2026-11-22T00:00:00Z"),
            ("2026-11-21T19:00:00-05:00", "2026-11-22T00:00:00Z"),
            ("2026-11-22T00:00:00.5Z", "2026-11-22T00:00:00.500000Z"),
            (
                "2026-11-22T00:00:00.1234567Z",
                "2026-11-22T00:00:00.123456Z",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(utc(input).to_rfc3339_utc(), expected, "input {input}");
        }
    }

    #[test]
    fn parse_rfc3339_requires_an_offset() {
        for input in [
            "2026-11-22T08:00:00",
            "2026-11-22",
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
        ] {
            assert!(
                matches!(
                    Timestamp::parse_rfc3339(input),
                    Err(TimeError::InvalidRfc3339 { .. })
                ),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn parse_rfc3339_refuses_overlong_text_without_echoing_it() {
        let long = format!("2026-11-22T08:00:00+08:00{}", " ".repeat(1000));
        let error = Timestamp::parse_rfc3339(&long).unwrap_err();
        assert!(error.to_string().len() < 200, "{error}");
    }

    #[test]
    fn to_rfc3339_in_shows_the_zone_offset_and_micros_only_when_non_zero() {
        let ts = utc("2026-11-22T00:00:00Z");
        assert_eq!(ts.to_rfc3339_in(SHANGHAI), "2026-11-22T08:00:00+08:00");
        assert_eq!(
            ts.plus_micros(1).to_rfc3339_in(SHANGHAI),
            "2026-11-22T08:00:00.000001+08:00"
        );
        assert_eq!(
            ts.to_rfc3339_in(chrono_tz::UTC),
            "2026-11-22T00:00:00+00:00"
        );
        let summer = utc("2026-07-01T12:00:00Z");
        assert_eq!(
            summer.to_rfc3339_in(chrono_tz::Europe::Berlin),
            "2026-07-01T14:00:00+02:00"
        );
    }

    #[test]
    fn sub_second_part_of_instants_before_epoch_is_shown() {
        let ts = Timestamp::from_micros(-1);
        assert_eq!(ts.to_rfc3339_utc(), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            Timestamp::from_micros(-1_000_000).to_rfc3339_utc(),
            "1969-12-31T23:59:59Z"
        );
    }

    #[test]
    fn plus_days_adds_exactly_24_hours_per_day_across_dst() {
        let berlin = chrono_tz::Europe::Berlin;
        // 2026-03-29 is the spring-forward day in Berlin: the wall clock moves 25 h.
        let before = utc("2026-03-28T12:00:00+01:00");
        let after = before.plus_days(1);
        assert_eq!(after.micros_since(before), MICROS_PER_DAY);
        assert_eq!(after.to_rfc3339_in(berlin), "2026-03-29T13:00:00+02:00");
    }

    #[test]
    fn arithmetic_saturates_instead_of_overflowing() {
        assert_eq!(Timestamp::MAX.plus_seconds(1), Timestamp::MAX);
        assert_eq!(Timestamp::MIN.plus_seconds(-1), Timestamp::MIN);
        assert_eq!(Timestamp::UNIX_EPOCH.plus_seconds(i64::MAX), Timestamp::MAX);
        assert_eq!(Timestamp::MAX.plus_days(u32::MAX), Timestamp::MAX);
        assert_eq!(
            Timestamp::UNIX_EPOCH.plus_seconds(-90).as_micros(),
            -90_000_000
        );
        assert_eq!(
            Timestamp::MAX.micros_since(Timestamp::MIN),
            Timestamp::MAX.as_micros() - Timestamp::MIN.as_micros()
        );
    }

    #[test]
    fn bincode_stores_the_compact_i64_form() {
        let config = bincode::config::standard();
        let ts = utc("2026-11-22T00:00:00Z");
        let encoded = bincode::serde::encode_to_vec(ts, config).unwrap();
        let as_integer = bincode::serde::encode_to_vec(ts.as_micros(), config).unwrap();
        assert_eq!(encoded, as_integer);
        assert!(encoded.len() <= 9, "varint i64 is at most 9 bytes");
        let (decoded, read): (Timestamp, usize) =
            bincode::serde::decode_from_slice(&encoded, config).unwrap();
        assert_eq!((decoded, read), (ts, encoded.len()));
    }

    #[test]
    fn bincode_refuses_out_of_range_micros() {
        let config = bincode::config::standard();
        let encoded = bincode::serde::encode_to_vec(i64::MAX, config).unwrap();
        let result: Result<(Timestamp, usize), _> =
            bincode::serde::decode_from_slice(&encoded, config);
        assert!(result.is_err());
    }

    #[test]
    fn json_uses_the_rfc3339_utc_string() {
        let ts = utc("2026-11-22T08:00:00.25+08:00");
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, "\"2026-11-22T00:00:00.250000Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
        let with_offset: Timestamp =
            serde_json::from_str("\"2026-11-22T08:00:00.25+08:00\"").unwrap();
        assert_eq!(with_offset, ts);
        assert!(serde_json::from_str::<Timestamp>("1795305600000000").is_err());
        assert!(serde_json::from_str::<Timestamp>("\"2026-11-22T08:00:00\"").is_err());
    }
}
