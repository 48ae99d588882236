//! The directory: organisations, principals (with the token-hash index used for
//! authentication) and calendar years.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use domain::platform::{CalendarEvent, OrgEvent, PrincipalEvent};
use domain::{Role, Timestamp, WorkCalendar, YearCalendar};
use eventlog::Record;
use serde::{Deserialize, Serialize};

use crate::runtime::{decode, ApplyError, ReadModel};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalRow {
    pub id: String,
    pub role: Role,
    pub name: String,
    pub org_id: Option<String>,
    pub staff_id: Option<String>,
    pub real_name_verified: bool,
    pub revoked: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarRow {
    pub holidays: Vec<NaiveDate>,
    pub workdays: Vec<NaiveDate>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryState {
    pub orgs: BTreeMap<String, OrgRow>,
    pub principals: BTreeMap<String, PrincipalRow>,
    /// SHA-256 (hex) of a token → principal id. Revoked principals are removed.
    pub tokens: BTreeMap<String, String>,
    pub calendars: BTreeMap<i32, CalendarRow>,
}

impl DirectoryState {
    /// The live (not revoked) principal holding a token with this hash.
    pub fn principal_by_token_hash(&self, sha256: &str) -> Option<&PrincipalRow> {
        self.tokens
            .get(sha256)
            .and_then(|id| self.principals.get(id))
            .filter(|p| !p.revoked)
    }

    /// The working-day calendar of every configured year, in `tz`.
    pub fn work_calendar(&self, tz: chrono_tz::Tz) -> WorkCalendar {
        let mut c = WorkCalendar::new(tz);
        for (year, row) in &self.calendars {
            let y = YearCalendar {
                holidays: row.holidays.iter().copied().collect(),
                workdays: row.workdays.iter().copied().collect(),
            };
            // Stored calendars were validated by the decider; a failure here would be a bug
            // in that validation, and then the year falls back to Monday–Friday.
            let _ = c.set_year(*year, y);
        }
        c
    }
}

/// The directory read model.
#[derive(Debug)]
pub struct Directory;

impl ReadModel for Directory {
    const NAME: &'static str = "directory";
    const VERSION: u32 = 1;
    type State = DirectoryState;

    fn apply(state: &mut DirectoryState, r: &Record) -> Result<(), ApplyError> {
        let at = Timestamp::from_micros(r.recorded_at_micros);
        match r.stream_kind() {
            "org" => match decode::<OrgEvent>(r)? {
                OrgEvent::OrgCreated(e) => {
                    state.orgs.insert(
                        e.org_id.clone(),
                        OrgRow {
                            id: e.org_id,
                            name: e.name,
                            created_at: at,
                        },
                    );
                }
            },
            "principal" => match decode::<PrincipalEvent>(r)? {
                PrincipalEvent::PrincipalCreated(e) => {
                    state
                        .tokens
                        .insert(e.token_sha256.clone(), e.principal_id.clone());
                    state.principals.insert(
                        e.principal_id.clone(),
                        PrincipalRow {
                            id: e.principal_id,
                            role: e.role,
                            name: e.name,
                            org_id: e.org_id,
                            staff_id: e.staff_id,
                            real_name_verified: e.real_name_verified,
                            revoked: false,
                            created_at: at,
                        },
                    );
                }
                PrincipalEvent::PrincipalRevoked(e) => {
                    if let Some(p) = state.principals.get_mut(&e.principal_id) {
                        p.revoked = true;
                    }
                    state.tokens.retain(|_, id| id != &e.principal_id);
                }
            },
            "calendar" => match decode::<CalendarEvent>(r)? {
                CalendarEvent::CalendarSet(e) => {
                    state.calendars.insert(
                        e.year,
                        CalendarRow {
                            holidays: e.holidays,
                            workdays: e.workdays,
                        },
                    );
                }
            },
            _ => {}
        }
        Ok(())
    }
}
