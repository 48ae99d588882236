//! The workbench read model (SPEC §10 管理工作台, API.md §8 `GET /v1/dashboard/workbench`):
//! per provider org, its delivery tasks, delivered projects and customer rejections.
//!
//! A *task* is one entry (`NodeEntered`, keyed by delivery id and entry `seq`) of a node
//! whose acting side is the provider — `generic` and `confirm` nodes of side provider, and
//! `claim_order` (a staff member claims). `assign_provider` / `assign_order` are the
//! system's and customer nodes the customer's: they are no one's work at the provider. A
//! task belongs to the org providing the project when it is entered and records its
//! deadline (`due_at`; none while the project is paused — the pause stops the clock, the
//! resume sets the moved deadline), its operator (the staff member of the node's role, or
//! who completed it) and how it ended: *done* when the provider side completed or rejected
//! it (a staff member or an admin), ended but not done when the system advanced it on a
//! timeout, the project was cancelled or its provider changed. Tasks are indexed by
//! deadline and by completion time, so a date's figures are range scans.
//!
//! Per org also: delivered projects by completion time, the projects it provided (`of`,
//! counted once per project at its `ProviderAssigned`) and those the customer rejected at
//! any node while it provided them, with the operator of the project then (for the
//! department figures).
//!
//! Timestamps only: the model has no zone; the route turns a date of the server's zone into
//! instants ([`Day`]). Capacity, queued projects, departments and reviews are not kept here:
//! the route reads them from the staff, deliveries and orders models.
//!
//! Unfinished projects are kept folded with the domain's own `Delivery::evolve` (the
//! current node, its role's operator, the provider) while they run, and dropped when they
//! complete or are cancelled.
//!
//! Invariant: everything here is a function of the log (rebuilt equals incremental).

use std::collections::{BTreeMap, BTreeSet};

use domain::delivery::node::Side;
use domain::delivery::project::{Delivery, DeliveryEvent, DeliveryState, Party};
use domain::{Decider, Timestamp};
use eventlog::Record;
use serde::{Deserialize, Serialize};

use crate::runtime::{decode, ApplyError, ReadModel};

/// A task's key: the delivery id and the entry's `seq`.
pub type TaskKey = (String, u32);

/// One provider-side node entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub entered_at: Timestamp,
    /// The entry's deadline (none for a node without timeout, and while paused).
    pub deadline: Option<Timestamp>,
    /// The staff member operating it (the node role's, or who completed it).
    pub operator: Option<String>,
    /// When the entry ended, however it ended.
    pub ended_at: Option<Timestamp>,
    /// Ended by the provider side completing or rejecting it.
    pub done: bool,
}

impl Task {
    /// Open at `at`: entered by then and not ended by then.
    pub fn open_at(&self, at: Timestamp) -> bool {
        self.entered_at <= at && self.ended_at.is_none_or(|e| e > at)
    }

    /// Done before `at` (a day's end is the next day's first instant, which belongs to it).
    pub fn done_before(&self, at: Timestamp) -> bool {
        self.done && self.ended_at.is_some_and(|e| e < at)
    }
}

/// One provider org's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgBench {
    pub tasks: BTreeMap<TaskKey, Task>,
    /// (deadline, task) of every task with a deadline.
    pub by_deadline: BTreeSet<(Timestamp, TaskKey)>,
    /// (completion time, task) of every done task.
    pub by_done: BTreeSet<(Timestamp, TaskKey)>,
    /// (completion time, delivery id) of every project it delivered.
    pub delivered: BTreeSet<(Timestamp, String)>,
    /// Projects it provided (`rejected.of`).
    pub projects: u64,
    /// Delivery id → the project's operator when the customer first rejected a node of it.
    pub rejected: BTreeMap<String, Option<String>>,
}

/// An unfinished project: its fold, the orgs that counted it, its open task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    pub state: DeliveryState,
    /// Orgs whose `projects` count it already.
    pub counted_for: BTreeSet<String>,
    /// The open task: (org, seq).
    pub task: Option<(String, u32)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkbenchState {
    /// Provider org id → its figures.
    pub orgs: BTreeMap<String, OrgBench>,
    /// Delivery id → the unfinished project.
    pub running: BTreeMap<String, Running>,
}

/// A business date as instants (the route computes them in the server's zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    /// The date's first instant.
    pub start: Timestamp,
    /// The next date's first instant.
    pub end: Timestamp,
    /// 17:30 on the date: still-open tasks due on the date are overdue from then.
    pub cutoff: Timestamp,
    /// The time of the question.
    pub now: Timestamp,
}

/// The hour and minute of the overdue cut-off (SPEC §10: 17:30, marketplace time).
pub const OVERDUE_CUTOFF_HOUR: u32 = 17;
pub const OVERDUE_CUTOFF_MINUTE: u32 = 30;

impl Day {
    /// `date` in zone `tz`, asked at `now`.
    pub fn in_zone(tz: chrono_tz::Tz, date: chrono::NaiveDate, now: Timestamp) -> Day {
        let calendar = domain::WorkCalendar::new(tz);
        let next = date.succ_opt().unwrap_or(date);
        let cutoff = chrono::NaiveTime::from_hms_opt(OVERDUE_CUTOFF_HOUR, OVERDUE_CUTOFF_MINUTE, 0)
            .unwrap_or(chrono::NaiveTime::MIN);
        Day {
            start: calendar.day_start(date),
            end: calendar.day_start(next),
            cutoff: calendar.local_instant(date, cutoff),
            now,
        }
    }
}

/// The delivered-projects periods of a date in zone `tz`: `[from, to)` of the date,
/// the day before, the date's month up to the end of the date, and the month before.
pub fn delivered_periods(
    tz: chrono_tz::Tz,
    date: chrono::NaiveDate,
) -> [(Timestamp, Timestamp); 4] {
    use chrono::Datelike;
    let calendar = domain::WorkCalendar::new(tz);
    let start = |d: chrono::NaiveDate| calendar.day_start(d);
    let today = start(date);
    let tomorrow = start(date.succ_opt().unwrap_or(date));
    let yesterday = start(date.pred_opt().unwrap_or(date));
    let month = date.with_day(1).unwrap_or(date);
    let last_month = month
        .pred_opt()
        .and_then(|d| d.with_day(1))
        .unwrap_or(month);
    [
        (today, tomorrow),
        (yesterday, today),
        (start(month), tomorrow),
        (start(last_month), start(month)),
    ]
}

/// The task figures of one department (or of the whole org).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskFigures {
    /// Deadline on the date.
    pub due: u64,
    /// Of those, done by the end of the date.
    pub due_done: u64,
    /// Done on the date.
    pub done: u64,
    /// Done on the date with a deadline after the date.
    pub early: u64,
    /// Due on the date and still open at the cut-off (0 before the cut-off).
    pub overdue: u64,
}

impl OrgBench {
    /// The task figures of `day`, for the whole org and per department of each task's
    /// operator (`department` names it; `None` for a task without operator).
    pub fn tasks_on(
        &self,
        day: Day,
        department: impl Fn(Option<&str>) -> String,
    ) -> (TaskFigures, BTreeMap<String, TaskFigures>) {
        let mut all = TaskFigures::default();
        let mut per: BTreeMap<String, TaskFigures> = BTreeMap::new();
        let past_cutoff = day.now >= day.cutoff;
        let lo = (day.start, (String::new(), 0));
        let hi = (day.end, (String::new(), 0));
        for (_, key) in self.by_deadline.range(lo.clone()..hi.clone()) {
            let Some(t) = self.tasks.get(key) else {
                continue;
            };
            let done = t.done_before(day.end);
            let overdue = past_cutoff && t.open_at(day.cutoff);
            for f in [
                &mut all,
                per.entry(department(t.operator.as_deref())).or_default(),
            ] {
                f.due += 1;
                f.due_done += u64::from(done);
                f.overdue += u64::from(overdue);
            }
        }
        for (_, key) in self.by_done.range(lo..hi) {
            let Some(t) = self.tasks.get(key) else {
                continue;
            };
            let early = t.deadline.is_some_and(|d| d >= day.end);
            for f in [
                &mut all,
                per.entry(department(t.operator.as_deref())).or_default(),
            ] {
                f.done += 1;
                f.early += u64::from(early);
            }
        }
        (all, per)
    }

    /// Projects delivered in `[from, to)`.
    pub fn delivered_between(&self, from: Timestamp, to: Timestamp) -> u64 {
        if from >= to {
            return 0;
        }
        let lo = (from, String::new());
        let hi = (to, String::new());
        self.delivered.range(lo..hi).count() as u64
    }

    fn end_task(&mut self, key: &TaskKey, at: Timestamp, by: Option<&Party>) {
        let Some(t) = self.tasks.get_mut(key) else {
            return;
        };
        if t.ended_at.is_some() {
            return;
        }
        t.ended_at = Some(at);
        match by {
            Some(Party::System) | None => {}
            Some(party) => {
                t.done = true;
                if let Party::Staff(id) = party {
                    t.operator = Some(id.clone());
                }
                self.by_done.insert((at, key.clone()));
            }
        }
    }

    fn set_deadline(&mut self, key: &TaskKey, deadline: Option<Timestamp>) {
        let Some(t) = self.tasks.get_mut(key) else {
            return;
        };
        if let Some(old) = t.deadline {
            self.by_deadline.remove(&(old, key.clone()));
        }
        t.deadline = deadline;
        if let Some(new) = deadline {
            self.by_deadline.insert((new, key.clone()));
        }
    }
}

/// Is the node at `index` of the project's flow a provider task?
fn is_task(s: &DeliveryState, index: usize) -> bool {
    s.flow()
        .get(index)
        .is_some_and(|f| f.node.acting_side() == Side::Provider)
}

/// The operator of the project's current node's role, else the one assigned last.
fn operator(s: &DeliveryState) -> Option<String> {
    s.operator().map(|o| o.staff_id.clone())
}

/// The workbench model.
#[derive(Debug)]
pub struct Workbench;

impl ReadModel for Workbench {
    const NAME: &'static str = "workbench";
    const VERSION: u32 = 1;
    type State = WorkbenchState;

    fn apply(state: &mut WorkbenchState, r: &Record) -> Result<(), ApplyError> {
        let Some(id) = r.stream_id.strip_prefix("delivery-") else {
            return Ok(());
        };
        let e: DeliveryEvent = decode(r)?;
        let at = Timestamp::from_micros(r.recorded_at_micros);
        if !matches!(e, DeliveryEvent::DeliveryStarted(_)) && !state.running.contains_key(id) {
            // Over (or never started): nothing of it is counted any more.
            return Ok(());
        }
        let run = state.running.entry(id.to_owned()).or_default();
        run.state = Delivery::evolve(std::mem::take(&mut run.state), &e);
        let open = run.task.clone();
        let key_of = |seq: u32| (id.to_owned(), seq);
        let end_open =
            |orgs: &mut BTreeMap<String, OrgBench>, seq: u32, by: Option<&Party>| -> bool {
                match &open {
                    Some((org, s)) if *s == seq => {
                        if let Some(bench) = orgs.get_mut(org) {
                            bench.end_task(&key_of(seq), at, by);
                        }
                        true
                    }
                    _ => false,
                }
            };
        use DeliveryEvent as E;
        match &e {
            E::ProviderAssigned(p) => {
                let first = run.counted_for.insert(p.org_id.clone());
                if first {
                    state.orgs.entry(p.org_id.clone()).or_default().projects += 1;
                }
            }
            E::NodeEntered(n) => {
                let index = usize::try_from(n.index).unwrap_or(usize::MAX);
                run.task = None;
                if let (true, Some(org)) = (is_task(&run.state, index), &run.state.provider_org_id)
                {
                    let bench = state.orgs.entry(org.clone()).or_default();
                    let key = key_of(n.seq);
                    bench.tasks.insert(
                        key.clone(),
                        Task {
                            entered_at: n.at,
                            deadline: None,
                            operator: operator(&run.state),
                            ended_at: None,
                            done: false,
                        },
                    );
                    bench.set_deadline(&key, n.due_at);
                    run.task = Some((org.clone(), n.seq));
                }
            }
            E::OperatorAssigned(o) => {
                // A change of operator (or a claim) moves the open task of that role.
                if let Some((org, seq)) = &open {
                    let role = run.state.current_node().and_then(|n| n.node.role.clone());
                    if role.as_deref() == Some(o.role.as_str()) {
                        if let Some(t) = state
                            .orgs
                            .get_mut(org)
                            .and_then(|b| b.tasks.get_mut(&key_of(*seq)))
                        {
                            t.operator = Some(o.staff_id.clone());
                        }
                    }
                }
            }
            E::NodeCompleted(c) => {
                let ended = end_open(&mut state.orgs, c.seq, Some(&c.by));
                if ended {
                    run.task = None;
                }
            }
            E::NodeRejected(j) => {
                if end_open(&mut state.orgs, j.seq, Some(&j.by)) {
                    run.task = None;
                }
                if let (Party::Customer(_), Some(org)) = (&j.by, &run.state.provider_org_id) {
                    let op = operator(&run.state);
                    state
                        .orgs
                        .entry(org.clone())
                        .or_default()
                        .rejected
                        .entry(id.to_owned())
                        .or_insert(op);
                }
            }
            E::DeliveryPaused(p) => {
                if let Some((org, seq)) = open.as_ref().filter(|(_, s)| *s == p.seq) {
                    if let Some(b) = state.orgs.get_mut(org) {
                        b.set_deadline(&key_of(*seq), None);
                    }
                }
            }
            E::DeliveryResumed(p) => {
                if let Some((org, seq)) = open.as_ref().filter(|(_, s)| *s == p.seq) {
                    if let Some(b) = state.orgs.get_mut(org) {
                        b.set_deadline(&key_of(*seq), p.due_at);
                    }
                }
            }
            E::ProviderChanged(c) => {
                let ended = end_open(&mut state.orgs, c.seq, None);
                if ended {
                    run.task = None;
                }
            }
            E::DeliveryCancelled(c) => {
                end_open(&mut state.orgs, c.seq, None);
                state.running.remove(id);
            }
            E::DeliveryCompleted(c) => {
                // The last node's entry ended just before (its `NodeCompleted`).
                if let Some(org) = &run.state.provider_org_id {
                    state
                        .orgs
                        .entry(org.clone())
                        .or_default()
                        .delivered
                        .insert((c.at, id.to_owned()));
                }
                state.running.remove(id);
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use domain::codec::EventCodec;
    use domain::delivery::node::flatten;
    use domain::delivery::presets::preset;
    use domain::delivery::project::{
        DeliveryCancelled, DeliveryCompleted, DeliveryPaused, DeliveryResumed, DeliveryStarted,
        NodeCompleted, NodeEntered, NodeRejected, OperatorAssigned, OperatorHow, ProviderAssigned,
        ProviderHow,
    };

    use super::*;

    const SHANGHAI: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

    /// An instant written in Shanghai time (`2026-12-02T17:30`).
    fn sh(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(&format!("{text}:00+08:00")).unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// One project on `standard_manual` (nodes: 0 assign_provider, 1 submit_requirement,
    /// 2 assign_order, 3 start_implementation and 4 implementation_complete — the provider's
    /// two tasks —, 5 confirm_completion), its events applied at given times.
    struct Project {
        id: String,
        version: u64,
        seq: u32,
    }

    struct Bench {
        state: WorkbenchState,
        position: u64,
    }

    impl Bench {
        fn new() -> Bench {
            Bench {
                state: WorkbenchState::default(),
                position: 0,
            }
        }

        fn apply(&mut self, p: &mut Project, at: Timestamp, e: DeliveryEvent) {
            self.position += 1;
            p.version += 1;
            let encoded = e.encode().unwrap();
            let r = Record {
                position: self.position,
                stream_id: format!("delivery-{}", p.id),
                version: p.version,
                event_type: encoded.type_name.into(),
                schema_version: encoded.schema_version,
                recorded_at_micros: at.as_micros(),
                actor: "system".into(),
                correlation_id: "c".into(),
                causation_id: "c".into(),
                payload: encoded.payload,
                crc32c: 0,
                chain: [0; 32],
            };
            Workbench::apply(&mut self.state, &r).unwrap();
        }

        /// Starts a project provided by `org`, operated by `staff`, up to the entry of
        /// `start_implementation` at `at`, due at `due`.
        fn started(
            &mut self,
            id: &str,
            org: &str,
            staff: &str,
            at: Timestamp,
            due: Option<Timestamp>,
        ) -> Project {
            let mut p = Project {
                id: id.into(),
                version: 0,
                seq: 0,
            };
            let flow = flatten(&preset("tpl_standard_manual").unwrap().nodes);
            self.apply(
                &mut p,
                at,
                DeliveryStarted {
                    delivery_id: id.into(),
                    order_id: format!("ord_{id}"),
                    product_id: "prd_1".into(),
                    customer_id: "cus_1".into(),
                    seller_org_id: org.into(),
                    template_id: "tpl_standard_manual".into(),
                    flow,
                    at,
                }
                .into(),
            );
            self.enter(&mut p, 0, at, None);
            self.apply(
                &mut p,
                at,
                ProviderAssigned {
                    org_id: org.into(),
                    how: ProviderHow::SellerDefault,
                    weight_pick: None,
                }
                .into(),
            );
            self.complete(&mut p, at, Party::System);
            self.enter(&mut p, 1, at, None);
            self.complete(&mut p, at, Party::Customer("cus_1".into()));
            self.enter(&mut p, 2, at, None);
            self.apply(
                &mut p,
                at,
                OperatorAssigned {
                    node_id: "assign_order".into(),
                    role: "delivery_specialist".into(),
                    staff_id: staff.into(),
                    name: "Li".into(),
                    department: "ignored: the staff model's department counts".into(),
                    how: OperatorHow::RuleProviderFirst,
                    previous: None,
                    remark: None,
                }
                .into(),
            );
            self.complete(&mut p, at, Party::System);
            self.enter(&mut p, 3, at, due);
            p
        }

        fn enter(&mut self, p: &mut Project, index: u32, at: Timestamp, due_at: Option<Timestamp>) {
            p.seq += 1;
            let node_id = [
                "assign_provider",
                "submit_requirement",
                "assign_order",
                "start_implementation",
                "implementation_complete",
                "confirm_completion",
            ][index as usize];
            let seq = p.seq;
            self.apply(
                p,
                at,
                NodeEntered {
                    node_id: node_id.into(),
                    index,
                    seq,
                    at,
                    due_at,
                }
                .into(),
            );
        }

        fn complete(&mut self, p: &mut Project, at: Timestamp, by: Party) {
            let seq = p.seq;
            self.apply(
                p,
                at,
                NodeCompleted {
                    node_id: String::new(),
                    seq,
                    by,
                    note: None,
                    file_ids: vec![],
                    delivery_info: None,
                }
                .into(),
            );
        }

        fn org(&self, org: &str) -> &OrgBench {
            &self.state.orgs[org]
        }

        fn figures(
            &self,
            org: &str,
            on: &str,
            now: Timestamp,
        ) -> (TaskFigures, BTreeMap<String, TaskFigures>) {
            let day = Day::in_zone(SHANGHAI, date(on), now);
            self.org(org).tasks_on(day, |s| match s {
                Some("stf_a") | Some("stf_b") => "Ops".to_owned(),
                Some("stf_c") => "Design".to_owned(),
                _ => String::new(),
            })
        }
    }

    fn staff(id: &str) -> Party {
        Party::Staff(id.into())
    }

    #[test]
    fn a_task_is_a_provider_node_entry_due_on_the_date_of_its_deadline_in_the_servers_zone() {
        let mut b = Bench::new();
        // Due 00:30 on 12-03 in Shanghai: still 12-02 in UTC, but a task of 12-03.
        b.started(
            "dlv_1",
            "org_1",
            "stf_a",
            sh("2026-12-01T09:00"),
            Some(sh("2026-12-03T00:30")),
        );
        b.started(
            "dlv_2",
            "org_1",
            "stf_c",
            sh("2026-12-01T09:00"),
            Some(sh("2026-12-02T23:59")),
        );
        b.started("dlv_3", "org_1", "stf_c", sh("2026-12-01T09:00"), None);
        let now = sh("2026-12-02T10:00");
        let (on_2, _) = b.figures("org_1", "2026-12-02", now);
        let (on_3, _) = b.figures("org_1", "2026-12-03", now);
        assert_eq!((on_2.due, on_3.due), (1, 1));
        // Customer and system nodes are nobody's work at the provider: one task per project.
        assert_eq!(b.org("org_1").tasks.len(), 3);
        assert_eq!(b.org("org_1").projects, 3);
    }

    #[test]
    fn done_today_counts_by_completion_time_and_done_early_needs_a_deadline_after_the_date() {
        let mut b = Bench::new();
        let mut early = b.started(
            "dlv_1",
            "org_1",
            "stf_a",
            sh("2026-12-01T09:00"),
            Some(sh("2026-12-04T12:00")),
        );
        let mut on_time = b.started(
            "dlv_2",
            "org_1",
            "stf_c",
            sh("2026-12-01T09:00"),
            Some(sh("2026-12-02T18:00")),
        );
        let _open = b.started(
            "dlv_3",
            "org_1",
            "stf_c",
            sh("2026-12-01T09:00"),
            Some(sh("2026-12-02T18:00")),
        );
        b.complete(&mut early, sh("2026-12-02T11:00"), staff("stf_a"));
        b.enter(&mut early, 4, sh("2026-12-02T11:00"), None);
        b.complete(&mut on_time, sh("2026-12-02T23:59"), staff("stf_c"));
        b.enter(&mut on_time, 4, sh("2026-12-02T23:59"), None);
        let (all, per) = b.figures("org_1", "2026-12-02", sh("2026-12-03T08:00"));
        assert_eq!((all.due, all.due_done, all.done, all.early), (2, 1, 2, 1));
        assert_eq!(
            (per["Ops"].done, per["Ops"].early, per["Ops"].due),
            (1, 1, 0)
        );
        assert_eq!(
            (per["Design"].done, per["Design"].early, per["Design"].due),
            (1, 0, 2)
        );
        // Done on the 2nd is not done on the 1st or the 3rd.
        let (before, _) = b.figures("org_1", "2026-12-01", sh("2026-12-03T08:00"));
        let (after, _) = b.figures("org_1", "2026-12-03", sh("2026-12-03T08:00"));
        assert_eq!((before.done, after.done), (0, 0));
    }

    #[test]
    fn open_tasks_due_today_are_overdue_from_1730_in_shanghai_and_stay_so_after_midnight() {
        let mut b = Bench::new();
        let mut done_before = b.started(
            "dlv_1",
            "org_1",
            "stf_a",
            sh("2026-12-01T09:00"),
            Some(sh("2026-12-02T20:00")),
        );
        let mut done_after = b.started(
            "dlv_2",
            "org_1",
            "stf_a",
            sh("2026-12-01T09:00"),
            Some(sh("2026-12-02T20:00")),
        );
        b.started(
            "dlv_3",
            "org_1",
            "stf_c",
            sh("2026-12-01T09:00"),
            Some(sh("2026-12-02T21:00")),
        );
        b.complete(&mut done_before, sh("2026-12-02T17:29"), staff("stf_a"));
        b.enter(&mut done_before, 4, sh("2026-12-02T17:29"), None);
        // 17:29: not yet.
        let (at_1729, _) = b.figures("org_1", "2026-12-02", sh("2026-12-02T17:29"));
        assert_eq!((at_1729.due, at_1729.overdue), (3, 0));
        // 17:30: the two open ones (whatever their deadline's hour).
        let (at_1730, per) = b.figures("org_1", "2026-12-02", sh("2026-12-02T17:30"));
        assert_eq!(at_1730.overdue, 2);
        assert_eq!((per["Ops"].overdue, per["Design"].overdue), (1, 1));
        // Done at 19:00, after the cut-off: it was overdue at 17:30 and stays counted so.
        b.complete(&mut done_after, sh("2026-12-02T19:00"), staff("stf_a"));
        b.enter(&mut done_after, 4, sh("2026-12-02T19:00"), None);
        let (past_midnight, _) = b.figures("org_1", "2026-12-02", sh("2026-12-03T00:01"));
        assert_eq!((past_midnight.overdue, past_midnight.due_done), (2, 2));
        // The next date has nothing due; 17:30 of a date not reached yet counts nothing.
        let (next, _) = b.figures("org_1", "2026-12-03", sh("2026-12-03T18:00"));
        assert_eq!((next.due, next.overdue), (0, 0));
        let (future, _) = b.figures("org_1", "2026-12-02", sh("2026-12-01T18:00"));
        assert_eq!(future.overdue, 0);
    }

    #[test]
    fn a_system_advance_or_a_cancel_ends_a_task_without_doing_it() {
        let mut b = Bench::new();
        let mut advanced = b.started(
            "dlv_1",
            "org_1",
            "stf_a",
            sh("2026-12-01T09:00"),
            Some(sh("2026-12-02T09:00")),
        );
        let mut cancelled = b.started(
            "dlv_2",
            "org_1",
            "stf_a",
            sh("2026-12-01T09:00"),
            Some(sh("2026-12-02T09:00")),
        );
        b.complete(&mut advanced, sh("2026-12-02T09:00"), Party::System);
        b.enter(&mut advanced, 4, sh("2026-12-02T09:00"), None);
        let seq = cancelled.seq;
        b.apply(
            &mut cancelled,
            sh("2026-12-02T10:00"),
            DeliveryCancelled {
                seq,
                reason: domain::delivery::project::CancelReason::PlatformClose,
                refund_order: true,
                refund_id: None,
                remark: None,
                at: sh("2026-12-02T10:00"),
            }
            .into(),
        );
        let (all, _) = b.figures("org_1", "2026-12-02", sh("2026-12-02T18:00"));
        assert_eq!((all.due, all.done, all.due_done, all.overdue), (2, 0, 0, 0));
        assert!(
            !b.state.running.contains_key("dlv_2"),
            "a cancelled project is dropped"
        );
    }

    #[test]
    fn a_paused_task_has_no_deadline_until_the_resume_moves_it() {
        let mut b = Bench::new();
        let mut p = b.started(
            "dlv_1",
            "org_1",
            "stf_a",
            sh("2026-12-01T09:00"),
            Some(sh("2026-12-02T09:00")),
        );
        let seq = p.seq;
        b.apply(
            &mut p,
            sh("2026-12-01T10:00"),
            DeliveryPaused {
                seq,
                remark: "r".into(),
                at: sh("2026-12-01T10:00"),
                remaining_micros: Some(1),
            }
            .into(),
        );
        let (paused, _) = b.figures("org_1", "2026-12-02", sh("2026-12-02T18:00"));
        assert_eq!(paused.due, 0);
        b.apply(
            &mut p,
            sh("2026-12-03T10:00"),
            DeliveryResumed {
                seq,
                remark: "r".into(),
                at: sh("2026-12-03T10:00"),
                due_at: Some(sh("2026-12-04T09:00")),
            }
            .into(),
        );
        let (moved, _) = b.figures("org_1", "2026-12-04", sh("2026-12-04T18:00"));
        assert_eq!((moved.due, moved.overdue), (1, 1));
    }

    #[test]
    fn delivered_projects_count_by_completion_date_today_yesterday_this_month_last_month() {
        let mut b = Bench::new();
        for (i, at) in [
            "2026-11-30T23:59", // last month (the 30th, Shanghai)
            "2026-12-01T00:00", // this month, and yesterday
            "2026-12-02T08:00", // today
            "2026-12-02T23:59", // today
            "2026-12-03T00:00", // after the date: not in this month's count yet
        ]
        .iter()
        .enumerate()
        {
            let mut p = b.started(
                &format!("dlv_{i}"),
                "org_1",
                "stf_a",
                sh("2026-11-01T09:00"),
                None,
            );
            b.apply(&mut p, sh(at), DeliveryCompleted { at: sh(at) }.into());
        }
        let o = b.org("org_1");
        let [today, yesterday, month, last] = delivered_periods(SHANGHAI, date("2026-12-02"));
        assert_eq!(
            [today, yesterday, month, last].map(|(f, t)| o.delivered_between(f, t)),
            [2, 1, 3, 1]
        );
        assert!(b.state.running.is_empty(), "delivered projects are dropped");
    }

    #[test]
    fn a_customer_rejection_counts_the_project_once_with_its_operator_of_the_projects_provided() {
        let mut b = Bench::new();
        let mut p = b.started("dlv_1", "org_1", "stf_c", sh("2026-12-01T09:00"), None);
        b.started("dlv_2", "org_1", "stf_a", sh("2026-12-01T09:00"), None);
        b.complete(&mut p, sh("2026-12-01T10:00"), staff("stf_c"));
        b.enter(&mut p, 4, sh("2026-12-01T10:00"), None);
        b.complete(&mut p, sh("2026-12-01T11:00"), staff("stf_c"));
        for round in 0..2 {
            b.enter(&mut p, 5, sh("2026-12-01T11:00"), None);
            let seq = p.seq;
            b.apply(
                &mut p,
                sh("2026-12-01T12:00"),
                NodeRejected {
                    node_id: "confirm_completion".into(),
                    seq,
                    by: Party::Customer("cus_1".into()),
                    back_to: "implementation_complete".into(),
                    reason: format!("not yet {round}"),
                }
                .into(),
            );
            b.enter(&mut p, 4, sh("2026-12-01T12:00"), None);
            b.complete(&mut p, sh("2026-12-01T13:00"), staff("stf_c"));
        }
        let o = b.org("org_1");
        assert_eq!(o.rejected.len(), 1);
        assert_eq!(o.rejected["dlv_1"].as_deref(), Some("stf_c"));
        assert_eq!(o.projects, 2);
    }

    #[test]
    fn a_change_of_operator_moves_the_open_task_to_the_new_operator() {
        let mut b = Bench::new();
        let mut p = b.started(
            "dlv_1",
            "org_1",
            "stf_a",
            sh("2026-12-01T09:00"),
            Some(sh("2026-12-02T09:00")),
        );
        b.apply(
            &mut p,
            sh("2026-12-01T10:00"),
            OperatorAssigned {
                node_id: "start_implementation".into(),
                role: "delivery_specialist".into(),
                staff_id: "stf_c".into(),
                name: "Wu".into(),
                department: String::new(),
                how: OperatorHow::Changed,
                previous: Some("stf_a".into()),
                remark: None,
            }
            .into(),
        );
        let (_, per) = b.figures("org_1", "2026-12-02", sh("2026-12-02T10:00"));
        assert_eq!(per.keys().collect::<Vec<_>>(), ["Design"]);
    }
}
