//! API.md §8 trade statistics (SPEC.md §10):
//! - `GET /v1/dashboard/trade?org_id=&from=&to=&granularity=` — one seller's figures over
//!   the business days `from..=to` (dates in the server's zone), read from the trade model,
//!   whose 15-minute UTC slots are cut into days, ISO weeks or months here;
//! - `POST /v1/analytics/page-views` — a batch of product page views, recorded by the
//!   `RecordPageViews` decision in a stream of its own.
//!
//! Definitions the schema documents: the trade amount is paid − refunded in the range;
//! cash and voucher income are the cash (voucher) part of payments minus the cash (voucher)
//! part of refunds in the range, so they sum to the trade amount; a conversion is null when
//! its divisor is 0; a change's `delta_permille` is null when the previous value is 0 or null.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, NaiveDate, TimeDelta};
use domain::ids::{is_valid_id, IdKind};
use domain::money::round_half_up_div;
use domain::pageview::{PageView, PageViews, RecordPageViews};
use domain::{Timestamp, WorkCalendar};
use projections::trade::{slot_of, RangeFigures, TradeState, ORDER_TYPES};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders, MinPosition};
use crate::respond;
use crate::routes::{Doc, Routes};
use crate::state::App;

/// Longest range of one dashboard query, in days (a leap year).
pub const TRADE_RANGE_DAYS_MAX: i64 = 366;
/// Products in each top list.
pub const TOP_PRODUCTS: usize = 3;

/// One change against the previous period.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Change {
    /// The figure over the previous period of equal length right before `from`.
    pub previous: Option<i64>,
    /// (current − previous) × 1000 / |previous|, rounded half-up; null when previous is 0
    /// or null.
    pub delta_permille: Option<i64>,
}

fn change(current: Option<i64>, previous: Option<i64>) -> Change {
    let delta_permille = match (current, previous) {
        (Some(c), Some(p)) if p != 0 => Some(round_half_up_div(
            (i128::from(c) - i128::from(p)) * 1000,
            i128::from(p).abs(),
        )),
        _ => None,
    };
    Change {
        previous,
        delta_permille,
    }
}

/// The value of a figure for [`change`].
trait Figure {
    fn value(&self) -> Option<i64>;
}
impl Figure for i64 {
    fn value(&self) -> Option<i64> {
        Some(*self)
    }
}
impl Figure for u64 {
    fn value(&self) -> Option<i64> {
        i64::try_from(*self).ok()
    }
}
impl Figure for Option<i64> {
    fn value(&self) -> Option<i64> {
        *self
    }
}

/// The totals, each series point (with its period) and the change block share one list of
/// figures, written once here.
macro_rules! figures {
    ($($(#[doc = $doc:literal])* $field:ident: $ty:ty,)*) => {
        /// The figures of a range (API.md §8 `totals`).
        #[derive(Debug, Clone, Serialize, ToSchema)]
        pub struct TradeTotals {
            $($(#[doc = $doc])* pub $field: $ty,)*
        }

        /// The figures of one period of the series.
        #[derive(Debug, Clone, Serialize, ToSchema)]
        pub struct TradePeriod {
            /// `2026-12-01` (day), `2026-W49` (ISO week, Monday first), `2026-12` (month);
            /// a period cut by the range counts only its days inside the range.
            pub period: String,
            $($(#[doc = $doc])* pub $field: $ty,)*
        }

        /// Each figure against the previous period of equal length right before `from`.
        #[derive(Debug, Clone, Serialize, ToSchema)]
        pub struct TradeChange {
            $(pub $field: Change,)*
        }

        impl TradeTotals {
            fn period(self, period: String) -> TradePeriod {
                TradePeriod { period, $($field: self.$field,)* }
            }

            fn change(&self, previous: &TradeTotals) -> TradeChange {
                TradeChange { $($field: change(self.$field.value(), previous.$field.value()),)* }
            }
        }
    };
}

figures! {
    /// Payable of the orders created in the range (as it stands now, after price changes;
    /// voided orders included).
    order_amount_cents: i64,
    /// Payments made in the range (cash + voucher).
    paid_amount_cents: i64,
    /// paid − refunded, both in the range.
    trade_amount_cents: i64,
    /// Refunds requested in the range (customer, seller and system refunds).
    refund_requested_cents: i64,
    /// Refunds approved in the range.
    refunded_cents: i64,
    /// Cash paid − cash refunded in the range.
    cash_income_cents: i64,
    /// Voucher paid − voucher refunded in the range.
    voucher_income_cents: i64,
    /// Distinct customers who placed an order in the range.
    ordering_customers: u64,
    /// Distinct customers who paid in the range.
    paying_customers: u64,
    /// paid / paying customers, rounded half-up; 0 when nobody paid.
    avg_paid_per_customer_cents: i64,
    /// Distinct visitor ids of the seller's product pages (UV).
    visitors: u64,
    /// Page views (PV).
    views: u64,
    /// ordering customers × 1000 / visitors, rounded half-up; null without visitors.
    order_conversion_permille: Option<i64>,
    /// paying customers × 1000 / visitors; null without visitors.
    pay_conversion_permille: Option<i64>,
    /// paying customers × 1000 / ordering customers; null without ordering customers.
    order_to_pay_permille: Option<i64>,
}

fn permille(part: u64, whole: u64) -> Option<i64> {
    (whole > 0).then(|| round_half_up_div(i128::from(part) * 1000, i128::from(whole)))
}

fn totals(f: &RangeFigures) -> TradeTotals {
    let s = &f.sums;
    TradeTotals {
        order_amount_cents: s.order_amount,
        paid_amount_cents: s.paid,
        trade_amount_cents: s.paid - s.refunded,
        refund_requested_cents: s.refund_requested,
        refunded_cents: s.refunded,
        cash_income_cents: s.paid_cash - s.refunded_cash,
        voucher_income_cents: s.paid_voucher - s.refunded_voucher,
        ordering_customers: f.ordering_customers,
        paying_customers: f.paying_customers,
        avg_paid_per_customer_cents: round_half_up_div(
            i128::from(s.paid),
            i128::from(f.paying_customers),
        ),
        visitors: f.visitors,
        views: s.views,
        order_conversion_permille: permille(f.ordering_customers, f.visitors),
        pay_conversion_permille: permille(f.paying_customers, f.visitors),
        order_to_pay_permille: permille(f.paying_customers, f.ordering_customers),
    }
}

/// Orders of one type created in the range.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct TypeShare {
    pub count: u64,
    /// count × 1000 / all orders of the range, rounded half-up; 0 when there are none.
    pub share_permille: i64,
}

/// Orders created in the range by order type.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ByType {
    pub new: TypeShare,
    pub renewal: TypeShare,
    pub trial: TypeShare,
    pub conversion: TypeShare,
    pub upgrade: TypeShare,
}

fn by_type(orders: [u64; 5]) -> ByType {
    let all: u64 = orders.iter().sum();
    let share = |i: usize| TypeShare {
        count: orders[i],
        share_permille: permille(orders[i], all).unwrap_or(0),
    };
    debug_assert_eq!(ORDER_TYPES.len(), 5);
    ByType {
        new: share(0),
        renewal: share(1),
        trial: share(2),
        conversion: share(3),
        upgrade: share(4),
    }
}

/// A product by orders created in the range.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopProduct {
    pub product_id: String,
    pub name: String,
    pub orders: u64,
}

/// A product by distinct visitors of its page in the range.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopProductByVisitors {
    pub product_id: String,
    pub name: String,
    pub visitors: u64,
}

/// SPEC.md §10 trade statistics of one seller org.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TradeDashboard {
    pub org_id: String,
    /// First business day of the range (server's zone).
    #[schema(format = Date)]
    pub from: String,
    /// Last business day of the range, included.
    #[schema(format = Date)]
    pub to: String,
    #[schema(schema_with = granularity_schema)]
    pub granularity: String,
    pub totals: TradeTotals,
    pub by_type: ByType,
    /// The 3 products with the most orders created in the range (ties by product id).
    pub top_products: Vec<TopProduct>,
    /// The 3 products with the most distinct visitors in the range (ties by product id).
    pub top_products_by_visitors: Vec<TopProductByVisitors>,
    /// One point per day, ISO week or month of the range, in order.
    pub series: Vec<TradePeriod>,
    pub change: TradeChange,
}

const GRANULARITIES: &[&str] = &["day", "week", "month"];

fn granularity_schema() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(GRANULARITIES)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradeQuery {
    pub org_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub granularity: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageViewInput {
    pub product_id: String,
    /// The client's visitor id, 1..=128 characters.
    #[schema(min_length = 1, max_length = 128)]
    pub visitor_id: String,
    /// When the page was viewed; at most 5 minutes after the server's now.
    #[schema(format = DateTime)]
    pub at: String,
    #[schema(minimum = 0, maximum = 86400000)]
    pub dwell_ms: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageViewsInput {
    #[schema(min_items = 1, max_items = 500)]
    pub views: Vec<PageViewInput>,
}

/// A recorded batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageViewsRecordedView {
    /// The batch (`pgv_…`).
    pub id: String,
    /// Views recorded.
    pub recorded: u32,
    pub version: u64,
    pub position: u64,
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{get, post};
    r.add(
        "GET",
        "/v1/dashboard/trade",
        get(dashboard),
        Doc::new(
            "trade statistics of one seller org over the business days from..=to (server's \
             zone, at most 366 days) by day, ISO week or month, with the change against the \
             previous period of equal length; trade amount = paid − refunded in the range",
            "isv_admin (own org: org_id defaults to it, another org is 404), analyst, \
             platform, auditor",
        )
        .query("org_id", "the seller org (required but for an isv_admin)")
        .query("from", "first day, YYYY-MM-DD")
        .query("to", "last day (included), YYYY-MM-DD")
        .query("granularity", "day (default) | week | month")
        .answers::<TradeDashboard>(200),
    )
    .add(
        "POST",
        "/v1/analytics/page-views",
        post(record_page_views),
        Doc::new(
            "record a batch of 1..=500 product page views; every product must exist (422 \
             `views[i].product_id` rule `unknown`, nothing recorded)",
            "platform, analyst",
        )
        .body::<PageViewsInput>()
        .answers::<PageViewsRecordedView>(201),
    )
}

fn date(field: &str, text: Option<&str>) -> Result<NaiveDate, ApiError> {
    let text = text.ok_or_else(|| {
        ApiError::bad_request(format!("{field} is required (YYYY-MM-DD)")).with("field", field)
    })?;
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ApiError::bad_request(format!("{field} must be a date, YYYY-MM-DD")).with("field", field)
    })
}

/// The periods of `from..=to`: (label, first day, last day), each cut to the range.
fn periods(
    from: NaiveDate,
    to: NaiveDate,
    granularity: &str,
) -> Vec<(String, NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut day = from;
    while day <= to {
        let (label, last) = match granularity {
            "week" => {
                let w = day.iso_week();
                let sunday =
                    day + TimeDelta::days(6 - i64::from(day.weekday().num_days_from_monday()));
                (format!("{}-W{:02}", w.year(), w.week()), sunday)
            }
            "month" => {
                let next = if day.month() == 12 {
                    NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(day.year(), day.month() + 1, 1)
                };
                let last = next.and_then(|n| n.pred_opt()).unwrap_or(to);
                (format!("{}-{:02}", day.year(), day.month()), last)
            }
            _ => (day.format("%Y-%m-%d").to_string(), day),
        };
        let last = last.min(to);
        out.push((label, day, last));
        match last.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    out
}

/// The slots of the business days `from..=to` in `calendar`'s zone.
fn slots(calendar: &WorkCalendar, from: NaiveDate, to: NaiveDate) -> (u32, u32) {
    let start = slot_of(calendar.day_start(from));
    let end = match to.succ_opt() {
        Some(next) => slot_of(calendar.day_start(next)),
        None => slot_of(Timestamp::from_micros(i64::MAX)),
    };
    (start, end)
}

fn names(app: &App, ranked: Vec<(String, u64)>) -> Vec<(String, String, u64)> {
    let (named, _) = app.products.read(|p| {
        ranked
            .into_iter()
            .map(|(id, n)| {
                let name = p
                    .by_id
                    .get(&id)
                    .and_then(|row| row.state.created.as_ref())
                    .map(|c| c.name.clone())
                    .unwrap_or_default();
                (id, name, n)
            })
            .collect()
    });
    named
}

async fn dashboard(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<TradeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    access::TRADE_DASHBOARD.check(&caller)?;
    let q = crate::extract::query(q)?;
    // Tenancy first (API.md §1: 404 before 400/422).
    let org = access::query_org(&caller, &access::TRADE_DASHBOARD, q.org_id)?;
    app.wait_for(&app.directory, min).await?;
    let (known, _) = app.directory.read(|d| d.orgs.contains_key(&org));
    if !is_valid_id(IdKind::Org, &org) || !known {
        return Err(ApiError::not_found("org"));
    }
    let from = date("from", q.from.as_deref())?;
    let to = date("to", q.to.as_deref())?;
    let granularity = q.granularity.unwrap_or_else(|| "day".to_owned());
    if !GRANULARITIES.contains(&granularity.as_str()) {
        return Err(ApiError::validation(
            "granularity",
            "one_of",
            "granularity must be day, week or month",
        ));
    }
    if from > to {
        return Err(ApiError::validation(
            "from",
            "not_after_to",
            "from must not be after to",
        ));
    }
    let days = (to - from).num_days() + 1;
    if days > TRADE_RANGE_DAYS_MAX {
        return Err(ApiError::validation(
            "to",
            "max_range",
            format!("a range holds at most {TRADE_RANGE_DAYS_MAX} days"),
        ));
    }
    app.wait_for(&app.trade, min).await?;
    app.wait_for(&app.products, min).await?;
    let calendar = WorkCalendar::new(app.tz);
    let (range, previous) = {
        let prev_to = from.pred_opt().unwrap_or(from);
        let prev_from = from
            .checked_sub_signed(TimeDelta::days(days))
            .unwrap_or(from);
        (
            slots(&calendar, from, to),
            slots(&calendar, prev_from, prev_to),
        )
    };
    let periods = periods(from, to, &granularity);
    let read = |t: &TradeState| {
        let now = t.range(&org, range.0, range.1);
        let before = t.range(&org, previous.0, previous.1);
        let series: Vec<(String, RangeFigures)> = periods
            .iter()
            .map(|(label, first, last)| {
                let (a, b) = slots(&calendar, *first, *last);
                (label.clone(), t.range(&org, a, b))
            })
            .collect();
        (
            now,
            before,
            series,
            t.top_products(&org, range.0, range.1, TOP_PRODUCTS),
            t.top_products_by_visitors(&org, range.0, range.1, TOP_PRODUCTS),
        )
    };
    let ((now, before, series, top, top_visited), position) = app.trade.read(read);
    let current = totals(&now);
    let change = current.change(&totals(&before));
    let view = TradeDashboard {
        org_id: org,
        from: from.format("%Y-%m-%d").to_string(),
        to: to.format("%Y-%m-%d").to_string(),
        granularity,
        by_type: by_type(now.sums.orders),
        top_products: names(&app, top)
            .into_iter()
            .map(|(product_id, name, orders)| TopProduct {
                product_id,
                name,
                orders,
            })
            .collect(),
        top_products_by_visitors: names(&app, top_visited)
            .into_iter()
            .map(|(product_id, name, visitors)| TopProductByVisitors {
                product_id,
                name,
                visitors,
            })
            .collect(),
        series: series
            .into_iter()
            .map(|(label, f)| totals(&f).period(label))
            .collect(),
        totals: current,
        change,
    };
    Ok(respond::read(&view, None, position))
}

async fn record_page_views(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    body: Body,
) -> Result<Response, ApiError> {
    access::RECORD_PAGE_VIEWS.check(&caller)?;
    let input: PageViewsInput = body.json()?;
    let mut views = Vec::with_capacity(input.views.len());
    for (i, v) in input.views.into_iter().enumerate() {
        let field = format!("views[{i}].at");
        let at = Timestamp::parse_rfc3339(&v.at).map_err(|_| {
            ApiError::bad_request(format!("{field} must be an RFC 3339 time with offset"))
                .with("field", field.as_str())
        })?;
        views.push(PageView {
            product_id: v.product_id,
            visitor_id: v.visitor_id,
            at,
            dwell_ms: v.dwell_ms,
        });
    }
    let decision = RecordPageViews {
        batch_id: app.ids.new_id(IdKind::PageViews),
        views,
    };
    let meta = app.command_meta(&caller, &headers, &body, "RecordPageViews")?;
    let done = app.runner.decide::<PageViews>(&meta, &decision).await?;
    let view = PageViewsRecordedView {
        id: done.state.batch_id.clone().unwrap_or_default(),
        recorded: done.state.recorded,
        version: done.version,
        position: done.position,
    };
    Ok(respond::command(StatusCode::CREATED, &view, done.version))
}
