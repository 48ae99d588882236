//! Staff (SPEC §1, §8 "Assignment, capacity, queues"; API.md §3): an org's employees who
//! deliver, each a principal of role `isv_staff` with its own token.
//!
//! Streams: `staff-stf_…` (one member: roles, department, tags, capacity, accepting, leave,
//! the deliveries held) and `orgstaff-org_…` (an org's staff ids in join order, what an
//! assignment decision loads to find its candidates). [`CreateStaff`] appends to both and
//! to the new principal's stream in one atomic append.
//!
//! Invariant: `active` is the set of delivery ids the member holds, so taking and releasing
//! are idempotent and `active.len()` is the count; without `force`, a take never makes it
//! exceed `max_active` (nor happens for a member without the role, not accepting, or on
//! leave).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::decider::{Context, Decider, Role};
use crate::decision::{Decision, Outcome, States};
use crate::error::DomainError;
use crate::ids::{is_valid_id, IdKind};
use crate::platform::{
    org_stream, principal_stream, Org, Principal, PrincipalCommand, NAME_CHARS_MAX,
};
use crate::text::require_name;
use crate::time::Timestamp;

use super::STAFF_ROLES;

/// Most tags on one staff member (SPEC §8).
pub const TAGS_MAX: usize = 5;
/// Longest tag, in characters.
pub const TAG_CHARS_MAX: usize = 20;
/// Longest department name, in characters.
pub const DEPARTMENT_CHARS_MAX: usize = 60;
/// Highest `max_active` (SPEC §8: 0..50).
pub const MAX_ACTIVE_MAX: u32 = 50;

/// Stream id of a staff member.
pub fn staff_stream(staff_id: &str) -> String {
    format!("staff-{staff_id}")
}

/// Stream id of an org's staff index.
pub fn org_staff_stream(org_id: &str) -> String {
    format!("orgstaff-{org_id}")
}

// ---------------------------------------------------------------------------------------
// Events

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffCreated {
    pub staff_id: String,
    pub org_id: String,
    pub principal_id: String,
    pub name: String,
    pub roles: Vec<String>,
    pub department: String,
    pub tags: Vec<String>,
    pub max_active: u32,
}

/// The member's settings after a change: every value, changed or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffUpdated {
    pub max_active: u32,
    pub tags: Vec<String>,
    pub accepting: bool,
    pub roles: Vec<String>,
    pub department: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffLeaveSet {
    pub from: Timestamp,
    pub to: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffLeaveEnded {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAcceptingSet {
    pub accepting: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffWorkTaken {
    pub delivery_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffWorkReleased {
    pub delivery_id: String,
}

crate::event_enum! {
    /// Events of a staff member.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum StaffEvent {
        StaffCreated(StaffCreated) version 1,
        StaffUpdated(StaffUpdated) version 1,
        StaffLeaveSet(StaffLeaveSet) version 1,
        StaffLeaveEnded(StaffLeaveEnded) version 1,
        StaffAcceptingSet(StaffAcceptingSet) version 1,
        StaffWorkTaken(StaffWorkTaken) version 1,
        StaffWorkReleased(StaffWorkReleased) version 1,
    }
}

// ---------------------------------------------------------------------------------------
// State

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffState {
    /// False before `StaffCreated`.
    pub created: bool,
    pub staff_id: String,
    pub org_id: String,
    pub principal_id: String,
    pub name: String,
    pub roles: Vec<String>,
    pub department: String,
    pub tags: Vec<String>,
    pub max_active: u32,
    pub accepting: bool,
    /// The leave period `[from, to)`, if one is set.
    pub leave: Option<(Timestamp, Timestamp)>,
    /// The deliveries the member holds.
    pub active: BTreeSet<String>,
}

/// Why a staff member cannot take a delivery (409 `staff_unavailable`, `details.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unavailable {
    /// The member does not have the node's role.
    Role,
    /// The member switched accepting off.
    NotAccepting,
    /// The member is on leave now.
    OnLeave,
    /// The member holds `max_active` deliveries.
    CapacityFull,
}

impl Unavailable {
    /// The wire name (`details.reason`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Unavailable::Role => "role",
            Unavailable::NotAccepting => "not_accepting",
            Unavailable::OnLeave => "on_leave",
            Unavailable::CapacityFull => "capacity_full",
        }
    }

    /// The refusal: 409 `staff_unavailable` with `details.reason` (and the staff id).
    pub fn error(self, staff_id: &str) -> DomainError {
        DomainError::conflict(
            "staff_unavailable",
            format!("staff {staff_id} cannot take work: {}", self.as_str()),
        )
        .with("reason", self.as_str())
        .with("staff_id", staff_id)
    }
}

/// A member's load, `active / max_active`, compared as a rational (never `f64`): a member
/// with `max_active` 0 is fuller than anyone who can take work. Equal ratios compare equal
/// (1/2 = 2/4); the assignment's ties (fewest active, then staff id) are
/// [`StaffState::assignment_key`].
#[derive(Debug, Clone, Copy)]
pub struct LoadRatio {
    pub active: u32,
    pub max_active: u32,
}

impl Ord for LoadRatio {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.max_active, other.max_active) {
            (0, 0) => self.active.cmp(&other.active),
            (0, _) => Ordering::Greater,
            (_, 0) => Ordering::Less,
            (a_max, b_max) => (u64::from(self.active) * u64::from(b_max))
                .cmp(&(u64::from(other.active) * u64::from(a_max))),
        }
    }
}

impl PartialOrd for LoadRatio {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for LoadRatio {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for LoadRatio {}

impl StaffState {
    /// Deliveries held now.
    pub fn active_count(&self) -> u32 {
        u32::try_from(self.active.len()).unwrap_or(u32::MAX)
    }

    /// On leave at `now` (`from ≤ now < to`).
    pub fn on_leave(&self, now: Timestamp) -> bool {
        self.leave.is_some_and(|(from, to)| from <= now && now < to)
    }

    /// Whether the member may be given a delivery of a node with `role` at `now`, checked in
    /// this order: the role, accepting, leave, capacity.
    pub fn can_take(&self, role: &str, now: Timestamp) -> Result<(), Unavailable> {
        if !self.roles.iter().any(|r| r == role) {
            Err(Unavailable::Role)
        } else if !self.accepting {
            Err(Unavailable::NotAccepting)
        } else if self.on_leave(now) {
            Err(Unavailable::OnLeave)
        } else if self.active_count() >= self.max_active {
            Err(Unavailable::CapacityFull)
        } else {
            Ok(())
        }
    }

    /// `active / max_active`.
    pub fn load_ratio(&self) -> LoadRatio {
        LoadRatio {
            active: self.active_count(),
            max_active: self.max_active,
        }
    }

    /// The assignment order of SPEC §8: the smallest load ratio first, ties by fewest
    /// active, then by staff id.
    pub fn assignment_key(&self) -> (LoadRatio, u32, &str) {
        (self.load_ratio(), self.active_count(), &self.staff_id)
    }
}

// ---------------------------------------------------------------------------------------
// Field rules

/// 422 naming `field` unless `roles` is a non-empty list of distinct preset roles.
pub fn roles_rules(roles: &[String]) -> Result<(), DomainError> {
    if roles.is_empty() {
        return Err(DomainError::validation(
            "roles",
            "required",
            "roles must name at least one role",
        ));
    }
    for (i, role) in roles.iter().enumerate() {
        let field = format!("roles[{i}]");
        if !STAFF_ROLES.contains(&role.as_str()) {
            return Err(DomainError::validation(
                &field,
                "one_of",
                format!("{field} must be one of {}", STAFF_ROLES.join(", ")),
            ));
        }
        if roles[..i].contains(role) {
            return Err(DomainError::validation(
                &field,
                "unique",
                format!("{field} repeats {role}"),
            ));
        }
    }
    Ok(())
}

/// 422 naming `field` unless at most [`TAGS_MAX`] distinct tags of 1..=[`TAG_CHARS_MAX`]
/// characters.
pub fn tags_rules(tags: &[String]) -> Result<(), DomainError> {
    if tags.len() > TAGS_MAX {
        return Err(DomainError::validation(
            "tags",
            "max_items",
            format!("at most {TAGS_MAX} tags"),
        ));
    }
    for (i, tag) in tags.iter().enumerate() {
        let field = format!("tags[{i}]");
        require_name(&field, tag, TAG_CHARS_MAX)?;
        if tags[..i].iter().any(|t| t.trim() == tag.trim()) {
            return Err(DomainError::validation(
                &field,
                "unique",
                format!("{field} repeats {}", tag.trim()),
            ));
        }
    }
    Ok(())
}

/// 422 naming `department` unless 1..=[`DEPARTMENT_CHARS_MAX`] characters of one line.
pub fn department_rules(department: &str) -> Result<(), DomainError> {
    require_name("department", department, DEPARTMENT_CHARS_MAX)
}

/// 422 naming `max_active` unless 0..=[`MAX_ACTIVE_MAX`].
pub fn max_active_rules(max_active: u32) -> Result<(), DomainError> {
    if max_active > MAX_ACTIVE_MAX {
        return Err(DomainError::validation(
            "max_active",
            "range",
            format!("max_active must be 0..={MAX_ACTIVE_MAX}"),
        ));
    }
    Ok(())
}

fn trimmed(values: &[String]) -> Vec<String> {
    values.iter().map(|v| v.trim().to_owned()).collect()
}

// ---------------------------------------------------------------------------------------
// Commands

/// The settings a `PUT /v1/staff/{id}` changes (any subset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffChanges {
    pub max_active: Option<u32>,
    pub tags: Option<Vec<String>>,
    pub accepting: Option<bool>,
    pub roles: Option<Vec<String>>,
    pub department: Option<String>,
}

impl StaffChanges {
    /// The field rules of the fields given, in the order of API.md §3.
    pub fn field_rules(&self) -> Result<(), DomainError> {
        if let Some(m) = self.max_active {
            max_active_rules(m)?;
        }
        if let Some(t) = &self.tags {
            tags_rules(t)?;
        }
        if let Some(r) = &self.roles {
            roles_rules(r)?;
        }
        if let Some(d) = &self.department {
            department_rules(d)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffCommand {
    /// Change any subset of the settings; nothing changed → no event.
    Update(StaffChanges),
    /// Set (or replace) the leave period `[from, to)`.
    SetLeave { from: Timestamp, to: Timestamp },
    /// End the leave period (409 `invalid_state` without one).
    EndLeave,
    /// Switch accepting work on or off.
    SetAccepting { accepting: bool },
    /// Hold `delivery_id` as its operator in `role`; `force` (an admin's manual dispatch)
    /// skips the availability rules.
    Take {
        delivery_id: String,
        role: String,
        force: bool,
    },
    /// Stop holding `delivery_id` (not held → no event).
    Release { delivery_id: String },
}

#[derive(Debug)]
pub struct Staff;

impl Decider for Staff {
    type State = StaffState;
    type Command = StaffCommand;
    type Event = StaffEvent;
    type Error = DomainError;

    fn decide(
        state: &StaffState,
        command: &StaffCommand,
        ctx: &Context,
    ) -> Result<Vec<StaffEvent>, DomainError> {
        if let StaffCommand::Update(changes) = command {
            changes.field_rules()?;
        }
        if let StaffCommand::SetLeave { from, to } = command {
            if to <= from {
                return Err(DomainError::validation(
                    "to",
                    "after_from",
                    "to must be after from",
                ));
            }
        }
        if !state.created {
            return Err(DomainError::not_found("staff"));
        }
        match command {
            StaffCommand::Update(c) => {
                let after = StaffUpdated {
                    max_active: c.max_active.unwrap_or(state.max_active),
                    tags: c
                        .tags
                        .as_deref()
                        .map_or_else(|| state.tags.clone(), trimmed),
                    accepting: c.accepting.unwrap_or(state.accepting),
                    roles: c.roles.clone().unwrap_or_else(|| state.roles.clone()),
                    department: c
                        .department
                        .as_deref()
                        .map_or_else(|| state.department.clone(), |d| d.trim().to_owned()),
                };
                let unchanged = after.max_active == state.max_active
                    && after.tags == state.tags
                    && after.accepting == state.accepting
                    && after.roles == state.roles
                    && after.department == state.department;
                if unchanged {
                    return Ok(Vec::new());
                }
                Ok(vec![StaffEvent::StaffUpdated(after)])
            }
            StaffCommand::SetLeave { from, to } => {
                if state.leave == Some((*from, *to)) {
                    return Ok(Vec::new());
                }
                Ok(vec![StaffEvent::StaffLeaveSet(StaffLeaveSet {
                    from: *from,
                    to: *to,
                })])
            }
            StaffCommand::EndLeave => {
                if state.leave.is_none() {
                    return Err(DomainError::invalid_state(
                        "not_on_leave",
                        "the staff member has no leave to end",
                    ));
                }
                Ok(vec![StaffEvent::StaffLeaveEnded(StaffLeaveEnded {})])
            }
            StaffCommand::SetAccepting { accepting } => {
                if state.accepting == *accepting {
                    return Ok(Vec::new());
                }
                Ok(vec![StaffEvent::StaffAcceptingSet(StaffAcceptingSet {
                    accepting: *accepting,
                })])
            }
            StaffCommand::Take {
                delivery_id,
                role,
                force,
            } => {
                if state.active.contains(delivery_id) {
                    return Ok(Vec::new());
                }
                if !force {
                    state
                        .can_take(role, ctx.now)
                        .map_err(|u| u.error(&state.staff_id))?;
                }
                Ok(vec![StaffEvent::StaffWorkTaken(StaffWorkTaken {
                    delivery_id: delivery_id.clone(),
                })])
            }
            StaffCommand::Release { delivery_id } => {
                if !state.active.contains(delivery_id) {
                    return Ok(Vec::new());
                }
                Ok(vec![StaffEvent::StaffWorkReleased(StaffWorkReleased {
                    delivery_id: delivery_id.clone(),
                })])
            }
        }
    }

    fn evolve(mut state: StaffState, event: &StaffEvent) -> StaffState {
        match event {
            StaffEvent::StaffCreated(e) => {
                state.created = true;
                state.staff_id = e.staff_id.clone();
                state.org_id = e.org_id.clone();
                state.principal_id = e.principal_id.clone();
                state.name = e.name.clone();
                state.roles = e.roles.clone();
                state.department = e.department.clone();
                state.tags = e.tags.clone();
                state.max_active = e.max_active;
                state.accepting = true;
            }
            StaffEvent::StaffUpdated(e) => {
                state.max_active = e.max_active;
                state.tags = e.tags.clone();
                state.accepting = e.accepting;
                state.roles = e.roles.clone();
                state.department = e.department.clone();
            }
            StaffEvent::StaffLeaveSet(e) => state.leave = Some((e.from, e.to)),
            StaffEvent::StaffLeaveEnded(_) => state.leave = None,
            StaffEvent::StaffAcceptingSet(e) => state.accepting = e.accepting,
            StaffEvent::StaffWorkTaken(e) => {
                state.active.insert(e.delivery_id.clone());
            }
            StaffEvent::StaffWorkReleased(e) => {
                state.active.remove(&e.delivery_id);
            }
        }
        state
    }
}

// ---------------------------------------------------------------------------------------
// The org's staff index

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffJoined {
    pub staff_id: String,
}

crate::event_enum! {
    /// Events of an org's staff index.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum OrgStaffEvent {
        StaffJoined(StaffJoined) version 1,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgStaffState {
    /// The org's staff ids, in join order.
    pub staff_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgStaffCommand {
    /// `staff_id` joins the org (again → no event).
    Join { staff_id: String },
}

/// An org's staff index, `orgstaff-org_…`: who the candidates of an assignment are.
#[derive(Debug)]
pub struct OrgStaff;

impl Decider for OrgStaff {
    type State = OrgStaffState;
    type Command = OrgStaffCommand;
    type Event = OrgStaffEvent;
    type Error = DomainError;

    fn decide(
        state: &OrgStaffState,
        command: &OrgStaffCommand,
        _ctx: &Context,
    ) -> Result<Vec<OrgStaffEvent>, DomainError> {
        let OrgStaffCommand::Join { staff_id } = command;
        if state.staff_ids.contains(staff_id) {
            return Ok(Vec::new());
        }
        Ok(vec![OrgStaffEvent::StaffJoined(StaffJoined {
            staff_id: staff_id.clone(),
        })])
    }

    fn evolve(mut state: OrgStaffState, event: &OrgStaffEvent) -> OrgStaffState {
        let OrgStaffEvent::StaffJoined(e) = event;
        if !state.staff_ids.contains(&e.staff_id) {
            state.staff_ids.push(e.staff_id.clone());
        }
        state
    }
}

// ---------------------------------------------------------------------------------------
// Creation

/// An org's isv_admin adds a staff member: the member (`staff-stf_…`), its principal of role
/// `isv_staff` (`principal-prn_…`, the token's hash only) and its place in the org's index
/// (`orgstaff-org_…`), in one append. The token is made by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateStaff {
    pub staff_id: String,
    pub principal_id: String,
    pub org_id: String,
    pub name: String,
    pub roles: Vec<String>,
    pub department: String,
    pub tags: Vec<String>,
    pub max_active: u32,
    /// SHA-256 (hex) of the new principal's bearer token.
    pub token_sha256: String,
}

impl CreateStaff {
    /// The rules of the body's fields (API.md §1: before any rule that needs state).
    pub fn field_rules(&self) -> Result<(), DomainError> {
        require_name("name", &self.name, NAME_CHARS_MAX)?;
        roles_rules(&self.roles)?;
        department_rules(&self.department)?;
        tags_rules(&self.tags)?;
        max_active_rules(self.max_active)
    }
}

impl Decision for CreateStaff {
    fn primary(&self) -> String {
        staff_stream(&self.staff_id)
    }

    /// The org, the new principal and the org's index; none when a field rule fails or the
    /// org id is malformed (the answer needs no state).
    fn streams(&self, _loaded: &States) -> Vec<String> {
        if self.field_rules().is_err() || !is_valid_id(IdKind::Org, &self.org_id) {
            return Vec::new();
        }
        vec![
            org_stream(&self.org_id),
            principal_stream(&self.principal_id),
            org_staff_stream(&self.org_id),
        ]
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        self.field_rules()?;
        if !is_valid_id(IdKind::Org, &self.org_id) {
            return Err(DomainError::not_found("organisation"));
        }
        let stream = self.primary();
        let state = states.get::<Staff>(&stream)?;
        if !states.get::<Org>(&org_stream(&self.org_id))?.exists {
            return Err(DomainError::not_found("organisation"));
        }
        if state.created {
            return Err(DomainError::invalid_state(
                "created",
                format!("staff {} already exists", self.staff_id),
            ));
        }
        let principal_stream_id = principal_stream(&self.principal_id);
        let principal = Principal::decide(
            states.get::<Principal>(&principal_stream_id)?,
            &PrincipalCommand::Create {
                principal_id: self.principal_id.clone(),
                role: Role::IsvStaff,
                name: self.name.clone(),
                org_id: Some(self.org_id.clone()),
                staff_id: Some(self.staff_id.clone()),
                real_name_verified: false,
                token_sha256: self.token_sha256.clone(),
            },
            ctx,
        )?;
        let index_stream = org_staff_stream(&self.org_id);
        let joined = OrgStaff::decide(
            states.get::<OrgStaff>(&index_stream)?,
            &OrgStaffCommand::Join {
                staff_id: self.staff_id.clone(),
            },
            ctx,
        )?;
        let created = StaffEvent::StaffCreated(StaffCreated {
            staff_id: self.staff_id.clone(),
            org_id: self.org_id.clone(),
            principal_id: self.principal_id.clone(),
            name: self.name.trim().to_owned(),
            roles: self.roles.clone(),
            department: self.department.trim().to_owned(),
            tags: trimmed(&self.tags),
            max_active: self.max_active,
        });
        let mut outcome = Outcome::primary::<Staff>(&stream, state, vec![created])?;
        outcome.append(&principal_stream_id, &principal)?;
        outcome.append(&index_stream, &joined)?;
        Ok(outcome)
    }
}

/// A one-stream command on a staff member.
pub fn staff_command(staff_id: &str, command: StaffCommand) -> crate::decision::Single<Staff> {
    crate::decision::Single::new(staff_stream(staff_id), command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decider::testing::DeciderTest;
    use crate::decision::testing::{decoded, DecisionTest};
    use crate::platform::{OrgCreated, OrgEvent, PrincipalEvent};

    fn t(hours: i64) -> Timestamp {
        Timestamp::from_micros(hours * 3_600_000_000)
    }

    fn ctx_at(now: Timestamp) -> Context {
        Context::system(now, chrono_tz::Asia::Shanghai)
    }

    fn ctx() -> Context {
        ctx_at(t(10))
    }

    fn created(max_active: u32) -> StaffEvent {
        StaffEvent::StaffCreated(StaffCreated {
            staff_id: "stf_1".into(),
            org_id: "org_1".into(),
            principal_id: "prn_1".into(),
            name: "Li Wei".into(),
            roles: vec!["designer".into(), "tester".into()],
            department: "Delivery".into(),
            tags: vec!["vm".into()],
            max_active,
        })
    }

    fn taken(dlv: &str) -> StaffEvent {
        StaffEvent::StaffWorkTaken(StaffWorkTaken {
            delivery_id: dlv.into(),
        })
    }

    fn take(dlv: &str, role: &str, force: bool) -> StaffCommand {
        StaffCommand::Take {
            delivery_id: dlv.into(),
            role: role.into(),
            force,
        }
    }

    fn reason(e: &DomainError) -> Option<&str> {
        (e.code == "staff_unavailable")
            .then(|| e.details.iter().find(|(k, _)| *k == "reason"))
            .flatten()
            .map(|(_, v)| v.as_str())
    }

    fn field(e: &DomainError) -> &str {
        &e.details[0].1
    }

    #[test]
    fn a_new_staff_member_is_accepting_and_not_on_leave() {
        let s = Staff::fold(&[created(3)]);
        assert!(s.accepting);
        assert!(!s.on_leave(t(10)));
        assert_eq!(s.can_take("designer", t(10)), Ok(()));
    }

    #[test]
    fn take_is_refused_for_a_missing_role_then_not_accepting_then_leave_then_capacity() {
        let refused = |history: Vec<StaffEvent>, role: &str| {
            let e = DeciderTest::<Staff>::given(history)
                .when(take("dlv_9", role, false), &ctx())
                .then_error(|e| e.code == "staff_unavailable");
            reason(&e).map(str::to_owned)
        };
        let off = StaffEvent::StaffAcceptingSet(StaffAcceptingSet { accepting: false });
        let leave = StaffEvent::StaffLeaveSet(StaffLeaveSet {
            from: t(9),
            to: t(11),
        });
        assert_eq!(
            refused(vec![created(3), off.clone()], "developer").as_deref(),
            Some("role")
        );
        assert_eq!(
            refused(vec![created(3), off, leave.clone()], "designer").as_deref(),
            Some("not_accepting")
        );
        assert_eq!(
            refused(vec![created(0), leave], "designer").as_deref(),
            Some("on_leave")
        );
        assert_eq!(
            refused(vec![created(1), taken("dlv_1")], "designer").as_deref(),
            Some("capacity_full")
        );
        assert_eq!(
            refused(vec![created(0)], "designer").as_deref(),
            Some("capacity_full")
        );
    }

    #[test]
    fn leave_covers_from_up_to_but_not_including_to() {
        let s = Staff::fold(&[
            created(3),
            StaffEvent::StaffLeaveSet(StaffLeaveSet {
                from: t(9),
                to: t(11),
            }),
        ]);
        assert!(!s.on_leave(t(8)));
        assert!(s.on_leave(t(9)));
        assert!(s.on_leave(t(10)));
        assert!(!s.on_leave(t(11)));
        assert_eq!(s.can_take("designer", t(11)), Ok(()));
    }

    #[test]
    fn a_forced_take_skips_every_availability_rule() {
        let state = DeciderTest::<Staff>::given(vec![created(1), taken("dlv_1")])
            .when(take("dlv_2", "developer", true), &ctx())
            .then_events(vec![taken("dlv_2")]);
        assert_eq!(state.active_count(), 2);
    }

    #[test]
    fn taking_a_held_delivery_again_or_releasing_one_not_held_appends_nothing() {
        DeciderTest::<Staff>::given(vec![created(1), taken("dlv_1")])
            .when(take("dlv_1", "designer", false), &ctx())
            .then_events(vec![]);
        DeciderTest::<Staff>::given(vec![created(1)])
            .when(
                StaffCommand::Release {
                    delivery_id: "dlv_1".into(),
                },
                &ctx(),
            )
            .then_events(vec![]);
    }

    #[test]
    fn releasing_frees_a_place() {
        let state = DeciderTest::<Staff>::given(vec![created(1), taken("dlv_1")])
            .when(
                StaffCommand::Release {
                    delivery_id: "dlv_1".into(),
                },
                &ctx(),
            )
            .then_events(vec![StaffEvent::StaffWorkReleased(StaffWorkReleased {
                delivery_id: "dlv_1".into(),
            })]);
        assert_eq!(state.can_take("designer", t(10)), Ok(()));
    }

    #[test]
    fn an_update_records_every_value_after_the_change_and_no_change_appends_nothing() {
        let changes = StaffChanges {
            max_active: Some(5),
            tags: Some(vec![" k8s ".into()]),
            ..StaffChanges::default()
        };
        DeciderTest::<Staff>::given(vec![created(3)])
            .when(StaffCommand::Update(changes), &ctx())
            .then_events(vec![StaffEvent::StaffUpdated(StaffUpdated {
                max_active: 5,
                tags: vec!["k8s".into()],
                accepting: true,
                roles: vec!["designer".into(), "tester".into()],
                department: "Delivery".into(),
            })]);
        DeciderTest::<Staff>::given(vec![created(3)])
            .when(
                StaffCommand::Update(StaffChanges {
                    max_active: Some(3),
                    department: Some("Delivery".into()),
                    ..StaffChanges::default()
                }),
                &ctx(),
            )
            .then_events(vec![]);
        DeciderTest::<Staff>::given(vec![created(3)])
            .when(StaffCommand::Update(StaffChanges::default()), &ctx())
            .then_events(vec![]);
    }

    #[test]
    fn field_rules_name_the_field() {
        let update = |c: StaffChanges| {
            DeciderTest::<Staff>::given(vec![created(3)])
                .when(StaffCommand::Update(c), &ctx())
                .then_error(|e| e.code == "validation_failed")
        };
        let e = update(StaffChanges {
            max_active: Some(51),
            ..StaffChanges::default()
        });
        assert_eq!(
            (field(&e), e.details[1].1.as_str()),
            ("max_active", "range")
        );
        let e = update(StaffChanges {
            tags: Some((0..6).map(|i| format!("t{i}")).collect()),
            ..StaffChanges::default()
        });
        assert_eq!(field(&e), "tags");
        let e = update(StaffChanges {
            tags: Some(vec!["a".into(), "x".repeat(21)]),
            ..StaffChanges::default()
        });
        assert_eq!(field(&e), "tags[1]");
        let e = update(StaffChanges {
            roles: Some(vec![]),
            ..StaffChanges::default()
        });
        assert_eq!(field(&e), "roles");
        let e = update(StaffChanges {
            roles: Some(vec!["designer".into(), "chef".into()]),
            ..StaffChanges::default()
        });
        assert_eq!((field(&e), e.details[1].1.as_str()), ("roles[1]", "one_of"));
        let e = update(StaffChanges {
            department: Some("d".repeat(61)),
            ..StaffChanges::default()
        });
        assert_eq!(field(&e), "department");
    }

    #[test]
    fn a_leave_must_end_after_it_starts() {
        let e = DeciderTest::<Staff>::given(vec![created(3)])
            .when(
                StaffCommand::SetLeave {
                    from: t(11),
                    to: t(11),
                },
                &ctx(),
            )
            .then_error(|e| e.code == "validation_failed");
        assert_eq!(field(&e), "to");
    }

    #[test]
    fn ending_a_leave_needs_one() {
        DeciderTest::<Staff>::given(vec![created(3)])
            .when(StaffCommand::EndLeave, &ctx())
            .then_error(|e| e.code == "invalid_state");
        let state = DeciderTest::<Staff>::given(vec![
            created(3),
            StaffEvent::StaffLeaveSet(StaffLeaveSet {
                from: t(9),
                to: t(11),
            }),
        ])
        .when(StaffCommand::EndLeave, &ctx())
        .then_events(vec![StaffEvent::StaffLeaveEnded(StaffLeaveEnded {})]);
        assert!(!state.on_leave(t(10)));
    }

    #[test]
    fn setting_accepting_to_what_it_is_appends_nothing() {
        DeciderTest::<Staff>::given(vec![created(3)])
            .when(StaffCommand::SetAccepting { accepting: true }, &ctx())
            .then_events(vec![]);
        DeciderTest::<Staff>::given(vec![created(3)])
            .when(StaffCommand::SetAccepting { accepting: false }, &ctx())
            .then_events(vec![StaffEvent::StaffAcceptingSet(StaffAcceptingSet {
                accepting: false,
            })]);
    }

    #[test]
    fn commands_on_an_unknown_staff_member_are_not_found() {
        DeciderTest::<Staff>::given_no_events()
            .when(StaffCommand::SetAccepting { accepting: false }, &ctx())
            .then_error(|e| e.code == "not_found");
    }

    #[test]
    fn the_smallest_load_ratio_wins_then_fewest_active_then_staff_id() {
        let member = |id: &str, active: usize, max: u32| StaffState {
            staff_id: id.into(),
            max_active: max,
            active: (0..active).map(|i| format!("dlv_{id}_{i}")).collect(),
            ..StaffState::default()
        };
        let r = |a: u32, m: u32| LoadRatio {
            active: a,
            max_active: m,
        };
        assert!(r(1, 3) < r(1, 2));
        assert_eq!(r(1, 2), r(2, 4));
        assert!(r(0, 0) > r(49, 50));
        assert!(r(0, 5) < r(0, 0));
        let mut candidates = [
            member("stf_c", 2, 4),
            member("stf_b", 1, 2),
            member("stf_a", 1, 2),
            member("stf_d", 1, 3),
            member("stf_e", 0, 0),
        ];
        candidates.sort_by(|x, y| x.assignment_key().cmp(&y.assignment_key()));
        let order: Vec<&str> = candidates.iter().map(|c| c.staff_id.as_str()).collect();
        assert_eq!(order, ["stf_d", "stf_a", "stf_b", "stf_c", "stf_e"]);
    }

    fn create_staff() -> CreateStaff {
        CreateStaff {
            staff_id: "stf_1".into(),
            principal_id: "prn_1".into(),
            org_id: "org_1".into(),
            name: " Li Wei ".into(),
            roles: vec!["designer".into(), "tester".into()],
            department: "Delivery".into(),
            tags: vec!["vm".into()],
            max_active: 3,
            token_sha256: "ab".repeat(32),
        }
    }

    fn org() -> OrgEvent {
        OrgEvent::OrgCreated(OrgCreated {
            org_id: "org_1".into(),
            name: "Acme".into(),
        })
    }

    #[test]
    fn creating_staff_appends_the_member_its_isv_staff_principal_and_the_org_index_at_once() {
        let outcome = DecisionTest::new()
            .given::<Org>("org-org_1", &[org()])
            .given::<OrgStaff>(
                "orgstaff-org_1",
                &[OrgStaffEvent::StaffJoined(StaffJoined {
                    staff_id: "stf_0".into(),
                })],
            )
            .when(&create_staff(), &ctx())
            .unwrap();
        assert_eq!(
            decoded::<StaffEvent>(&outcome, "staff-stf_1"),
            vec![created(3)]
        );
        let principal = decoded::<PrincipalEvent>(&outcome, "principal-prn_1");
        let PrincipalEvent::PrincipalCreated(p) = &principal[0] else {
            panic!("{principal:?}");
        };
        assert_eq!(p.role, Role::IsvStaff);
        assert_eq!(p.org_id.as_deref(), Some("org_1"));
        assert_eq!(p.staff_id.as_deref(), Some("stf_1"));
        assert_eq!(p.token_sha256, "ab".repeat(32));
        assert_eq!(
            decoded::<OrgStaffEvent>(&outcome, "orgstaff-org_1"),
            vec![OrgStaffEvent::StaffJoined(StaffJoined {
                staff_id: "stf_1".into()
            })]
        );
        let state = outcome.primary_state::<Staff>().unwrap();
        assert!(state.accepting);
    }

    #[test]
    fn creating_staff_in_an_unknown_org_is_not_found() {
        let e = DecisionTest::new()
            .when(&create_staff(), &ctx())
            .unwrap_err();
        assert_eq!(e.code, "not_found");
    }

    #[test]
    fn creating_staff_checks_its_fields_before_the_org() {
        let e = DecisionTest::new()
            .when(
                &CreateStaff {
                    roles: vec!["chef".into()],
                    ..create_staff()
                },
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(field(&e), "roles[0]");
        let e = DecisionTest::new()
            .when(
                &CreateStaff {
                    max_active: 51,
                    ..create_staff()
                },
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(field(&e), "max_active");
    }

    #[test]
    fn the_org_index_keeps_join_order_and_a_second_join_appends_nothing() {
        let joined = |s: &str| OrgStaffEvent::StaffJoined(StaffJoined { staff_id: s.into() });
        let state = DeciderTest::<OrgStaff>::given(vec![joined("stf_b")])
            .when(
                OrgStaffCommand::Join {
                    staff_id: "stf_a".into(),
                },
                &ctx(),
            )
            .then_events(vec![joined("stf_a")]);
        assert_eq!(state.staff_ids, ["stf_b", "stf_a"]);
        DeciderTest::<OrgStaff>::given(vec![joined("stf_b")])
            .when(
                OrgStaffCommand::Join {
                    staff_id: "stf_b".into(),
                },
                &ctx(),
            )
            .then_events(vec![]);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Take { dlv: u8, role: bool, force: bool },
        Release { dlv: u8 },
        SetMax(u32),
        SetAccepting(bool),
        Leave { from: i64, to: i64 },
        EndLeave,
        Hour,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (0..8u8, any::<bool>(), proptest::bool::weighted(0.1))
                .prop_map(|(dlv, role, force)| Step::Take { dlv, role, force }),
            3 => (0..8u8).prop_map(|dlv| Step::Release { dlv }),
            1 => (0..5u32).prop_map(Step::SetMax),
            1 => any::<bool>().prop_map(Step::SetAccepting),
            1 => (0..6i64, 1..6i64).prop_map(|(from, len)| Step::Leave { from, to: from + len }),
            1 => Just(Step::EndLeave),
            1 => Just(Step::Hour),
        ]
    }

    /// What the spec says a member can do, kept by hand beside the aggregate.
    #[derive(Default)]
    struct Model {
        held: BTreeSet<String>,
        max: u32,
        accepting: bool,
        leave: Option<(i64, i64)>,
    }

    impl Model {
        fn refusal(&self, role: bool, now: i64) -> Option<&'static str> {
            if !role {
                Some("role")
            } else if !self.accepting {
                Some("not_accepting")
            } else if self.leave.is_some_and(|(f, t)| f <= now && now < t) {
                Some("on_leave")
            } else if self.held.len() >= self.max as usize {
                Some("capacity_full")
            } else {
                None
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Staff capacity against a model: the held set, every refusal and its reason agree;
        /// without force a take never exceeds `max_active`; and the state folded from the
        /// whole stream (a recount) always equals the one built step by step.
        #[test]
        fn staff_capacity_agrees_with_the_model_and_with_a_recount(
            steps in proptest::collection::vec(step(), 1..60),
        ) {
            let mut history = vec![created(2)];
            let mut state = Staff::fold(&history);
            let mut model = Model { max: 2, accepting: true, ..Model::default() };
            let mut hour = 0i64;
            for s in steps {
                let ctx = ctx_at(t(hour));
                let command = match &s {
                    Step::Take { dlv, role, force } => take(
                        &format!("dlv_{dlv}"),
                        if *role { "designer" } else { "developer" },
                        *force,
                    ),
                    Step::Release { dlv } => StaffCommand::Release {
                        delivery_id: format!("dlv_{dlv}"),
                    },
                    Step::SetMax(m) => StaffCommand::Update(StaffChanges {
                        max_active: Some(*m),
                        ..StaffChanges::default()
                    }),
                    Step::SetAccepting(a) => StaffCommand::SetAccepting { accepting: *a },
                    Step::Leave { from, to } => StaffCommand::SetLeave {
                        from: t(hour + from),
                        to: t(hour + to),
                    },
                    Step::EndLeave => StaffCommand::EndLeave,
                    Step::Hour => {
                        hour += 1;
                        continue;
                    }
                };
                let result = Staff::decide(&state, &command, &ctx);
                match (&s, &result) {
                    (Step::Take { dlv, role, force }, _) => {
                        let id = format!("dlv_{dlv}");
                        let expected = if model.held.contains(&id) || *force {
                            None
                        } else {
                            model.refusal(*role, hour)
                        };
                        let got = result.as_ref().err().and_then(reason);
                        proptest::prop_assert_eq!(got, expected);
                        if expected.is_none() {
                            model.held.insert(id);
                        }
                        // A take the rules allowed never goes beyond the maximum.
                        if !force && result.as_ref().is_ok_and(|e| !e.is_empty()) {
                            proptest::prop_assert!(model.held.len() <= model.max as usize);
                        }
                    }
                    (Step::Release { dlv }, _) => {
                        model.held.remove(&format!("dlv_{dlv}"));
                    }
                    (Step::SetMax(m), _) => model.max = *m,
                    (Step::SetAccepting(a), _) => model.accepting = *a,
                    (Step::Leave { from, to }, _) => model.leave = Some((hour + from, hour + to)),
                    (Step::EndLeave, Ok(_)) => model.leave = None,
                    (Step::EndLeave, Err(e)) => {
                        proptest::prop_assert!(model.leave.is_none() && e.code == "invalid_state");
                    }
                    (Step::Hour, _) => {}
                }
                let events = result.unwrap_or_default();
                for e in &events {
                    state = Staff::evolve(state, e);
                }
                history.extend(events);
                proptest::prop_assert_eq!(&state.active, &model.held);
                proptest::prop_assert_eq!(&Staff::fold(&history), &state);
            }
        }
    }
}
