//! What the runner gives every decision: one context whose working-day calendar is the
//! marketplace's (the directory's calendar years, in the server's zone).

mod common;

use axum::http::StatusCode;
use chrono::NaiveDate;
use common::{Api, ADMIN};
use domain::Actor;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_carries_the_calendar_set_through_the_api() {
    let api = Api::new().await;
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let before = api.app.runner.context(&Actor::System);
    assert!(before.calendar.is_working_day(date("2026-10-01")));
    assert!(!before.calendar.is_working_day(date("2026-10-10")));

    api.call("PUT", "/v1/calendar/2026")
        .token(ADMIN)
        .json(&json!({"holidays": ["2026-10-01"], "workdays": ["2026-10-10"]}))
        .send()
        .await
        .expect(StatusCode::OK);
    api.app.wait_all(api.head().await).await.unwrap();

    let ctx = api.app.runner.context(&Actor::System);
    assert_eq!(ctx.calendar.tz, chrono_tz::Asia::Shanghai);
    assert_eq!(ctx.tz, ctx.calendar.tz);
    // A holiday on a Thursday, a make-up working day on a Saturday.
    assert!(!ctx.calendar.is_working_day(date("2026-10-01")));
    assert!(ctx.calendar.is_working_day(date("2026-10-10")));
    // Unchanged years keep the same calendar, not a rebuilt copy.
    let again = api.app.runner.context(&Actor::System);
    assert!(std::sync::Arc::ptr_eq(&ctx.calendar, &again.calendar));
}
