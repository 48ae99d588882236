//! Product page views through `POST /v1/analytics/page-views` (batches of at most
//! [`PAGE_VIEWS_BATCH_MAX`], as the analyst): each step, the customers who ordered viewed
//! what they bought, and more visitors — customers and anonymous ones — browsed without
//! buying. The step runs only when the server has the route (its OpenAPI document names it);
//! otherwise the run says "skipped: route missing".

use rand::Rng;
use serde_json::{json, Value};

use super::{DemoError, World};

/// The route, as the OpenAPI document names it.
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
    /// The route exists.
    pub enabled: bool,
    /// (product, visitor id) of this step's orders, to view before they order.
    pub pending: Vec<(usize, String)>,
    pub sent: u64,
}

impl World {
    /// Whether the server takes page views.
    pub(super) async fn analytics_check(&mut self) -> Result<(), DemoError> {
        let doc = self.client.get("/v1/openapi.json", &self.platform).await?;
        self.views.enabled = doc["paths"].get(PAGE_VIEWS_PATH).is_some();
        Ok(())
    }

    /// Notes that `customer` viewed `product` (they are about to order it).
    pub(super) fn viewed(&mut self, product: usize, customer: usize) {
        if self.views.enabled {
            let visitor = self.actors.customers[customer].id.clone();
            self.views.pending.push((product, visitor));
        }
    }

    pub(super) async fn page_views_step(&mut self) -> Result<(), DemoError> {
        if !self.views.enabled {
            return Ok(());
        }
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
            self.client
                .post(
                    PAGE_VIEWS_PATH,
                    &self.actors.analyst,
                    &json!({ "views": batch }),
                )
                .await?;
            self.views.sent += batch.len() as u64;
        }
        Ok(())
    }
}
