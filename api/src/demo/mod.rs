//! `marketlog demo`: seeds a demo marketplace through the normal command path. An in-process
//! [`App`] on the data dir with a simulated clock; every write is an HTTP request through the
//! server's router ([`client`]), so validation, access, idempotency and policies are the
//! server's own. The clock starts `weeks` before the real now and is advanced step by step
//! through `POST /v1/admin/clock/advance`, so deadlines fire (payment timeouts, refund
//! auto-approvals, review defaults, delivery timers) and the run ends before the real now: a
//! later `marketlog serve` on the dir, real or simulated clock, continues after it.
//!
//! By concern: [`actors`] (orgs, admins, staff, customers, analyst, auditor, calendar),
//! [`catalogue`] (products of every delivery kind, a private template, promotions, coupon
//! campaigns), [`trading`] (orders of every type, payments, price changes, cancellations,
//! refunds, invoices, reviews), [`delivery`] (projects walked to every state), [`analytics`]
//! (page views) and [`summary`] (what the run prints).
//!
//! Invariant: deterministic for a seed. Every choice is drawn from one seeded `StdRng` in
//! a fixed order, commands whose effects could interact run one after the other, and the
//! policies settle after every phase; so a seed gives the same number of events per type
//! (ids and tokens are random, as on any server).

mod actors;
mod analytics;
mod catalogue;
pub mod client;
mod delivery;
mod summary;
mod trading;

use std::io::IsTerminal;
use std::path::PathBuf;

use chrono::{Datelike, NaiveDate, TimeZone};
use domain::{Clock, Timestamp};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;

use crate::state::{App, AppConfig};
use client::Client;

pub use summary::Summary;

/// The marketplace's working hours: the clock stops at each of these local hours of a day,
/// and every step does a slice of the day's business.
pub const STEP_HOURS: [u32; 5] = [9, 11, 14, 16, 20];
/// Share of a day's orders placed at each step, in per-mille (the daily rhythm: late
/// morning and evening peaks).
pub const STEP_SHARE_PERMILLE: [u32; 5] = [150, 250, 200, 150, 250];
/// Local hour of the setup (orgs, staff, catalogue) on the first day.
pub const SETUP_HOUR: u32 = 8;
/// Requests in flight at once within one phase.
pub const CONCURRENT_REQUESTS_MAX: usize = 16;
/// Most orders a run may place.
pub const ORDERS_MAX: u32 = 100_000;
/// Most weeks a run may span.
pub const WEEKS_MAX: u32 = 52;

/// How the demo was asked to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub data_dir: PathBuf,
    pub orders: u32,
    pub weeks: u32,
    pub seed: u64,
    pub tz: chrono_tz::Tz,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The data dir already has events: the demo seeds empty stores only.
    #[error(
        "{0} already has events: the demo seeds an empty data dir only (choose another --data)"
    )]
    NotEmpty(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Log(#[from] eventlog::LogError),
    #[error("{what} answered {status}: {body}")]
    Refused {
        what: String,
        status: u16,
        body: String,
    },
    #[error("request failed: {0}")]
    Client(String),
    #[error("{0}")]
    Stalled(String),
    #[error("{0}")]
    Startup(String),
}

impl DemoError {
    /// Exit status: 2 for usage and environment errors (a dir with events, or in use), 1 for
    /// anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            DemoError::NotEmpty(_)
            | DemoError::Usage(_)
            | DemoError::Log(eventlog::LogError::InUse(_)) => 2,
            _ => 1,
        }
    }
}

/// Runs the demo: opens the dir, seeds it, closes it. Must run inside a tokio runtime.
pub async fn demo(opts: DemoOptions) -> Result<Summary, DemoError> {
    if opts.orders == 0 || opts.orders > ORDERS_MAX {
        return Err(DemoError::Usage(format!(
            "--orders must be 1..={ORDERS_MAX}"
        )));
    }
    if opts.weeks == 0 || opts.weeks > WEEKS_MAX {
        return Err(DemoError::Usage(format!("--weeks must be 1..={WEEKS_MAX}")));
    }
    let real_now = domain::SystemClock.now();
    let first_day =
        local_date(real_now, opts.tz) - chrono::Days::new(u64::from(opts.weeks) * DAYS_PER_WEEK);
    let start = at_local(first_day, SETUP_HOUR, opts.tz)?;
    let app = App::open(AppConfig {
        data_dir: opts.data_dir.clone(),
        tz: opts.tz,
        simulated_start: Some(start),
        metrics: crate::app::metrics_handle(),
    })?;
    if app.store.head() > 0 {
        let _ = app.log.close();
        return Err(DemoError::NotEmpty(opts.data_dir.display().to_string()));
    }
    let platform = domain::ids::new_secret_token();
    crate::serve::bootstrap_admin(&app, Some(&platform))
        .await
        .map_err(|e| DemoError::Startup(e.to_string()))?;
    let policies = crate::policies::spawn(app.clone())?;
    let mut world = World {
        client: Client::new(app.clone()),
        rng: StdRng::seed_from_u64(opts.seed),
        tz: opts.tz,
        now: start,
        platform,
        actors: actors::Actors::default(),
        catalogue: catalogue::Catalogue::default(),
        trade: trading::Trade::default(),
        deliveries: delivery::Deliveries::default(),
        views: analytics::Views::default(),
        opts: opts.clone(),
    };
    let run = world.run(first_day).await;
    world.client.settle().await.ok();
    let summary = world.summary();
    // Stop the policy runner (it writes its checkpoint on the way out) before closing.
    app.shutdown.send_replace(true);
    let _ = policies.await;
    crate::serve::close(&app)
        .await
        .map_err(|e| DemoError::Startup(e.to_string()))?;
    run?;
    Ok(summary)
}

const DAYS_PER_WEEK: u64 = 7;

/// What the run knows and has made.
pub struct World {
    client: Client,
    rng: StdRng,
    tz: chrono_tz::Tz,
    /// The simulated clock (it moves only through [`World::advance_to`]).
    now: Timestamp,
    /// The platform admin's token.
    platform: String,
    actors: actors::Actors,
    catalogue: catalogue::Catalogue,
    trade: trading::Trade,
    deliveries: delivery::Deliveries,
    views: analytics::Views,
    opts: DemoOptions,
}

impl World {
    async fn run(&mut self, first_day: NaiveDate) -> Result<(), DemoError> {
        let days = u32::try_from(u64::from(self.opts.weeks) * DAYS_PER_WEEK)
            .map_err(|_| DemoError::Usage("--weeks is too large".into()))?;
        let progress = progress_bar(u64::from(days) * STEP_HOURS.len() as u64 + 1);
        progress.set_message("setup");
        self.setup_actors(first_day).await?;
        self.setup_catalogue().await?;
        self.client.settle().await?;
        progress.inc(1);
        let per_day = trading::orders_per_day(&mut self.rng, self.opts.orders, first_day, days);
        for (day, orders) in per_day.iter().enumerate() {
            let date = first_day + chrono::Days::new(day as u64);
            progress.set_message(date.to_string());
            let per_step = trading::split_by_step(*orders);
            for (step, hour) in STEP_HOURS.iter().enumerate() {
                self.advance_to(at_local(date, *hour, self.tz)?).await?;
                self.trade_step(per_step[step]).await?;
                self.delivery_step().await?;
                self.page_views_step().await?;
                progress.inc(1);
            }
        }
        self.finale().await?;
        progress.finish_and_clear();
        Ok(())
    }

    /// Moves the simulated clock to `to` through the API: every deadline due by then fires
    /// and the policies react before it answers.
    async fn advance_to(&mut self, to: Timestamp) -> Result<(), DemoError> {
        let seconds = to.micros_since(self.now) / domain::time::MICROS_PER_SECOND;
        if seconds <= 0 {
            return Ok(());
        }
        self.client
            .post(
                "/v1/admin/clock/advance",
                &self.platform,
                &json!({ "seconds": seconds }),
            )
            .await?;
        self.now = to;
        self.client.settle().await
    }

    /// The local calendar date of the simulated now.
    fn today(&self) -> NaiveDate {
        local_date(self.now, self.tz)
    }

    /// RFC 3339 in the marketplace's zone.
    fn time(&self, t: Timestamp) -> String {
        t.to_rfc3339_in(self.tz)
    }
}

/// The local date of `t` in `tz`.
fn local_date(t: Timestamp, tz: chrono_tz::Tz) -> NaiveDate {
    t.to_datetime().with_timezone(&tz).date_naive()
}

/// `hour`:00 local on `date` (the earlier of an ambiguous hour; a skipped hour is an error).
fn at_local(date: NaiveDate, hour: u32, tz: chrono_tz::Tz) -> Result<Timestamp, DemoError> {
    let naive = date
        .and_hms_opt(hour, 0, 0)
        .ok_or_else(|| DemoError::Usage(format!("no {hour}:00 on {date}")))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| Timestamp::from_datetime(t.with_timezone(&chrono::Utc)))
        .ok_or_else(|| DemoError::Usage(format!("{date} {hour}:00 does not exist in {tz}")))
}

/// A bar on stderr when it is a terminal, hidden otherwise.
fn progress_bar(len: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} seeding {msg:>10} [{bar:40}] {pos}/{len} steps, {elapsed} (ETA {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Years `first_day` .. `first_day + days` touch.
fn years(first_day: NaiveDate, days: u32) -> Vec<i32> {
    let last = first_day + chrono::Days::new(u64::from(days));
    (first_day.year()..=last.year()).collect()
}
