//! The people of the demo: three seller orgs (each also a provider) with their isv_admins,
//! staff in two departments with roles and capacities (one of them on leave for a few days),
//! a few hundred customers (some real-name verified), an analyst and an auditor, and the
//! holiday calendar of every year the run touches.

use chrono::{Datelike, NaiveDate, Weekday};
use futures::{StreamExt, TryStreamExt};
use rand::Rng;
use serde_json::{json, Value};

use super::{client::Client, years, DemoError, World, CONCURRENT_REQUESTS_MAX};

/// The seller orgs, by index: 0 delivers for 2 (with 1), which sells a product it does not
/// deliver itself.
pub const ORG_NAMES: [&str; 3] = ["Acme Cloud", "Bright Services", "Cirrus Data"];
/// Each org's staff: name, roles, department, max_active.
const STAFF: [(&str, &[&str], &str, u32); 4] = [
    ("Li", &["delivery_specialist"], "delivery", 20),
    ("Wang", &["delivery_specialist", "tester"], "delivery", 15),
    (
        "Zhao",
        &["delivery_specialist", "designer"],
        "consulting",
        10,
    ),
    ("Chen", &["customer_manager"], "consulting", 5),
];
/// Fewest and most customers; in between, one per this many orders.
const CUSTOMERS_MIN: u32 = 40;
const CUSTOMERS_MAX: u32 = 400;
const ORDERS_PER_CUSTOMER: u32 = 10;
/// Share of customers who are real-name verified, in per-mille.
const REAL_NAME_PERMILLE: u32 = 350;

#[derive(Debug, Default)]
pub struct Actors {
    pub orgs: Vec<Org>,
    pub staff: Vec<Staff>,
    pub customers: Vec<Customer>,
    pub analyst: String,
    pub auditor: String,
}

#[derive(Debug)]
pub struct Org {
    pub id: String,
    pub name: &'static str,
    /// The isv_admin's token.
    pub admin: String,
}

#[derive(Debug)]
pub struct Staff {
    pub id: String,
    pub token: String,
}

#[derive(Debug)]
pub struct Customer {
    pub id: String,
    pub token: String,
}

impl Actors {
    /// The token of staff member `staff_id`.
    pub fn staff_token(&self, staff_id: &str) -> Option<&str> {
        self.staff
            .iter()
            .find(|s| s.id == staff_id)
            .map(|s| s.token.as_str())
    }

    /// The isv_admin token of org `org_id`.
    pub fn admin_of(&self, org_id: &str) -> Option<&str> {
        self.orgs
            .iter()
            .find(|o| o.id == org_id)
            .map(|o| o.admin.as_str())
    }
}

impl World {
    pub(super) async fn setup_actors(&mut self, first_day: NaiveDate) -> Result<(), DemoError> {
        let days = self.opts.weeks * 7;
        for year in years(first_day, days) {
            self.client
                .put(
                    &format!("/v1/calendar/{year}"),
                    &self.platform,
                    &calendar(year),
                )
                .await?;
        }
        for name in ORG_NAMES {
            let org = self
                .client
                .post("/v1/orgs", &self.platform, &json!({ "name": name }))
                .await?;
            let id = text(&org, "id")?;
            let admin = self
                .principal(
                    json!({"role": "isv_admin", "name": format!("{name} admin"), "org_id": id}),
                )
                .await?;
            self.actors.orgs.push(Org { id, name, admin });
        }
        for org in 0..self.actors.orgs.len() {
            for (name, roles, department, max_active) in STAFF {
                let answer = self
                    .client
                    .post(
                        &format!("/v1/orgs/{}/staff", self.actors.orgs[org].id),
                        &self.actors.orgs[org].admin,
                        &json!({"name": format!("{name} ({})", self.actors.orgs[org].name),
                            "roles": roles, "department": department,
                            "tags": [department], "max_active": max_active}),
                    )
                    .await?;
                self.actors.staff.push(Staff {
                    id: text(&answer, "id")?,
                    token: text(&answer, "token")?,
                });
            }
        }
        // The customer manager of the first org takes a few days off in the first week.
        let on_leave = &self.actors.staff[STAFF.len() - 1];
        let from = self.now.plus_days(2);
        let to = self.now.plus_days(5);
        self.client
            .post(
                &format!("/v1/staff/{}/leave", on_leave.id),
                &self.actors.orgs[0].admin,
                &json!({"from": self.time(from), "to": self.time(to)}),
            )
            .await?;
        self.actors.analyst = self
            .principal(json!({"role": "analyst", "name": "Dana Analyst"}))
            .await?;
        self.actors.auditor = self
            .principal(json!({"role": "auditor", "name": "Audrey Auditor"}))
            .await?;
        let count = (self.opts.orders / ORDERS_PER_CUSTOMER).clamp(CUSTOMERS_MIN, CUSTOMERS_MAX);
        let bodies: Vec<Value> = (0..count)
            .map(|i| {
                let verified = self.rng.random_range(0..1000) < REAL_NAME_PERMILLE;
                json!({"role": "customer", "name": format!("Customer {:03}", i + 1),
                    "real_name_verified": verified})
            })
            .collect();
        let platform = self.platform.clone();
        let created: Vec<Value> = futures::stream::iter(bodies)
            .map(|body| {
                let c: Client = self.client.clone();
                let platform = platform.clone();
                async move { c.post("/v1/principals", &platform, &body).await }
            })
            .buffered(CONCURRENT_REQUESTS_MAX)
            .try_collect()
            .await?;
        for answer in created {
            self.actors.customers.push(Customer {
                id: text(&answer, "id")?,
                token: text(&answer, "token")?,
            });
        }
        Ok(())
    }

    /// A new principal as the platform admin: its token.
    async fn principal(&self, body: Value) -> Result<String, DemoError> {
        let answer = self
            .client
            .post("/v1/principals", &self.platform, &body)
            .await?;
        text(&answer, "token")
    }
}

/// The holidays of `year` (New Year, Labour Day, National Day) and a make-up working day
/// on the first weekend day after National Day.
fn calendar(year: i32) -> Value {
    let day = |m, d| NaiveDate::from_ymd_opt(year, m, d);
    let holidays: Vec<String> = [(1, 1), (5, 1), (5, 2), (5, 3)]
        .into_iter()
        .chain((1..=7).map(|d| (10, d)))
        .filter_map(|(m, d)| day(m, d))
        .map(|d| d.to_string())
        .collect();
    let workdays: Vec<String> = (8..=14)
        .filter_map(|d| day(10, d))
        .find(|d| matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .map(|d| d.to_string())
        .into_iter()
        .collect();
    json!({ "holidays": holidays, "workdays": workdays })
}

/// The string field `field` of an answer.
pub fn text(answer: &Value, field: &str) -> Result<String, DemoError> {
    answer[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| DemoError::Client(format!("the answer has no `{field}`: {answer}")))
}
