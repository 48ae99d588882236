//! Business dates, working days and deadline arithmetic (SPEC §9).
//!
//! A [`WorkCalendar`] is the marketplace time zone plus, per year, the platform's list of
//! holidays and make-up working days (调休). It answers "which local date is this instant",
//! "is that a working day" and "when does a timeout of D days starting now run out", in
//! working days or calendar days.
//!
//! Invariants: a year without a calendar has Monday–Friday as working days; a holiday beats
//! the weekday rule and a make-up working day beats the weekend; deadline arithmetic is total
//! and bounded — it never spans more than [`DEADLINE_SPAN_DAYS_MAX`] days and never loops
//! without bound, whatever the calendar says.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{
    Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::time::{Timestamp, MICROS_PER_DAY};

/// The marketplace time zone unless configured otherwise (SPEC §9).
pub const DEFAULT_TZ: Tz = chrono_tz::Asia::Shanghai;
/// Most dates in one list of one year's calendar (a year has at most 366 dates).
pub const CALENDAR_DATES_MAX: usize = 366;
/// Most years a [`WorkCalendar`] holds.
pub const CALENDAR_YEARS_MAX: usize = 200;
/// Longest span a deadline may reach, about 10 years: a longer timeout is cut to this, and
/// the working-day walk stops here even if the calendar had no working day at all.
pub const DEADLINE_SPAN_DAYS_MAX: u32 = 3660;
/// Timeouts are given in tenths of a day ("timeout in days with one decimal", SPEC §8).
pub const MICROS_PER_TENTH_DAY: i64 = MICROS_PER_DAY / 10;

/// A rejected calendar edit; names the list and the date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// A list holds more dates than a year has.
    #[error("{field}: {count} dates exceed the limit of {max}")]
    TooManyDates {
        /// `holidays` or `workdays`.
        field: &'static str,
        /// Dates given.
        count: usize,
        /// [`CALENDAR_DATES_MAX`].
        max: usize,
    },
    /// A date does not belong to the calendar's year.
    #[error("{field}: {date} is outside year {year}")]
    OutsideYear {
        /// `holidays` or `workdays`.
        field: &'static str,
        /// The offending date.
        date: NaiveDate,
        /// The calendar's year.
        year: i32,
    },
    /// A date is both a holiday and a make-up working day.
    #[error("workdays: {date} is also listed in holidays")]
    InBothLists {
        /// The offending date.
        date: NaiveDate,
    },
    /// The calendar would hold too many years.
    #[error("year: {year} would exceed the limit of {max} calendar years")]
    TooManyYears {
        /// The year being added.
        year: i32,
        /// [`CALENDAR_YEARS_MAX`].
        max: usize,
    },
}

/// How a delivery node's timeout counts days (SPEC §8).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutUnit {
    /// Only time on working days counts (holidays and weekends excluded).
    #[default]
    WorkingDays,
    /// Every day counts, N × 24 h.
    CalendarDays,
}

/// One year's exceptions to the Monday–Friday rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearCalendar {
    /// Days off, including weekend days inside a holiday week.
    pub holidays: BTreeSet<NaiveDate>,
    /// Make-up working days (调休) that fall on a weekend.
    pub workdays: BTreeSet<NaiveDate>,
}

impl YearCalendar {
    /// Checks the calendar for `year`: bounded lists, every date inside the year, no date in
    /// both lists.
    pub fn validate(&self, year: i32) -> Result<(), CalendarError> {
        for (field, dates) in [("holidays", &self.holidays), ("workdays", &self.workdays)] {
            if dates.len() > CALENDAR_DATES_MAX {
                return Err(CalendarError::TooManyDates {
                    field,
                    count: dates.len(),
                    max: CALENDAR_DATES_MAX,
                });
            }
            if let Some(date) = dates.iter().find(|date| date.year() != year) {
                return Err(CalendarError::OutsideYear {
                    field,
                    date: *date,
                    year,
                });
            }
        }
        if let Some(date) = self.workdays.intersection(&self.holidays).next() {
            return Err(CalendarError::InBothLists { date: *date });
        }
        Ok(())
    }
}

/// The marketplace's time zone and working-day calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkCalendar {
    /// Zone of business dates (today, this month, the 17:30 cut-off).
    pub tz: Tz,
    /// Per-year exceptions; years absent here are plain Monday–Friday years.
    pub years: BTreeMap<i32, YearCalendar>,
}

impl Default for WorkCalendar {
    fn default() -> Self {
        WorkCalendar::new(DEFAULT_TZ)
    }
}

impl WorkCalendar {
    /// A calendar in `tz` with no exceptions yet.
    pub fn new(tz: Tz) -> WorkCalendar {
        WorkCalendar {
            tz,
            years: BTreeMap::new(),
        }
    }

    /// Validates and installs (or replaces) the calendar of `year`.
    pub fn set_year(&mut self, year: i32, calendar: YearCalendar) -> Result<(), CalendarError> {
        calendar.validate(year)?;
        if !self.years.contains_key(&year) && self.years.len() >= CALENDAR_YEARS_MAX {
            return Err(CalendarError::TooManyYears {
                year,
                max: CALENDAR_YEARS_MAX,
            });
        }
        self.years.insert(year, calendar);
        Ok(())
    }

    /// Checks every year's calendar and the year count (for calendars built field by field).
    pub fn validate(&self) -> Result<(), CalendarError> {
        if let Some((year, _)) = self.years.iter().nth(CALENDAR_YEARS_MAX) {
            return Err(CalendarError::TooManyYears {
                year: *year,
                max: CALENDAR_YEARS_MAX,
            });
        }
        self.years
            .iter()
            .try_for_each(|(year, calendar)| calendar.validate(*year))
    }

    /// Whether `date` is a working day: a listed holiday is not, a listed make-up day is,
    /// otherwise Monday to Friday are.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if let Some(calendar) = self.years.get(&date.year()) {
            if calendar.holidays.contains(&date) {
                return false;
            }
            if calendar.workdays.contains(&date) {
                return true;
            }
        }
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The business date of an instant, in the calendar's zone.
    pub fn local_date(&self, instant: Timestamp) -> NaiveDate {
        instant.to_datetime().with_timezone(&self.tz).date_naive()
    }

    /// The first instant of `date` in the calendar's zone. Usually local midnight; where a
    /// daylight-saving jump skips midnight it is the end of the jump, and for a date the zone
    /// skipped entirely (Samoa, 2011-12-30) it equals the next day's start.
    pub fn day_start(&self, date: NaiveDate) -> Timestamp {
        self.local_instant(date, NaiveTime::MIN)
    }

    /// The instant when local clocks show `time` on `date`. A wall time shown twice (clocks
    /// set back) resolves to the first; a wall time never shown (clocks set forward) resolves
    /// as far past the jump as it was past the jump's start, the usual "compatible" rule.
    pub fn local_instant(&self, date: NaiveDate, time: NaiveTime) -> Timestamp {
        let local = date.and_time(time);
        let utc = match self.tz.from_local_datetime(&local) {
            LocalResult::Single(instant) => return to_timestamp(instant),
            LocalResult::Ambiguous(earliest, _) => return to_timestamp(earliest),
            LocalResult::None => {
                // The offset in force a day earlier is the one before the jump: the jump's
                // start is exactly where that offset would have reached this wall time.
                let before = local
                    .checked_sub_signed(TimeDelta::days(1))
                    .unwrap_or(local);
                let offset_seconds = self
                    .tz
                    .offset_from_utc_datetime(&before)
                    .fix()
                    .local_minus_utc();
                local.checked_sub_signed(TimeDelta::seconds(i64::from(offset_seconds)))
            }
        };
        match utc {
            Some(utc) => naive_utc_to_timestamp(utc),
            None if date.year() < 0 => Timestamp::MIN,
            None => Timestamp::MAX,
        }
    }

    /// When a timeout of `tenths_of_day` / 10 working days started at `start` runs out: the
    /// earliest instant by which the time elapsed on working days (local dates in the zone)
    /// reaches that many 24-hour units. Non-working days do not count, so a start on a
    /// holiday or weekend counts from the next working day's start. On a daylight-saving day
    /// the elapsed real time counts (a 23 h working day consumes 23 h). Zero returns `start`;
    /// the result is at most [`DEADLINE_SPAN_DAYS_MAX`] days after `start`.
    pub fn add_working_days(&self, start: Timestamp, tenths_of_day: u32) -> Timestamp {
        let cap = start.plus_days(DEADLINE_SPAN_DAYS_MAX);
        let mut remaining_micros = i64::from(tenths_of_day).saturating_mul(MICROS_PER_TENTH_DAY);
        if remaining_micros == 0 {
            return start;
        }
        let mut cursor = start;
        let mut date = self.local_date(start);
        // One step per local date; the cap ends the walk well before this bound, which allows
        // for a partial first day.
        for _ in 0..=DEADLINE_SPAN_DAYS_MAX + 2 {
            let Some(next_date) = date.succ_opt() else {
                return cap;
            };
            let day_end = self.day_start(next_date);
            if self.is_working_day(date) {
                // Negative only when a clock set back across midnight makes `start` fall after
                // the next date's first instant.
                let available_micros = day_end.micros_since(cursor).max(0);
                if remaining_micros <= available_micros {
                    return cursor.plus_micros(remaining_micros).min(cap);
                }
                remaining_micros -= available_micros;
            }
            cursor = cursor.max(day_end);
            if cursor >= cap {
                return cap;
            }
            date = next_date;
        }
        cap
    }

    /// When a timeout of `tenths_of_day` / 10 calendar days started at `start` runs out:
    /// exactly that many 24-hour units later, at most [`DEADLINE_SPAN_DAYS_MAX`] days.
    pub fn add_calendar_days(&self, start: Timestamp, tenths_of_day: u32) -> Timestamp {
        let cap = start.plus_days(DEADLINE_SPAN_DAYS_MAX);
        start
            .plus_micros(i64::from(tenths_of_day).saturating_mul(MICROS_PER_TENTH_DAY))
            .min(cap)
    }

    /// [`Self::add_working_days`] or [`Self::add_calendar_days`] as `unit` says.
    pub fn add_days(&self, start: Timestamp, tenths_of_day: u32, unit: TimeoutUnit) -> Timestamp {
        match unit {
            TimeoutUnit::WorkingDays => self.add_working_days(start, tenths_of_day),
            TimeoutUnit::CalendarDays => self.add_calendar_days(start, tenths_of_day),
        }
    }
}

fn to_timestamp<Z: TimeZone>(instant: chrono::DateTime<Z>) -> Timestamp {
    Timestamp::from_datetime(instant.with_timezone(&Utc))
}

fn naive_utc_to_timestamp(utc: NaiveDateTime) -> Timestamp {
    Timestamp::from_datetime(utc.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn dates(list: &[&str]) -> BTreeSet<NaiveDate> {
        list.iter().map(|text| date(text)).collect()
    }

    /// 2026 with a National Day week (Thu 10-01 … Wed 10-07 off) and Saturday 10-10 as its
    /// make-up working day.
    fn shanghai_2026() -> WorkCalendar {
        let mut calendar = WorkCalendar::new(DEFAULT_TZ);
        let year = YearCalendar {
            holidays: dates(&[
                "2026-10-01",
                "2026-10-02",
                "2026-10-03",
                "2026-10-04",
                "2026-10-05",
                "2026-10-06",
                "2026-10-07",
            ]),
            workdays: dates(&["2026-10-10"]),
        };
        calendar.set_year(2026, year).unwrap();
        calendar
    }

    #[test]
    fn add_working_days_follows_the_table() {
        let calendar = shanghai_2026();
        // (rule, start, tenths of a day, expected deadline) — all in Asia/Shanghai.
        let table: &[(&str, &str, u32, &str)] = &[
            (
                "one day from a weekday morning ends next morning",
                "2026-11-23T10:00:00+08:00", // Monday
                10,
                "2026-11-24T10:00:00+08:00",
            ),
            (
                "a weekend is skipped",
                "2026-11-20T10:00:00+08:00", // Friday
                10,
                "2026-11-23T10:00:00+08:00",
            ),
            (
                "fractional days count hours: 2.5 days from Friday 10:00",
                "2026-11-20T10:00:00+08:00", // 14 h Fri + 24 h Mon + 22 h Tue
                25,
                "2026-11-24T22:00:00+08:00",
            ),
            (
                "a tenth of a day is 2.4 hours",
                "2026-11-23T10:00:00+08:00",
                1,
                "2026-11-23T12:24:00+08:00",
            ),
            (
                "a start mid-day counts the rest of that day",
                "2026-11-23T18:30:00+08:00",
                5,
                "2026-11-24T06:30:00+08:00",
            ),
            (
                "a full working day from midnight ends at the next midnight, not after the weekend",
                "2026-11-20T00:00:00+08:00", // Friday
                10,
                "2026-11-21T00:00:00+08:00",
            ),
            (
                "a start on a weekend counts from Monday's start",
                "2026-11-21T15:00:00+08:00", // Saturday
                10,
                "2026-11-24T00:00:00+08:00",
            ),
            (
                "the national day week is skipped",
                "2026-09-30T12:00:00+08:00", // Wednesday before the holiday
                10,
                "2026-10-08T12:00:00+08:00",
            ),
            (
                "a start on a holiday counts from the next working day's start",
                "2026-10-02T09:00:00+08:00",
                5,
                "2026-10-08T12:00:00+08:00",
            ),
            (
                "a make-up Saturday is a working day",
                "2026-10-09T12:00:00+08:00", // Friday; Sat 10-10 is a make-up day
                10,
                "2026-10-10T12:00:00+08:00",
            ),
            (
                "the Sunday after a make-up Saturday is off",
                "2026-10-10T12:00:00+08:00",
                10,
                "2026-10-12T12:00:00+08:00",
            ),
            (
                "a year without a calendar works Monday to Friday",
                "2031-03-07T10:00:00+08:00", // Friday, no 2031 calendar
                10,
                "2031-03-10T10:00:00+08:00",
            ),
            (
                "a year without a calendar has no holidays",
                "2027-09-30T12:00:00+08:00", // Thursday; 2027-10-01 is a plain Friday
                10,
                "2027-10-01T12:00:00+08:00",
            ),
            (
                "zero days is the start itself, even on a holiday",
                "2026-10-02T09:00:00+08:00",
                0,
                "2026-10-02T09:00:00+08:00",
            ),
            (
                "five working days span a weekend",
                "2026-11-25T09:00:00+08:00", // Wednesday
                50,
                "2026-12-02T09:00:00+08:00",
            ),
        ];
        for &(rule, start, tenths, expected) in table {
            let deadline = calendar.add_working_days(at(start), tenths);
            assert_eq!(
                deadline.to_rfc3339_in(calendar.tz),
                expected,
                "rule: {rule} (start {start}, {tenths} tenths)"
            );
        }
    }

    #[test]
    fn add_working_days_skips_national_day_week() {
        let calendar = shanghai_2026();
        let start = at("2026-09-30T00:00:00+08:00");
        // Two working days: all of Wednesday 09-30, then Thursday 10-08 after the week off.
        assert_eq!(
            calendar.add_working_days(start, 20),
            at("2026-10-09T00:00:00+08:00")
        );
        let plain = WorkCalendar::new(DEFAULT_TZ);
        assert_eq!(
            plain.add_working_days(start, 20),
            at("2026-10-02T00:00:00+08:00")
        );
    }

    #[test]
    fn add_working_days_is_capped_at_the_maximum_span() {
        let calendar = shanghai_2026();
        let start = at("2026-11-23T10:00:00+08:00");
        let cap = start.plus_days(DEADLINE_SPAN_DAYS_MAX);
        assert_eq!(calendar.add_working_days(start, u32::MAX), cap);
        // A calendar without a single working day still returns, at the cap.
        let mut no_work = WorkCalendar::new(DEFAULT_TZ);
        for year in 2026..2040 {
            let all_days: BTreeSet<NaiveDate> = date(&format!("{year}-01-01"))
                .iter_days()
                .take_while(|day| day.year() == year)
                .collect();
            no_work
                .set_year(
                    year,
                    YearCalendar {
                        holidays: all_days,
                        workdays: BTreeSet::new(),
                    },
                )
                .unwrap();
        }
        assert_eq!(no_work.add_working_days(start, 10), cap);
    }

    #[test]
    fn add_working_days_near_the_end_of_time_saturates() {
        let calendar = WorkCalendar::new(DEFAULT_TZ);
        assert_eq!(
            calendar.add_working_days(Timestamp::MAX, 10),
            Timestamp::MAX
        );
        let late = Timestamp::MAX.plus_seconds(-3 * 86_400);
        assert_eq!(calendar.add_working_days(late, 100), Timestamp::MAX);
        assert_eq!(calendar.add_calendar_days(late, 100), Timestamp::MAX);
    }

    #[test]
    fn working_days_count_elapsed_time_on_dst_days() {
        let berlin = chrono_tz::Europe::Berlin;
        let mut calendar = WorkCalendar::new(berlin);
        calendar
            .set_year(
                2026,
                YearCalendar {
                    holidays: BTreeSet::new(),
                    // Both DST change days in 2026 are Sundays; make them working days.
                    workdays: dates(&["2026-03-29", "2026-10-25"]),
                },
            )
            .unwrap();
        // Spring forward: Sunday has 23 h, so one working day ends 1 h into Monday.
        let spring = calendar.add_working_days(at("2026-03-29T00:00:00+01:00"), 10);
        assert_eq!(spring.to_rfc3339_in(berlin), "2026-03-30T01:00:00+02:00");
        // Fall back: Sunday has 25 h, so one working day ends 1 h before Sunday's end.
        let autumn = calendar.add_working_days(at("2026-10-25T00:00:00+02:00"), 10);
        assert_eq!(autumn.to_rfc3339_in(berlin), "2026-10-25T23:00:00+01:00");
    }

    #[test]
    fn add_calendar_days_adds_24_hours_per_day() {
        let calendar = shanghai_2026();
        let start = at("2026-09-30T12:00:00+08:00");
        assert_eq!(
            calendar.add_calendar_days(start, 10),
            at("2026-10-01T12:00:00+08:00")
        );
        assert_eq!(
            calendar.add_calendar_days(start, 150),
            at("2026-10-15T12:00:00+08:00")
        );
        assert_eq!(
            calendar.add_calendar_days(start, 25),
            at("2026-10-03T00:00:00+08:00")
        );
        assert_eq!(
            calendar.add_calendar_days(start, u32::MAX),
            start.plus_days(DEADLINE_SPAN_DAYS_MAX)
        );
        let berlin = WorkCalendar::new(chrono_tz::Europe::Berlin);
        let across_dst = berlin.add_calendar_days(at("2026-03-28T12:00:00+01:00"), 10);
        assert_eq!(
            across_dst.to_rfc3339_in(berlin.tz),
            "2026-03-29T13:00:00+02:00"
        );
    }

    #[test]
    fn add_days_dispatches_on_the_timeout_unit() {
        let calendar = shanghai_2026();
        let friday = at("2026-11-20T10:00:00+08:00");
        assert_eq!(
            calendar.add_days(friday, 10, TimeoutUnit::WorkingDays),
            at("2026-11-23T10:00:00+08:00")
        );
        assert_eq!(
            calendar.add_days(friday, 10, TimeoutUnit::CalendarDays),
            at("2026-11-21T10:00:00+08:00")
        );
        assert_eq!(TimeoutUnit::default(), TimeoutUnit::WorkingDays);
        assert_eq!(
            serde_json::to_string(&TimeoutUnit::CalendarDays).unwrap(),
            "\"calendar_days\""
        );
    }

    #[test]
    fn holidays_and_make_up_days_override_the_weekday_rule() {
        let calendar = shanghai_2026();
        let table = [
            ("2026-09-30", true),  // Wednesday
            ("2026-10-01", false), // Thursday, holiday
            ("2026-10-03", false), // Saturday, holiday
            ("2026-10-08", true),  // Thursday
            ("2026-10-10", true),  // Saturday, make-up day
            ("2026-10-11", false), // Sunday
            ("2027-10-01", true),  // Friday in a year without a calendar
            ("2027-10-02", false), // Saturday in a year without a calendar
        ];
        for (day, expected) in table {
            assert_eq!(calendar.is_working_day(date(day)), expected, "{day}");
        }
    }

    #[test]
    fn local_date_uses_the_calendar_zone() {
        let calendar = WorkCalendar::default();
        assert_eq!(calendar.tz, chrono_tz::Asia::Shanghai);
        // 16:30 UTC is already the next day in Shanghai.
        assert_eq!(
            calendar.local_date(at("2026-11-22T16:30:00Z")),
            date("2026-11-23")
        );
        assert_eq!(
            calendar.local_date(at("2026-11-22T15:59:59Z")),
            date("2026-11-22")
        );
    }

    #[test]
    fn local_instant_gives_the_cut_off_time_of_a_business_date() {
        let calendar = WorkCalendar::default();
        let cut_off = NaiveTime::from_hms_opt(17, 30, 0).unwrap();
        assert_eq!(
            calendar.local_instant(date("2026-11-23"), cut_off),
            at("2026-11-23T17:30:00+08:00")
        );
        // A wall time inside a spring-forward gap lands as far past the jump.
        let berlin = WorkCalendar::new(chrono_tz::Europe::Berlin);
        let in_gap = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        assert_eq!(
            berlin.local_instant(date("2026-03-29"), in_gap),
            at("2026-03-29T03:30:00+02:00")
        );
        // A wall time shown twice resolves to its first showing.
        let repeated = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        assert_eq!(
            berlin.local_instant(date("2026-10-25"), repeated),
            at("2026-10-25T02:30:00+02:00")
        );
    }

    #[test]
    fn day_start_handles_midnight_skipped_by_dst() {
        // Cuba springs forward at 00:00: 2026-03-08 begins at 01:00 local.
        let havana = WorkCalendar::new(chrono_tz::America::Havana);
        let day = date("2026-03-08");
        assert!(
            matches!(
                havana.tz.from_local_datetime(&day.and_time(NaiveTime::MIN)),
                LocalResult::None
            ),
            "precondition: midnight is skipped"
        );
        assert_eq!(
            havana.day_start(day).to_rfc3339_in(havana.tz),
            "2026-03-08T01:00:00-04:00"
        );
    }

    #[test]
    fn a_day_skipped_by_the_zone_has_no_length() {
        // Samoa moved across the date line: 2011-12-30 never happened in Apia.
        let apia = WorkCalendar::new(chrono_tz::Pacific::Apia);
        assert_eq!(
            apia.day_start(date("2011-12-30")),
            apia.day_start(date("2011-12-31"))
        );
        // Thursday 12:00 + 1 working day: the rest of Thursday (12 h), Friday never
        // happened, Saturday and Sunday are off, 12 h of Monday.
        assert_eq!(
            apia.add_working_days(at("2011-12-29T12:00:00-10:00"), 10)
                .to_rfc3339_in(apia.tz),
            "2012-01-02T12:00:00+14:00"
        );
    }

    #[test]
    fn day_start_is_the_first_instant_of_each_date_in_many_zones() {
        let zones = [
            chrono_tz::Asia::Shanghai,
            chrono_tz::Europe::Berlin,
            chrono_tz::America::New_York,
            chrono_tz::America::Havana,
            chrono_tz::America::Santiago,
            chrono_tz::America::Sao_Paulo,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Pacific::Apia,
        ];
        for tz in zones {
            let calendar = WorkCalendar::new(tz);
            for day in date("2010-01-01")
                .iter_days()
                .take_while(|day| *day <= date("2027-12-31"))
            {
                let start = calendar.day_start(day);
                assert!(calendar.local_date(start) >= day, "{tz} {day}");
                assert!(
                    calendar.local_date(start.plus_micros(-1)) < day,
                    "{tz} {day}"
                );
            }
        }
    }

    #[test]
    fn year_calendar_validation_names_the_field_and_date() {
        let table: &[(&[&str], &[&str], Option<&str>)] = &[
            (&["2026-10-01"], &["2026-10-10"], None),
            (&[], &[], None),
            (
                &["2025-12-31"],
                &[],
                Some("holidays: 2025-12-31 is outside year 2026"),
            ),
            (
                &[],
                &["2027-01-02"],
                Some("workdays: 2027-01-02 is outside year 2026"),
            ),
            (
                &["2026-10-01"],
                &["2026-10-01"],
                Some("workdays: 2026-10-01 is also listed in holidays"),
            ),
        ];
        for &(holidays, workdays, expected) in table {
            let calendar = YearCalendar {
                holidays: dates(holidays),
                workdays: dates(workdays),
            };
            let result = calendar.validate(2026).map_err(|error| error.to_string());
            assert_eq!(result, expected.map_or(Ok(()), |e| Err(e.to_owned())));
        }
    }

    #[test]
    fn year_calendar_lists_are_bounded() {
        // 2024 is a leap year: 366 dates fit; there is no 367th date in one year, so a
        // list is checked for size before membership.
        let all_2024: BTreeSet<NaiveDate> = date("2024-01-01")
            .iter_days()
            .take_while(|day| day.year() == 2024)
            .collect();
        assert_eq!(all_2024.len(), CALENDAR_DATES_MAX);
        let full = YearCalendar {
            holidays: all_2024.clone(),
            workdays: BTreeSet::new(),
        };
        assert_eq!(full.validate(2024), Ok(()));
        let mut too_many = all_2024;
        too_many.insert(date("2025-01-01"));
        let over = YearCalendar {
            holidays: BTreeSet::new(),
            workdays: too_many,
        };
        assert_eq!(
            over.validate(2024),
            Err(CalendarError::TooManyDates {
                field: "workdays",
                count: 367,
                max: CALENDAR_DATES_MAX
            })
        );
    }

    #[test]
    fn set_year_refuses_an_invalid_calendar_and_bounds_the_years() {
        let mut calendar = WorkCalendar::default();
        let bad = YearCalendar {
            holidays: dates(&["2025-01-01"]),
            workdays: BTreeSet::new(),
        };
        assert!(calendar.set_year(2026, bad).is_err());
        assert!(calendar.years.is_empty());
        for year in 0..CALENDAR_YEARS_MAX as i32 {
            calendar
                .set_year(2000 + year, YearCalendar::default())
                .unwrap();
        }
        assert_eq!(calendar.validate(), Ok(()));
        assert_eq!(
            calendar.set_year(1999, YearCalendar::default()),
            Err(CalendarError::TooManyYears {
                year: 1999,
                max: CALENDAR_YEARS_MAX
            })
        );
        // Replacing an existing year is still allowed at the limit.
        assert_eq!(calendar.set_year(2000, YearCalendar::default()), Ok(()));
        calendar.years.insert(1999, YearCalendar::default());
        assert!(calendar.validate().is_err());
    }

    #[test]
    fn year_calendar_round_trips_through_json_and_bincode() {
        let calendar = shanghai_2026().years.remove(&2026).unwrap();
        let json = serde_json::to_string(&calendar).unwrap();
        assert!(json.contains("\"2026-10-01\""), "{json}");
        assert_eq!(
            serde_json::from_str::<YearCalendar>(&json).unwrap(),
            calendar
        );
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&calendar, config).unwrap();
        let (decoded, _): (YearCalendar, usize) =
            bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(decoded, calendar);
    }
}
