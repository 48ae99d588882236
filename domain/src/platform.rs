//! Platform aggregates: organisations, principals and the holiday calendar (SPEC.md §1, §9).
//!
//! Streams: `org-<org id>`, `principal-<principal id>`, `calendar-<year>`.
//! Invariant: a principal's token is never in an event, only its SHA-256 (hex); creating and
//! revoking principals are events, so the log is the security audit trail.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::YearCalendar;
use crate::decider::{Context, Decider, Role};
use crate::error::DomainError;
use crate::text::require_name;

/// Longest organisation or principal name, in characters.
pub const NAME_CHARS_MAX: usize = 100;

/// Stream id of an organisation.
pub fn org_stream(org_id: &str) -> String {
    format!("org-{org_id}")
}

/// Stream id of a principal.
pub fn principal_stream(principal_id: &str) -> String {
    format!("principal-{principal_id}")
}

/// Stream id of a calendar year.
pub fn calendar_stream(year: i32) -> String {
    format!("calendar-{year}")
}

// ---------------------------------------------------------------------------------------
// Organisations

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgCreated {
    pub org_id: String,
    pub name: String,
}

crate::event_enum! {
    /// Events of an organisation.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum OrgEvent {
        OrgCreated(OrgCreated) version 1,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgState {
    pub id: String,
    pub name: String,
    pub exists: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgCommand {
    Create { org_id: String, name: String },
}

/// The organisation decider.
#[derive(Debug)]
pub struct Org;

impl Decider for Org {
    type State = OrgState;
    type Command = OrgCommand;
    type Event = OrgEvent;
    type Error = DomainError;

    fn decide(
        state: &OrgState,
        command: &OrgCommand,
        _ctx: &Context,
    ) -> Result<Vec<OrgEvent>, DomainError> {
        match command {
            OrgCommand::Create { org_id, name } => {
                require_name("name", name, NAME_CHARS_MAX)?;
                if state.exists {
                    return Err(DomainError::conflict(
                        "already_exists",
                        "organisation already exists",
                    ));
                }
                Ok(vec![OrgEvent::OrgCreated(OrgCreated {
                    org_id: org_id.clone(),
                    name: name.trim().to_owned(),
                })])
            }
        }
    }

    fn evolve(mut state: OrgState, event: &OrgEvent) -> OrgState {
        match event {
            OrgEvent::OrgCreated(e) => {
                state.id = e.org_id.clone();
                state.name = e.name.clone();
                state.exists = true;
            }
        }
        state
    }
}

// ---------------------------------------------------------------------------------------
// Principals

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalCreated {
    pub principal_id: String,
    pub role: Role,
    pub name: String,
    pub org_id: Option<String>,
    pub staff_id: Option<String>,
    pub real_name_verified: bool,
    /// SHA-256 of the bearer token, hex. The token itself is never stored.
    pub token_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalRevoked {
    pub principal_id: String,
}

crate::event_enum! {
    /// Events of a principal.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum PrincipalEvent {
        PrincipalCreated(PrincipalCreated) version 1,
        PrincipalRevoked(PrincipalRevoked) version 1,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalState {
    pub created: Option<PrincipalCreated>,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalCommand {
    Create {
        principal_id: String,
        role: Role,
        name: String,
        org_id: Option<String>,
        staff_id: Option<String>,
        real_name_verified: bool,
        token_sha256: String,
    },
    Revoke,
}

/// The principal decider.
#[derive(Debug)]
pub struct Principal;

impl Decider for Principal {
    type State = PrincipalState;
    type Command = PrincipalCommand;
    type Event = PrincipalEvent;
    type Error = DomainError;

    fn decide(
        state: &PrincipalState,
        command: &PrincipalCommand,
        _ctx: &Context,
    ) -> Result<Vec<PrincipalEvent>, DomainError> {
        match command {
            PrincipalCommand::Create {
                principal_id,
                role,
                name,
                org_id,
                staff_id,
                real_name_verified,
                token_sha256,
            } => {
                require_name("name", name, NAME_CHARS_MAX)?;
                let needs_org = matches!(role, Role::IsvAdmin | Role::IsvStaff);
                if needs_org && org_id.is_none() {
                    return Err(DomainError::validation(
                        "org_id",
                        "required",
                        format!("org_id is required for role {role}"),
                    ));
                }
                if !needs_org && org_id.is_some() {
                    return Err(DomainError::validation(
                        "org_id",
                        "not_allowed",
                        format!("org_id is only for isv roles, not {role}"),
                    ));
                }
                if *real_name_verified && *role != Role::Customer {
                    return Err(DomainError::validation(
                        "real_name_verified",
                        "not_allowed",
                        "real_name_verified is only for customers",
                    ));
                }
                if state.created.is_some() {
                    return Err(DomainError::conflict(
                        "already_exists",
                        "principal already exists",
                    ));
                }
                Ok(vec![PrincipalEvent::PrincipalCreated(PrincipalCreated {
                    principal_id: principal_id.clone(),
                    role: *role,
                    name: name.trim().to_owned(),
                    org_id: org_id.clone(),
                    staff_id: staff_id.clone(),
                    real_name_verified: *real_name_verified,
                    token_sha256: token_sha256.clone(),
                })])
            }
            PrincipalCommand::Revoke => {
                let Some(created) = &state.created else {
                    return Err(DomainError::not_found("principal"));
                };
                if state.revoked {
                    return Ok(Vec::new()); // revoking twice changes nothing
                }
                Ok(vec![PrincipalEvent::PrincipalRevoked(PrincipalRevoked {
                    principal_id: created.principal_id.clone(),
                })])
            }
        }
    }

    fn evolve(mut state: PrincipalState, event: &PrincipalEvent) -> PrincipalState {
        match event {
            PrincipalEvent::PrincipalCreated(e) => state.created = Some(e.clone()),
            PrincipalEvent::PrincipalRevoked(_) => state.revoked = true,
        }
        state
    }
}

// ---------------------------------------------------------------------------------------
// Calendar

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarSet {
    pub year: i32,
    pub holidays: Vec<NaiveDate>,
    pub workdays: Vec<NaiveDate>,
}

crate::event_enum! {
    /// Events of one calendar year.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum CalendarEvent {
        CalendarSet(CalendarSet) version 1,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarState {
    pub set: Option<CalendarSet>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarCommand {
    Set {
        year: i32,
        holidays: Vec<NaiveDate>,
        workdays: Vec<NaiveDate>,
    },
}

/// The calendar-year decider.
#[derive(Debug)]
pub struct Calendar;

impl Decider for Calendar {
    type State = CalendarState;
    type Command = CalendarCommand;
    type Event = CalendarEvent;
    type Error = DomainError;

    fn decide(
        state: &CalendarState,
        command: &CalendarCommand,
        _ctx: &Context,
    ) -> Result<Vec<CalendarEvent>, DomainError> {
        let CalendarCommand::Set {
            year,
            holidays,
            workdays,
        } = command;
        let mut holidays = holidays.clone();
        let mut workdays = workdays.clone();
        holidays.sort();
        holidays.dedup();
        workdays.sort();
        workdays.dedup();
        let year_calendar = YearCalendar {
            holidays: holidays.iter().copied().collect(),
            workdays: workdays.iter().copied().collect(),
        };
        year_calendar.validate(*year).map_err(|e| {
            let field = if e.to_string().contains("workday") {
                "workdays"
            } else {
                "holidays"
            };
            DomainError::validation(field, "calendar", e.to_string())
        })?;
        let event = CalendarSet {
            year: *year,
            holidays,
            workdays,
        };
        if state.set.as_ref() == Some(&event) {
            return Ok(Vec::new());
        }
        Ok(vec![CalendarEvent::CalendarSet(event)])
    }

    fn evolve(mut state: CalendarState, event: &CalendarEvent) -> CalendarState {
        match event {
            CalendarEvent::CalendarSet(e) => state.set = Some(e.clone()),
        }
        state
    }
}

// ---------------------------------------------------------------------------------------
// The simulated clock

/// Stream of the simulated clock's advances.
pub const SIMULATED_CLOCK_STREAM: &str = "clock-simulated";

/// The simulated clock was moved forward (test/demo mode). Recorded so that a restart resumes
/// from the last recorded time and time never goes backwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulatedClockAdvanced {
    pub from: crate::time::Timestamp,
    pub to: crate::time::Timestamp,
}

crate::event_enum! {
    /// Events of the simulated clock.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum ClockEvent {
        SimulatedClockAdvanced(SimulatedClockAdvanced) version 1,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockState {
    pub now: Option<crate::time::Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClockCommand {
    /// Records an advance that already happened in memory, from `from` to the context's now.
    RecordAdvance { from: crate::time::Timestamp },
}

/// The simulated-clock decider.
#[derive(Debug)]
pub struct SimClock;

impl Decider for SimClock {
    type State = ClockState;
    type Command = ClockCommand;
    type Event = ClockEvent;
    type Error = DomainError;

    fn decide(
        _state: &ClockState,
        command: &ClockCommand,
        ctx: &Context,
    ) -> Result<Vec<ClockEvent>, DomainError> {
        let ClockCommand::RecordAdvance { from } = command;
        Ok(vec![ClockEvent::SimulatedClockAdvanced(
            SimulatedClockAdvanced {
                from: *from,
                to: ctx.now,
            },
        )])
    }

    fn evolve(mut state: ClockState, event: &ClockEvent) -> ClockState {
        let ClockEvent::SimulatedClockAdvanced(e) = event;
        state.now = Some(e.to);
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::EventCodec;
    use crate::decider::testing::DeciderTest;
    use crate::decider::Actor;
    use crate::time::Timestamp;

    fn ctx() -> Context {
        Context::new(
            Timestamp::from_micros(0),
            Actor::System,
            chrono_tz::Asia::Shanghai,
        )
    }

    fn create(role: Role, org: Option<&str>) -> PrincipalCommand {
        PrincipalCommand::Create {
            principal_id: "prn_1".into(),
            role,
            name: "Ann".into(),
            org_id: org.map(str::to_owned),
            staff_id: None,
            real_name_verified: false,
            token_sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn isv_admins_need_an_org_and_customers_must_not_have_one() {
        DeciderTest::<Principal>::given_no_events()
            .when(create(Role::IsvAdmin, None), &ctx())
            .then_error(|e| e.code == "validation_failed" && e.details[0].1 == "org_id");
        DeciderTest::<Principal>::given_no_events()
            .when(create(Role::Customer, Some("org_1")), &ctx())
            .then_error(|e| e.details[1].1 == "not_allowed");
    }

    #[test]
    fn a_principal_is_created_once_and_revoked_once() {
        let created = Principal::decide(
            &PrincipalState::default(),
            &create(Role::Customer, None),
            &ctx(),
        )
        .unwrap();
        let state = DeciderTest::<Principal>::given(created.clone())
            .when(PrincipalCommand::Revoke, &ctx())
            .then_events(vec![PrincipalEvent::PrincipalRevoked(PrincipalRevoked {
                principal_id: "prn_1".into(),
            })]);
        assert!(state.revoked);
        let mut history = created;
        history.push(PrincipalEvent::PrincipalRevoked(PrincipalRevoked {
            principal_id: "prn_1".into(),
        }));
        DeciderTest::<Principal>::given(history)
            .when(PrincipalCommand::Revoke, &ctx())
            .then_events(vec![]);
    }

    #[test]
    fn calendar_dates_must_fall_in_their_year() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        DeciderTest::<Calendar>::given_no_events()
            .when(
                CalendarCommand::Set {
                    year: 2026,
                    holidays: vec![d("2027-01-01")],
                    workdays: vec![],
                },
                &ctx(),
            )
            .then_error(|e| e.code == "validation_failed");
        DeciderTest::<Calendar>::given_no_events()
            .when(
                CalendarCommand::Set {
                    year: 2026,
                    holidays: vec![d("2026-10-02"), d("2026-10-01")],
                    workdays: vec![d("2026-10-10")],
                },
                &ctx(),
            )
            .then_events(vec![CalendarEvent::CalendarSet(CalendarSet {
                year: 2026,
                holidays: vec![d("2026-10-01"), d("2026-10-02")],
                workdays: vec![d("2026-10-10")],
            })]);
    }

    /// Golden bytes: a silent change of any platform event's encoding fails here.
    #[test]
    fn platform_event_encodings_are_pinned() {
        let org = OrgEvent::OrgCreated(OrgCreated {
            org_id: "org_1".into(),
            name: "Acme".into(),
        });
        let prn = PrincipalEvent::PrincipalCreated(PrincipalCreated {
            principal_id: "prn_1".into(),
            role: Role::IsvAdmin,
            name: "Ann".into(),
            org_id: Some("org_1".into()),
            staff_id: None,
            real_name_verified: false,
            token_sha256: "00".into(),
        });
        let rev = PrincipalEvent::PrincipalRevoked(PrincipalRevoked {
            principal_id: "prn_1".into(),
        });
        let cal = CalendarEvent::CalendarSet(CalendarSet {
            year: 2026,
            holidays: vec![NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()],
            workdays: vec![],
        });
        let hex = |b: Vec<u8>| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let actual = [
            hex(org.encode_payload().unwrap()),
            hex(prn.encode_payload().unwrap()),
            hex(rev.encode_payload().unwrap()),
            hex(cal.encode_payload().unwrap()),
        ];
        assert_eq!(actual, GOLDEN);
        for (e, t) in [
            (org.type_name(), "OrgCreated"),
            (prn.type_name(), "PrincipalCreated"),
            (cal.type_name(), "CalendarSet"),
        ] {
            assert_eq!(e, t);
        }
    }

    const GOLDEN: [&str; 4] = [
        "056f72675f310441636d65",
        "0570726e5f310103416e6e01056f72675f310000023030",
        "0570726e5f31",
        "fbd40f010a323032362d31302d303100",
    ];
}
