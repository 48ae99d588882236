//! Product page views through `POST /v1/analytics/page-views` (batches of at most
//! [`PAGE_VIEWS_BATCH_MAX`], as the analyst): each step, the customers who ordered viewed
//! what they bought, and more visitors — customers and anonymous ones — browsed without
//! buying. The demo drives its own in-process router, so the route is always there.

use rand::Rng;
use serde_json::{json, Value};

use super::{DemoError, World};

/// The route (API.md §8).
pub const PAGE_VIEWS_PATH: &str = "/v1/analytics/page-views";
/// Most views in one request (API.md §8).
pub const PAGE_VIEWS_BATCH_MAX: usize = 500;
/// Views of visitors who do not order, per step, at most.
const BROWSING_VIEWS_MAX: u32 = 60;
/// Anonymous visitors are drawn from this many.
const ANONYMOUS_VISITORS: u32 = 5_000;
/// A view happened up to this long before the step's time.
const VIEW_AGE_SECONDS_MAX: i64 = 3 * 3600;

#[derive(Debug, Default)]
pub struct Views {
    /// (product, visitor id) of this step's orders, to view before they order.
    pub pending: Vec<(usize, String)>,
    /// Views the server recorded (its answers' `recorded`).
    pub recorded: u64,
}

impl World {
    /// Notes that `customer` viewed `product` (they are about to order it).
    pub(super) fn viewed(&mut self, product: usize, customer: usize) {
        let visitor = self.actors.customers[customer].id.clone();
        self.views.pending.push((product, visitor));
    }

    pub(super) async fn page_views_step(&mut self) -> Result<(), DemoError> {
        let mut views: Vec<(usize, String)> = std::mem::take(&mut self.views.pending);
        for _ in 0..self.rng.random_range(0..=BROWSING_VIEWS_MAX) {
            let product = self.catalogue.pick(&mut self.rng);
            let visitor = if self.rng.random_range(0..10) < 4 {
                let c = self.rng.random_range(0..self.actors.customers.len());
                self.actors.customers[c].id.clone()
            } else {
                format!("anon-{:04}", self.rng.random_range(0..ANONYMOUS_VISITORS))
            };
            views.push((product, visitor));
        }
        let rows: Vec<Value> = views
            .into_iter()
            .map(|(product, visitor)| {
                let age = self.rng.random_range(0..VIEW_AGE_SECONDS_MAX);
                json!({"product_id": self.catalogue.products[product].id, "visitor_id": visitor,
                    "at": self.time(self.now.plus_seconds(-age)),
                    "dwell_ms": self.rng.random_range(2_000..180_000)})
            })
            .collect();
        for batch in rows.chunks(PAGE_VIEWS_BATCH_MAX) {
            let answer = self
                .client
                .post(
                    PAGE_VIEWS_PATH,
                    &self.actors.analyst,
                    &json!({ "views": batch }),
                )
                .await?;
            // The answer is `{id, recorded, version, position}` (201).
            let recorded = answer["recorded"].as_u64().ok_or_else(|| {
                DemoError::Client(format!(
                    "{PAGE_VIEWS_PATH} answered without `recorded`: {answer}"
                ))
            })?;
            self.views.recorded += recorded;
        }
        Ok(())
    }
}
