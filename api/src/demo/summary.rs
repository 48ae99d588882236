//! What the demo prints at the end: what it seeded, the tokens to log in with (platform, a
//! seller admin, a staff member, a customer, the analyst, the auditor), the org ids, and a
//! few commands to try against `marketlog serve` on the same data dir.

use std::collections::BTreeMap;
use std::fmt;

use super::{DemoError, World};

/// The outcome of a run.
#[derive(Debug)]
pub struct Summary {
    pub data_dir: String,
    pub log_position: u64,
    pub simulated_now: String,
    pub from: String,
    pub to: String,
    pub platform: String,
    pub isv_admin: String,
    pub staff: String,
    pub customer: String,
    pub analyst: String,
    pub auditor: String,
    pub orgs: Vec<(String, String)>,
    pub order: String,
    pub delivery: String,
    pub orders: usize,
    pub done: BTreeMap<&'static str, u32>,
    pub refused: BTreeMap<String, u32>,
    pub deliveries: BTreeMap<String, u32>,
    /// Page views recorded.
    pub page_views: u64,
}

impl World {
    /// The last look at every project, so the summary shows where each ended.
    pub(super) async fn finale(&mut self) -> Result<(), DemoError> {
        self.client.settle().await?;
        let open: Vec<usize> = (0..self.deliveries.tracked.len()).collect();
        let views = self.read_deliveries(&open).await?;
        for (t, view) in open.into_iter().zip(views) {
            if let Some(status) = view.as_ref().and_then(|v| v["status"].as_str()) {
                self.deliveries.tracked[t].status = status.to_owned();
            }
        }
        Ok(())
    }

    pub(super) fn summary(&self) -> Summary {
        let days = u64::from(self.opts.weeks) * super::DAYS_PER_WEEK;
        let to = self.today();
        let from = to - chrono::Days::new(days - 1);
        // A paid order of a manual product whose project completed: the richest history.
        let delivered = self
            .deliveries
            .tracked
            .iter()
            .find(|t| t.status == "completed")
            .or_else(|| self.deliveries.tracked.first());
        let order = delivered
            .map(|t| self.trade.orders[t.order].id.clone())
            .or_else(|| self.trade.orders.first().map(|o| o.id.clone()))
            .unwrap_or_default();
        let customer = delivered
            .map(|t| self.trade.orders[t.order].customer)
            .unwrap_or(0);
        Summary {
            data_dir: self.opts.data_dir.display().to_string(),
            log_position: self.client.head(),
            simulated_now: self.time(self.now),
            from: from.to_string(),
            to: to.to_string(),
            platform: self.platform.clone(),
            isv_admin: self
                .actors
                .orgs
                .first()
                .map(|o| o.admin.clone())
                .unwrap_or_default(),
            staff: self
                .actors
                .staff
                .first()
                .map(|s| s.token.clone())
                .unwrap_or_default(),
            customer: self
                .actors
                .customers
                .get(customer)
                .map(|c| c.token.clone())
                .unwrap_or_default(),
            analyst: self.actors.analyst.clone(),
            auditor: self.actors.auditor.clone(),
            orgs: self
                .actors
                .orgs
                .iter()
                .map(|o| (o.name.to_owned(), o.id.clone()))
                .collect(),
            order,
            delivery: delivered.and_then(|t| t.id.clone()).unwrap_or_default(),
            orders: self.trade.orders.len(),
            done: self.trade.done.clone(),
            refused: self.trade.refused.clone(),
            deliveries: self.delivery_states(),
            page_views: self.views.recorded,
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seeded {} with {} events: {} orders from {} to {} (simulated clock now {})",
            self.data_dir, self.log_position, self.orders, self.from, self.to, self.simulated_now
        )?;
        let done: Vec<String> = self.done.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(f, "  {}", done.join(", "))?;
        let deliveries: Vec<String> = self
            .deliveries
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(f, "  deliveries: {}", deliveries.join(", "))?;
        writeln!(f, "  page views: {}", self.page_views)?;
        if !self.refused.is_empty() {
            let refused: Vec<String> = self
                .refused
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(
                f,
                "  refused by the rules (as a client would see): {}",
                refused.join(", ")
            )?;
        }
        writeln!(f)?;
        writeln!(f, "tokens (shown once; only their hashes are stored):")?;
        writeln!(f, "  platform   {}", self.platform)?;
        writeln!(
            f,
            "  isv_admin  {}   ({})",
            self.isv_admin,
            self.orgs.first().map(|o| o.0.as_str()).unwrap_or("")
        )?;
        writeln!(f, "  isv_staff  {}", self.staff)?;
        writeln!(f, "  customer   {}", self.customer)?;
        writeln!(f, "  analyst    {}", self.analyst)?;
        writeln!(f, "  auditor    {}", self.auditor)?;
        writeln!(f, "orgs:")?;
        for (name, id) in &self.orgs {
            writeln!(f, "  {id}  {name}")?;
        }
        let org = self.orgs.first().map(|o| o.1.as_str()).unwrap_or("");
        let url = "http://127.0.0.1:8080";
        writeln!(f)?;
        writeln!(f, "try it (the clock resumes after the demo's last event):")?;
        writeln!(
            f,
            "  marketlog serve --data {} --simulated-clock",
            self.data_dir
        )?;
        writeln!(f, "  P='Authorization: Bearer {}'", self.platform)?;
        writeln!(f, "  curl -s '{url}/v1/orders?limit=5' -H \"$P\"")?;
        writeln!(
            f,
            "  curl -s '{url}/v1/orders/{}/history' -H \"$P\"",
            self.order
        )?;
        writeln!(
            f,
            "  curl -s '{url}/v1/deliveries/{}' -H \"$P\"",
            self.delivery
        )?;
        writeln!(
            f,
            "  curl -s '{url}/v1/deliveries/{}/log' -H \"$P\"",
            self.delivery
        )?;
        writeln!(
            f,
            "  curl -s '{url}/v1/dashboard/trade?org_id={org}&from={}&to={}&granularity=week' -H 'Authorization: Bearer {}'",
            self.from, self.to, self.analyst
        )?;
        writeln!(
            f,
            "  curl -s '{url}/v1/dashboard/workbench?org_id={org}' -H 'Authorization: Bearer {}'",
            self.isv_admin
        )?;
        writeln!(
            f,
            "  replay-tool --data {} history {}",
            self.data_dir, self.order
        )?;
        writeln!(
            f,
            "  replay-tool --url {url} --token {} verify",
            self.auditor
        )
    }
}
