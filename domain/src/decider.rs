//! The shape of every aggregate: a pure decider (STYLE §2).
//!
//! An aggregate is a type implementing [`Decider`]: `decide` turns the current state and a
//! command into new events (or a refusal), `evolve` applies one event to a state, and `fold`
//! rebuilds a state from history. The command runner, projections' history views and
//! `replay-tool history` all use the same `evolve`, so there is one source of truth for state.
//!
//! Invariant: `decide` and `evolve` are pure functions of their arguments — no clock, no ids,
//! no I/O. Everything from outside (the time, who is acting, the zone) arrives in [`Context`];
//! new ids arrive inside commands.

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::calendar::WorkCalendar;
use crate::time::Timestamp;

/// A pure aggregate: commands in, events out.
pub trait Decider {
    /// State folded from the stream; `Default` is the state before the first event.
    type State: Default + Clone + Send + Sync + 'static;
    /// What someone asks for (imperative: `PlaceOrder`).
    type Command;
    /// What happened (past tense: `OrderPlaced`).
    type Event;
    /// Why a command was refused.
    type Error;

    /// The events a command causes in `state`, or why it is refused. An empty list is a
    /// valid answer (the command changes nothing, e.g. an idempotent repeat).
    fn decide(
        state: &Self::State,
        command: &Self::Command,
        ctx: &Context,
    ) -> Result<Vec<Self::Event>, Self::Error>;

    /// The state after `event`. Must accept every event `decide` can emit; events are facts,
    /// so `evolve` never refuses one.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The state after a whole history, starting from the initial state.
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State
    where
        Self::Event: 'a,
    {
        events
            .into_iter()
            .fold(Self::State::default(), |state, event| {
                Self::evolve(state, event)
            })
    }
}

/// Everything a decision needs from outside the stream, gathered by the command runner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The time of the decision, read once from the injected clock.
    pub now: Timestamp,
    /// Who asked.
    pub actor: Actor,
    /// The marketplace zone, for business dates.
    pub tz: chrono_tz::Tz,
    /// The working-day calendar (holidays, make-up working days) in `tz`, so that timeouts
    /// in working days are decided here; shared, so a context stays cheap to build.
    pub calendar: Arc<WorkCalendar>,
}

impl Context {
    /// A context for `actor` at `now` in `tz`, with a calendar that knows no holidays
    /// (Monday–Friday every year).
    pub fn new(now: Timestamp, actor: Actor, tz: chrono_tz::Tz) -> Context {
        Context::with_calendar(now, actor, Arc::new(WorkCalendar::new(tz)))
    }

    /// A context for `actor` at `now` with the marketplace's working-day calendar (and its
    /// zone).
    pub fn with_calendar(now: Timestamp, actor: Actor, calendar: Arc<WorkCalendar>) -> Context {
        Context {
            now,
            actor,
            tz: calendar.tz,
            calendar,
        }
    }

    /// A context for the system itself (deadlines, automatic transitions).
    pub fn system(now: Timestamp, tz: chrono_tz::Tz) -> Context {
        Context::new(now, Actor::System, tz)
    }
}

/// What a principal may do in general (SPEC §1); tenancy narrows it per resource.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Marketplace operations staff.
    Platform,
    /// An ISV organisation's administrator.
    IsvAdmin,
    /// An employee (sub-account) of an ISV organisation.
    IsvStaff,
    /// A buyer.
    Customer,
    /// Compliance: reads everything, never writes.
    Auditor,
    /// Data team: statistics, exports, rebuilds.
    Analyst,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Platform,
        Role::IsvAdmin,
        Role::IsvStaff,
        Role::Customer,
        Role::Auditor,
        Role::Analyst,
    ];

    /// The wire name, as in JSON: `platform`, `isv_admin`, …
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Platform => "platform",
            Role::IsvAdmin => "isv_admin",
            Role::IsvStaff => "isv_staff",
            Role::Customer => "customer",
            Role::Auditor => "auditor",
            Role::Analyst => "analyst",
        }
    }

    /// The role with wire name `name`.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who caused a change: the system (deadlines, automatic steps) or an authenticated principal.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The system itself.
    System,
    /// An authenticated principal.
    Principal {
        /// Principal id (`prn_…` or `cus_…`).
        id: String,
        /// The principal's role.
        role: Role,
        /// The principal's org, for ISV roles.
        org_id: Option<String>,
    },
}

impl Actor {
    /// A short label for logs and history: `system` or `<id>:<role>`.
    pub fn label(&self) -> String {
        match self {
            Actor::System => "system".to_owned(),
            Actor::Principal { id, role, .. } => format!("{id}:{role}"),
        }
    }

    /// The principal's id, if a principal acts.
    pub fn principal_id(&self) -> Option<&str> {
        match self {
            Actor::System => None,
            Actor::Principal { id, .. } => Some(id),
        }
    }

    /// The principal's role, if a principal acts.
    pub fn role(&self) -> Option<Role> {
        match self {
            Actor::System => None,
            Actor::Principal { role, .. } => Some(*role),
        }
    }

    /// The principal's org, if it has one.
    pub fn org_id(&self) -> Option<&str> {
        match self {
            Actor::System => None,
            Actor::Principal { org_id, .. } => org_id.as_deref(),
        }
    }
}

/// Given / when / then for deciders (cqrs-es style), so domain tests read like the spec:
///
/// ```ignore
/// DeciderTest::<Order>::given(vec![placed()])
///     .when(PayOrder { .. }, &ctx)
///     .then_events(vec![paid()]);
/// ```
///
/// Failures panic with the expected and actual events side by side and a line diff of each
/// event that differs.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use std::fmt::{Debug, Write};
    use std::marker::PhantomData;

    use super::{Context, Decider};

    /// Lines per side above which a mismatch is printed whole rather than diffed (the line
    /// diff is quadratic).
    const DIFF_LINES_MAX: usize = 400;

    /// A decider test with its history in place.
    pub struct DeciderTest<D: Decider> {
        state: D::State,
        _decider: PhantomData<D>,
    }

    impl<D: Decider> DeciderTest<D> {
        /// Starts from the state folded from `events`.
        pub fn given(events: impl IntoIterator<Item = D::Event>) -> DeciderTest<D> {
            let events: Vec<D::Event> = events.into_iter().collect();
            DeciderTest {
                state: D::fold(&events),
                _decider: PhantomData,
            }
        }

        /// Starts from the initial state (an empty stream).
        pub fn given_no_events() -> DeciderTest<D> {
            DeciderTest {
                state: D::State::default(),
                _decider: PhantomData,
            }
        }

        /// Runs `command` against the state.
        pub fn when(self, command: D::Command, ctx: &Context) -> DeciderOutcome<D> {
            let result = D::decide(&self.state, &command, ctx);
            DeciderOutcome {
                state: self.state,
                result,
            }
        }
    }

    /// The outcome of `when`, to be checked with a `then_*` method.
    pub struct DeciderOutcome<D: Decider> {
        state: D::State,
        result: Result<Vec<D::Event>, D::Error>,
    }

    impl<D: Decider> DeciderOutcome<D>
    where
        D::Event: PartialEq + Debug,
        D::Error: Debug,
    {
        /// Asserts the command emitted exactly `expected`, in order; returns the state after
        /// them, for further assertions.
        #[track_caller]
        pub fn then_events(self, expected: Vec<D::Event>) -> D::State {
            match self.result {
                Ok(actual) => {
                    if actual != expected {
                        panic!("{}", describe_event_mismatch(&expected, &actual));
                    }
                    actual.iter().fold(self.state, D::evolve)
                }
                Err(error) => panic!(
                    "expected events but the command was refused\n\
                     expected events:\n{expected:#?}\nerror:\n{error:#?}"
                ),
            }
        }

        /// Asserts the command was refused with an error `matcher` accepts; returns the error.
        #[track_caller]
        pub fn then_error(self, matcher: impl FnOnce(&D::Error) -> bool) -> D::Error {
            match self.result {
                Ok(events) => panic!("expected an error but the command emitted:\n{events:#?}"),
                Err(error) => {
                    if !matcher(&error) {
                        panic!("the command was refused with an unexpected error:\n{error:#?}");
                    }
                    error
                }
            }
        }

        /// Asserts the command was refused with exactly `expected`.
        #[track_caller]
        pub fn then_error_eq(self, expected: D::Error)
        where
            D::Error: PartialEq,
        {
            match self.result {
                Ok(events) => {
                    panic!("expected error {expected:#?}\nbut the command emitted:\n{events:#?}")
                }
                Err(error) => {
                    if error != expected {
                        panic!(
                            "wrong error\n{}",
                            describe_line_diff(&format!("{expected:#?}"), &format!("{error:#?}"))
                        );
                    }
                }
            }
        }
    }

    fn describe_event_mismatch<E: Debug + PartialEq>(expected: &[E], actual: &[E]) -> String {
        let mut text = format!(
            "events differ: expected {} event(s), got {}\n",
            expected.len(),
            actual.len()
        );
        for index in 0..expected.len().max(actual.len()) {
            // Writing to a String cannot fail.
            let _ = match (expected.get(index), actual.get(index)) {
                (Some(want), Some(got)) if want == got => {
                    writeln!(text, "  [{index}] equal: {got:?}")
                }
                (Some(want), Some(got)) => writeln!(
                    text,
                    "  [{index}] differs (- expected, + actual):\n{}",
                    describe_line_diff(&format!("{want:#?}"), &format!("{got:#?}"))
                ),
                (Some(want), None) => writeln!(text, "  [{index}] missing:\n{want:#?}"),
                (None, Some(got)) => writeln!(text, "  [{index}] unexpected:\n{got:#?}"),
                (None, None) => Ok(()),
            };
        }
        text
    }

    /// A line diff of two pretty-printed values: ` ` same, `-` expected only, `+` actual
    /// only (longest common subsequence).
    fn describe_line_diff(expected: &str, actual: &str) -> String {
        let left: Vec<&str> = expected.lines().collect();
        let right: Vec<&str> = actual.lines().collect();
        if left.len() > DIFF_LINES_MAX || right.len() > DIFF_LINES_MAX {
            return format!("expected:\n{expected}\nactual:\n{actual}");
        }
        // common[i][j] = length of the LCS of left[i..] and right[j..].
        let mut common = vec![vec![0usize; right.len() + 1]; left.len() + 1];
        for i in (0..left.len()).rev() {
            for j in (0..right.len()).rev() {
                common[i][j] = if left[i] == right[j] {
                    common[i + 1][j + 1] + 1
                } else {
                    common[i + 1][j].max(common[i][j + 1])
                };
            }
        }
        let mut text = String::new();
        let (mut i, mut j) = (0, 0);
        while i < left.len() || j < right.len() {
            if i < left.len() && j < right.len() && left[i] == right[j] {
                text.push_str("      ");
                text.push_str(left[i]);
                i += 1;
                j += 1;
            } else if i < left.len() && (j == right.len() || common[i + 1][j] >= common[i][j + 1]) {
                text.push_str("    - ");
                text.push_str(left[i]);
                i += 1;
            } else {
                text.push_str("    + ");
                text.push_str(right[j]);
                j += 1;
            }
            text.push('\n');
        }
        text
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn line_diff_marks_changed_lines() {
            let diff = describe_line_diff("a\nb\nc", "a\nx\nc");
            assert_eq!(diff, "      a\n    - b\n    + x\n      c\n");
        }

        #[test]
        fn line_diff_shows_appended_and_removed_lines() {
            assert_eq!(describe_line_diff("a", "a\nb"), "      a\n    + b\n");
            assert_eq!(describe_line_diff("a\nb", "b"), "    - a\n      b\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::DeciderTest;
    use super::*;
    use crate::money::Cents;

    /// A toy wallet: deposits, and withdrawals that may not overdraw.
    struct Wallet;

    #[derive(Debug, Clone, PartialEq)]
    enum WalletCommand {
        Deposit(Cents),
        Withdraw(Cents),
    }

    #[derive(Debug, Clone, PartialEq)]
    enum WalletEvent {
        Deposited { amount: Cents, by: String },
        Withdrawn { amount: Cents, by: String },
    }

    #[derive(Debug, Clone, PartialEq, thiserror::Error)]
    enum WalletError {
        #[error("amount: must be positive")]
        NonPositive,
        #[error("amount: {requested} exceeds the balance {balance}")]
        Overdraw { requested: Cents, balance: Cents },
    }

    impl Decider for Wallet {
        type State = Cents;
        type Command = WalletCommand;
        type Event = WalletEvent;
        type Error = WalletError;

        fn decide(
            balance: &Cents,
            command: &WalletCommand,
            ctx: &Context,
        ) -> Result<Vec<WalletEvent>, WalletError> {
            let by = ctx.actor.label();
            match *command {
                WalletCommand::Deposit(amount) if amount > Cents::ZERO => {
                    Ok(vec![WalletEvent::Deposited { amount, by }])
                }
                WalletCommand::Withdraw(amount) if amount > Cents::ZERO => {
                    if amount > *balance {
                        Err(WalletError::Overdraw {
                            requested: amount,
                            balance: *balance,
                        })
                    } else {
                        Ok(vec![WalletEvent::Withdrawn { amount, by }])
                    }
                }
                _ => Err(WalletError::NonPositive),
            }
        }

        fn evolve(balance: Cents, event: &WalletEvent) -> Cents {
            match event {
                WalletEvent::Deposited { amount, .. } => balance.saturating_add(*amount),
                WalletEvent::Withdrawn { amount, .. } => balance.saturating_sub(*amount),
            }
        }
    }

    fn ctx() -> Context {
        let actor = Actor::Principal {
            id: "cus_1".to_owned(),
            role: Role::Customer,
            org_id: None,
        };
        Context::new(Timestamp::UNIX_EPOCH, actor, chrono_tz::Asia::Shanghai)
    }

    fn deposited(cents: i64) -> WalletEvent {
        WalletEvent::Deposited {
            amount: Cents(cents),
            by: "cus_1:customer".to_owned(),
        }
    }

    #[test]
    fn fold_applies_events_in_order_from_the_initial_state() {
        let history = [deposited(500), deposited(250)];
        assert_eq!(Wallet::fold(&history), Cents(750));
        assert_eq!(Wallet::fold(&[]), Cents::ZERO);
    }

    #[test]
    fn then_events_returns_the_evolved_state() {
        let state = DeciderTest::<Wallet>::given(vec![deposited(500)])
            .when(WalletCommand::Withdraw(Cents(200)), &ctx())
            .then_events(vec![WalletEvent::Withdrawn {
                amount: Cents(200),
                by: "cus_1:customer".to_owned(),
            }]);
        assert_eq!(state, Cents(300));
    }

    #[test]
    fn then_error_accepts_a_matching_refusal() {
        let error = DeciderTest::<Wallet>::given(vec![deposited(100)])
            .when(WalletCommand::Withdraw(Cents(200)), &ctx())
            .then_error(|error| matches!(error, WalletError::Overdraw { .. }));
        assert_eq!(error.to_string(), "amount: 2.00 exceeds the balance 1.00");
        DeciderTest::<Wallet>::given_no_events()
            .when(WalletCommand::Deposit(Cents(0)), &ctx())
            .then_error_eq(WalletError::NonPositive);
    }

    #[test]
    #[should_panic(expected = "[0] differs (- expected, + actual)")]
    fn then_events_fails_with_a_diff_when_events_differ() {
        DeciderTest::<Wallet>::given_no_events()
            .when(WalletCommand::Deposit(Cents(100)), &ctx())
            .then_events(vec![deposited(999)]);
    }

    #[test]
    #[should_panic(expected = "[1] missing")]
    fn then_events_fails_when_an_event_is_missing() {
        DeciderTest::<Wallet>::given_no_events()
            .when(WalletCommand::Deposit(Cents(100)), &ctx())
            .then_events(vec![deposited(100), deposited(100)]);
    }

    #[test]
    #[should_panic(expected = "expected events but the command was refused")]
    fn then_events_fails_when_the_command_is_refused() {
        DeciderTest::<Wallet>::given_no_events()
            .when(WalletCommand::Withdraw(Cents(1)), &ctx())
            .then_events(vec![]);
    }

    #[test]
    #[should_panic(expected = "expected an error but the command emitted")]
    fn then_error_fails_when_events_are_emitted() {
        DeciderTest::<Wallet>::given_no_events()
            .when(WalletCommand::Deposit(Cents(1)), &ctx())
            .then_error(|_| true);
    }

    #[test]
    #[should_panic(expected = "refused with an unexpected error")]
    fn then_error_fails_when_the_matcher_rejects() {
        DeciderTest::<Wallet>::given_no_events()
            .when(WalletCommand::Withdraw(Cents(1)), &ctx())
            .then_error(|error| matches!(error, WalletError::NonPositive));
    }

    #[test]
    #[should_panic(expected = "wrong error")]
    fn then_error_eq_fails_on_a_different_error() {
        DeciderTest::<Wallet>::given_no_events()
            .when(WalletCommand::Withdraw(Cents(1)), &ctx())
            .then_error_eq(WalletError::NonPositive);
    }

    #[test]
    fn actor_label_is_system_or_id_and_role() {
        assert_eq!(Actor::System.label(), "system");
        let staff = Actor::Principal {
            id: "prn_7".to_owned(),
            role: Role::IsvStaff,
            org_id: Some("org_1".to_owned()),
        };
        assert_eq!(staff.label(), "prn_7:isv_staff");
        assert_eq!(staff.principal_id(), Some("prn_7"));
        assert_eq!(staff.role(), Some(Role::IsvStaff));
        assert_eq!(staff.org_id(), Some("org_1"));
        assert_eq!(Actor::System.role(), None);
    }

    #[test]
    fn roles_use_snake_case_wire_names() {
        for role in Role::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(Role::from_name(role.as_str()), Some(role));
        }
        assert_eq!(Role::IsvAdmin.as_str(), "isv_admin");
        assert_eq!(Role::from_name("admin"), None);
    }

    #[test]
    fn actors_round_trip_through_bincode() {
        let config = bincode::config::standard();
        for actor in [
            Actor::System,
            Actor::Principal {
                id: "prn_1".to_owned(),
                role: Role::Platform,
                org_id: None,
            },
        ] {
            let bytes = bincode::serde::encode_to_vec(&actor, config).unwrap();
            let (decoded, _): (Actor, usize) =
                bincode::serde::decode_from_slice(&bytes, config).unwrap();
            assert_eq!(decoded, actor);
        }
    }

    #[test]
    fn system_context_has_the_system_actor() {
        let ctx = Context::system(Timestamp::UNIX_EPOCH, chrono_tz::UTC);
        assert_eq!(ctx.actor, Actor::System);
    }
}
