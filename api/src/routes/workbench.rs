//! API.md §8 `GET /v1/dashboard/workbench?org_id=&date=`: the provider org's workbench
//! (SPEC §10 管理工作台) for one business date of the server's zone (default: today).
//!
//! Task figures, delivered projects and customer rejections come from the workbench model
//! (`projections::workbench`, which says what a task is); the rest is read from the models
//! that already hold it, at read time: capacity and departments from the staff model, the
//! queued count from the deliveries model, unhandled bad reviews and the shop score from
//! the orders model. The read waits for all four (`X-Min-Position`) and answers the
//! workbench model's position.
//!
//! Access: the org's isv_admin (its own org; `org_id` may be left out; another org's is
//! 404), platform and auditor (any org; `org_id` required). Unknown org → 404.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use domain::money::round_half_up_div;
use projections::workbench::{delivered_periods, Day};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Caller, MinPosition};
use crate::respond;
use crate::routes::{Doc, Routes};
use crate::state::App;

/// Delivered (completed) projects of the org as provider, by completion date (server zone).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveredView {
    /// Completed on the date.
    pub today: u64,
    /// Completed on the day before the date.
    pub yesterday: u64,
    /// Completed in the date's calendar month, up to the end of the date.
    pub this_month: u64,
    /// Completed in the calendar month before the date's.
    pub last_month: u64,
}

/// The org's staff capacity now (staff model).
#[derive(Debug, Serialize, ToSchema)]
pub struct CapacityView {
    /// Sum of every staff member's `max_active`.
    pub total: u64,
    /// Projects the staff hold.
    pub active: u64,
    /// Sum of `max_active − active` over the staff accepting work and not on leave now.
    pub remaining: u64,
}

/// Projects the customer rejected at any node (at least once) while the org provided them.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedView {
    /// Projects rejected by their customer.
    pub projects: u64,
    /// Projects the org provided (assigned to it), in all.
    pub of: u64,
    /// `projects / of` in per-mille (rounded half up); null when `of` is 0.
    #[schema(minimum = 0, maximum = 1000)]
    pub rate: Option<u32>,
}

/// One department's figures (the department of each task's operator now; `""` for staff
/// without department and tasks without operator).
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentView {
    pub department: String,
    /// Tasks done on the date.
    pub done: u64,
    /// Tasks done on the date with a deadline after it.
    pub done_early: u64,
    /// Tasks with a deadline on the date.
    pub due_today: u64,
    /// Projects the customer rejected (the department of the project's operator then).
    pub rejected: u64,
}

/// The org's reviews as seller (orders model).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewsView {
    /// Reviews with a score below 5 that the seller has not replied to (default reviews are
    /// never bad).
    pub unhandled_bad: u64,
    /// The shop score: mean of the non-default reviews' scores, two decimals; null without
    /// one.
    pub score: Option<f64>,
}

/// The workbench of a provider org on a date (SPEC §10). A *task* is one entry of a
/// provider-side node (`generic` / `confirm` of side provider, `claim_order`); it is done
/// when the provider side completed or rejected it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkbenchView {
    /// Tasks whose deadline falls on the date (server zone).
    pub tasks_due_today: u64,
    /// Tasks done on the date.
    pub tasks_done_today: u64,
    /// Of the tasks due on the date, those done by its end, in per-mille (rounded half up);
    /// null when none is due.
    #[schema(minimum = 0, maximum = 1000)]
    pub completion_rate: Option<u32>,
    /// Tasks done on the date whose deadline falls after the date.
    pub done_early: u64,
    /// Tasks due on the date still open at 17:30 of the date (0 before 17:30).
    pub overdue: u64,
    pub delivered: DeliveredView,
    /// The org's projects waiting in the dispatch queue: for its staff as provider, or for
    /// a provider while it is their seller and none is assigned.
    pub queued: u64,
    pub capacity: CapacityView,
    pub rejected: RejectedView,
    /// Per department, by name.
    pub by_department: Vec<DepartmentView>,
    pub reviews: ReviewsView,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkbenchQuery {
    pub org_id: Option<String>,
    pub date: Option<String>,
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::get;
    r.add(
        "GET",
        "/v1/dashboard/workbench",
        get(workbench),
        Doc::new(
            "the workbench of a provider org on a date: tasks, delivered projects, queue, \
             capacity, customer rejections, departments, reviews",
            "isv_admin (its own org), platform, auditor",
        )
        .query(
            "org_id",
            "the provider org (an isv_admin's own when left out; required for the others)",
        )
        .query("date", "YYYY-MM-DD in the server's zone (default: today)")
        .answers::<WorkbenchView>(200),
    )
}

fn permille(part: u64, whole: u64) -> Option<u32> {
    if whole == 0 {
        return None;
    }
    let p = round_half_up_div(i128::from(part) * 1000, i128::from(whole));
    u32::try_from(p).ok()
}

async fn workbench(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<WorkbenchQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    access::WORKBENCH.check(&caller)?;
    let q = crate::extract::query(q)?;
    let org = access::query_org(&caller, &access::WORKBENCH, q.org_id)?;
    let now = app.clock.now();
    let date = match q.date.as_deref() {
        None => now.to_datetime().with_timezone(&app.tz).date_naive(),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|d| d.year() >= 1 && text.len() == 10)
            .ok_or_else(|| {
                ApiError::validation("date", "date_format", "date must be a YYYY-MM-DD date")
            })?,
    };
    app.wait_for(&app.directory, min).await?;
    let (known, _) = app.directory.read(|d| d.orgs.contains_key(&org));
    if !known {
        return Err(ApiError::not_found("org"));
    }
    app.wait_for(&app.workbench, min).await?;
    app.wait_for(&app.staff, min).await?;
    app.wait_for(&app.deliveries, min).await?;
    app.wait_for(&app.orders, min).await?;

    // Staff: departments (now) and capacity.
    let ((departments, capacity), _) = app.staff.read(|s| {
        let mut departments = std::collections::BTreeMap::new();
        let mut capacity = CapacityView {
            total: 0,
            active: 0,
            remaining: 0,
        };
        for id in s.by_org.get(&org).into_iter().flatten() {
            let Some(row) = s.staff.get(id) else {
                continue;
            };
            let st = &row.state;
            departments.insert(id.clone(), st.department.clone());
            let (max, active) = (u64::from(st.max_active), u64::from(st.active_count()));
            capacity.total += max;
            capacity.active += active;
            if st.accepting && !st.on_leave(now) {
                capacity.remaining += max.saturating_sub(active);
            }
        }
        (departments, capacity)
    });
    let department = |staff: Option<&str>| -> String {
        staff
            .and_then(|id| departments.get(id))
            .cloned()
            .unwrap_or_default()
    };
    let day = Day::in_zone(app.tz, date, now);
    let periods = delivered_periods(app.tz, date);
    let ((tasks, per, delivered, rejected), position) = app.workbench.read(|w| {
        let empty = projections::workbench::OrgBench::default();
        let bench = w.orgs.get(&org).unwrap_or(&empty);
        let (tasks, mut per) = bench.tasks_on(day, department);
        let mut rejected_per: std::collections::BTreeMap<String, u64> = Default::default();
        for op in bench.rejected.values() {
            *rejected_per.entry(department(op.as_deref())).or_default() += 1;
        }
        let delivered = periods.map(|(from, to)| bench.delivered_between(from, to));
        let rejected = (bench.rejected.len() as u64, bench.projects);
        // Every department of the org's staff is listed, with those only tasks name.
        for d in departments.values() {
            per.entry(d.clone()).or_default();
        }
        let mut views: Vec<DepartmentView> = per
            .into_iter()
            .map(|(name, f)| DepartmentView {
                rejected: rejected_per.remove(&name).unwrap_or(0),
                department: name,
                done: f.done,
                done_early: f.early,
                due_today: f.due,
            })
            .collect();
        views.extend(rejected_per.into_iter().map(|(name, n)| DepartmentView {
            department: name,
            done: 0,
            done_early: 0,
            due_today: 0,
            rejected: n,
        }));
        (tasks, views, delivered, rejected)
    });
    let mut by_department = per;
    by_department.sort_by(|a, b| a.department.cmp(&b.department));

    let (queued, _) = app.deliveries.read(|d| {
        d.facet("queued")
            .into_iter()
            .flatten()
            .filter_map(|key| d.by_key.get(key).and_then(|id| d.deliveries.get(id)))
            .filter(
                |row| match (&row.state.provider_org_id, &row.state.started) {
                    (Some(provider), _) => *provider == org,
                    (None, Some(started)) => started.seller_org_id == org,
                    (None, None) => false,
                },
            )
            .count() as u64
    });
    let (reviews, _) = app.orders.read(|s| {
        let unhandled_bad = s
            .reviews_by_seller
            .after(&org, None)
            .filter_map(|rid| s.review_orders.get(rid))
            .filter_map(|oid| s.by_id.get(oid))
            .filter(|row| {
                row.state
                    .placed
                    .as_ref()
                    .is_some_and(|p| p.seller_org_id == org)
                    && row.state.review.as_ref().is_some_and(|r| r.bad_unhandled())
            })
            .count() as u64;
        ReviewsView {
            unhandled_bad,
            score: s.shop_scores.get(&org).and_then(|sc| sc.mean()),
        }
    });
    let [today, yesterday, this_month, last_month] = delivered;
    let view = WorkbenchView {
        tasks_due_today: tasks.due,
        tasks_done_today: tasks.done,
        completion_rate: permille(tasks.due_done, tasks.due),
        done_early: tasks.early,
        overdue: tasks.overdue,
        delivered: DeliveredView {
            today,
            yesterday,
            this_month,
            last_month,
        },
        queued,
        capacity,
        rejected: RejectedView {
            projects: rejected.0,
            of: rejected.1,
            rate: permille(rejected.0, rejected.1),
        },
        by_department,
        reviews,
    };
    Ok(respond::read(&view, None, position))
}
