//! The application state shared by every handler: the log, the runner, the clock, ids, the
//! projections and the metrics handle.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::{Clock, IdGen, SimulatedClock, WorkCalendar};
use eventlog::{EventStore, FileStore, LogAdmin};
use metrics_exporter_prometheus::PrometheusHandle;
use projections::coupons::Coupons;
use projections::deliveries::Deliveries;
use projections::directory::{CalendarRow, Directory};
use projections::instances::Instances;
use projections::orders::Orders;
use projections::products::Products;
use projections::promotions::Promotions;
use projections::runtime::MIN_POSITION_WAIT_MS_MAX;
use projections::staff::StaffModel;
use projections::templates::Templates;
use projections::timers::Timers;
use projections::trade::Trade;
use projections::workbench::Workbench;
use projections::{Projection, ProjectionControl};

use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders, MinPosition};
use crate::runner::{CalendarSource, CommandMeta, Runner};

/// The working-day calendar of the directory's calendar years, for the runner's contexts;
/// rebuilt only when those years change (a comparison of a few dates per command).
struct DirectoryCalendar {
    directory: Projection<Directory>,
    tz: chrono_tz::Tz,
    built: Mutex<Arc<(CalendarYears, Arc<WorkCalendar>)>>,
}

type CalendarYears = BTreeMap<i32, CalendarRow>;

impl DirectoryCalendar {
    fn new(directory: Projection<Directory>, tz: chrono_tz::Tz) -> DirectoryCalendar {
        DirectoryCalendar {
            directory,
            tz,
            built: Mutex::new(Arc::new((BTreeMap::new(), Arc::new(WorkCalendar::new(tz))))),
        }
    }
}

impl CalendarSource for DirectoryCalendar {
    fn calendar(&self) -> Arc<WorkCalendar> {
        let built = Arc::clone(&self.built.lock().unwrap_or_else(|e| e.into_inner()));
        let (fresh, _) = self.directory.read(|d| {
            (d.calendars != built.0)
                .then(|| (d.calendars.clone(), Arc::new(d.work_calendar(self.tz))))
        });
        match fresh {
            None => Arc::clone(&built.1),
            Some(fresh) => {
                let calendar = Arc::clone(&fresh.1);
                *self.built.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
                calendar
            }
        }
    }
}

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct App(pub Arc<AppInner>);

pub struct AppInner {
    pub data_dir: PathBuf,
    /// The log's upkeep side (the same log as `store`).
    pub log: Arc<dyn LogAdmin>,
    pub store: Arc<dyn EventStore>,
    pub runner: Runner,
    pub ids: Arc<dyn IdGen>,
    pub clock: Arc<dyn Clock>,
    /// Present only with `--simulated-clock`.
    pub simulated: Option<Arc<SimulatedClock>>,
    pub tz: chrono_tz::Tz,
    pub files: FileStore,
    pub directory: Projection<Directory>,
    pub timers: Projection<Timers>,
    pub products: Projection<Products>,
    pub promotions: Projection<Promotions>,
    pub orders: Projection<Orders>,
    pub instances: Projection<Instances>,
    pub coupons: Projection<Coupons>,
    pub staff: Projection<StaffModel>,
    pub deliveries: Projection<Deliveries>,
    pub templates: Projection<Templates>,
    pub workbench: Projection<Workbench>,
    pub trade: Projection<Trade>,
    pub projections: Vec<Arc<dyn ProjectionControl>>,
    pub metrics: PrometheusHandle,
    /// Serialises clock advances (each answers after its deadlines fired).
    pub clock_advance: tokio::sync::Mutex<()>,
    /// One deadline-firing pass at a time.
    pub scheduler_pass: tokio::sync::Mutex<()>,
    /// Where the policy runner stands (`policies::spawn` starts it).
    pub policies: Arc<crate::policies::PolicyStatus>,
    /// Set to true when the server starts shutting down (ends SSE streams).
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

impl std::ops::Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// Exit status after a storage failure (EX_TEMPFAIL of sysexits.h: try again later).
pub const EXIT_STORAGE_FAILURE: u8 = 75;
/// Time in-flight requests get to be answered (503) before the process exits after a storage
/// failure.
pub const STORAGE_FAILURE_EXIT_DELAY_MS: u64 = 500;

/// Why the data dir could not be opened, in words an operator can act on; a dir in use stays
/// [`eventlog::LogError::InUse`] (its own exit status).
fn open_error(data_dir: &std::path::Path, e: eventlog::LogError) -> eventlog::LogError {
    match e {
        in_use @ eventlog::LogError::InUse(_) => in_use,
        other => eventlog::LogError::Store(format!(
            "cannot open the event log in {dir}: {other}. Run `replay-tool verify --data {dir}` to see what is damaged, and restore the data dir from a backup if it is",
            dir = data_dir.display()
        )),
    }
}

/// What `App::open` needs.
pub struct AppConfig {
    pub data_dir: PathBuf,
    pub tz: chrono_tz::Tz,
    /// `Some(start)` for the simulated clock (the start is raised to the last recorded time).
    pub simulated_start: Option<domain::Timestamp>,
    pub metrics: PrometheusHandle,
}

impl App {
    /// Opens the data dir, starts the projections (each loads its checkpoint here), then the
    /// background integrity scan of the log. Must run inside a tokio runtime.
    ///
    /// The scan starts only once the models are loaded, so that decoding the checkpoints —
    /// what the first request waits for — does not share the cores with it (ADR 0005). No
    /// append can happen before `open` returns, so the scan still checks every record up to
    /// the head before anything can be written past it; findings fence the log as before.
    ///
    /// A log that sled cannot open (damaged files; sled may even panic on them, which is
    /// caught here) is an error naming the data dir and what to run. A log that opens but is
    /// found damaged starts *fenced* (see `eventlog::integrity`): reads of intact records and
    /// health work, every write answers 503 `store_fenced`.
    pub fn open(config: AppConfig) -> Result<App, eventlog::LogError> {
        let log = eventlog::guard::open_guarded(&config.data_dir)
            .map_err(|e| open_error(&config.data_dir, e))?;
        let store: Arc<dyn EventStore> = Arc::new(log.clone());
        let (clock, simulated): (Arc<dyn Clock>, Option<Arc<SimulatedClock>>) =
            match config.simulated_start {
                Some(start) => {
                    let sim = Arc::new(SimulatedClock::new(start));
                    // Time never goes backwards across restarts.
                    let last = log.durable_head().recorded_at_micros;
                    if last > i64::MIN {
                        sim.advance_to_at_least(domain::Timestamp::from_micros(last));
                    }
                    (sim.clone(), Some(sim))
                }
                None => (Arc::new(domain::SystemClock), None),
            };
        let ids: Arc<dyn IdGen> = Arc::new(domain::ids::RandomIdGen::new(Arc::clone(&clock)));
        // Every registered read model starts here; handlers keep typed handles of theirs.
        let running = projections::registry::Running::start(Arc::clone(&store), &config.data_dir)?;
        let directory = running.handle::<Directory>()?;
        let timers = running.handle::<Timers>()?;
        let products = running.handle::<Products>()?;
        let promotions = running.handle::<Promotions>()?;
        let orders = running.handle::<Orders>()?;
        let instances = running.handle::<Instances>()?;
        let coupons = running.handle::<Coupons>()?;
        let staff = running.handle::<StaffModel>()?;
        let deliveries = running.handle::<Deliveries>()?;
        let templates = running.handle::<Templates>()?;
        let workbench = running.handle::<Workbench>()?;
        let trade = running.handle::<Trade>()?;
        let projections = running.controls();
        let files = FileStore::open(&config.data_dir)?;
        // After the models loaded (see above): the scan's target is the head at open all the
        // same, since nothing was appended meanwhile.
        log.start_integrity_scan()?;
        Ok(App(Arc::new(AppInner {
            data_dir: config.data_dir,
            runner: Runner {
                log: Arc::clone(&store),
                clock: Arc::clone(&clock),
                tz: config.tz,
                states: Arc::default(),
                calendar: Arc::new(DirectoryCalendar::new(directory.clone(), config.tz)),
                locks: Arc::default(),
            },
            log: Arc::new(log),
            store,
            ids,
            clock,
            simulated,
            tz: config.tz,
            files,
            directory,
            timers,
            products,
            promotions,
            orders,
            instances,
            coupons,
            staff,
            deliveries,
            templates,
            workbench,
            trade,
            projections,
            metrics: config.metrics,
            clock_advance: tokio::sync::Mutex::new(()),
            scheduler_pass: tokio::sync::Mutex::new(()),
            policies: Arc::default(),
            shutdown: tokio::sync::watch::channel(false).0,
        })))
    }

    /// The command metadata of a request.
    pub fn command_meta(
        &self,
        caller: &Caller,
        headers: &CommandHeaders,
        body: &Body,
        command: &'static str,
    ) -> Result<CommandMeta, ApiError> {
        headers.check()?;
        Ok(CommandMeta {
            actor: caller.actor(),
            correlation_id: headers.request_id.clone(),
            causation_id: headers.request_id.clone(),
            idempotency: headers
                .idempotency_key
                .as_ref()
                .map(|k| eventlog::Idempotency {
                    key: format!("{}:{k}", caller.id),
                    fingerprint: body.fingerprint(&headers.method, &headers.path),
                }),
            if_match: headers.if_match,
            command,
        })
    }

    /// Waits (≤ 5 s) until `projection` has applied `min`; 503 `projection_lagging` if not.
    pub async fn wait_for(
        &self,
        projection: &dyn ProjectionControl,
        min: MinPosition,
    ) -> Result<(), ApiError> {
        let Some(position) = min.0 else { return Ok(()) };
        if projection
            .wait_for(position, Duration::from_millis(MIN_POSITION_WAIT_MS_MAX))
            .await
        {
            Ok(())
        } else {
            Err(ApiError::projection_lagging(projection.name(), position))
        }
    }

    /// Waits until every projection has applied `position` (commands whose effect the caller
    /// must see at once, e.g. a revoked token; and clock advances).
    pub async fn wait_all(&self, position: u64) -> Result<(), ApiError> {
        for p in &self.projections {
            if !p
                .wait_for(position, Duration::from_millis(MIN_POSITION_WAIT_MS_MAX))
                .await
            {
                return Err(ApiError::projection_lagging(p.name(), position));
            }
        }
        Ok(())
    }

    /// Like [`App::wait_all`] with a custom timeout, answering true/false. On a fenced log
    /// nothing from the damaged position on can be applied: waiting stops before it, at once
    /// when the damage is found meanwhile (a projection meeting it is what finds it).
    pub async fn wait_all_quietly(&self, position: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut integrity = self.log.watch_integrity();
        for p in &self.projections {
            loop {
                let target = match integrity.borrow_and_update().as_ref() {
                    Some(f) if f.position > 0 => position.min(f.position - 1),
                    _ => position,
                };
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                tokio::select! {
                    reached = p.wait_for(target, left) => {
                        if !reached {
                            return false;
                        }
                        break;
                    }
                    changed = integrity.changed() => {
                        if changed.is_err() {
                            // The log is closed: no finding can come any more.
                            if !p.wait_for(target, left).await {
                                return false;
                            }
                            break;
                        }
                    }
                }
            }
        }
        true
    }

    /// Ends the process (exit status [`EXIT_STORAGE_FAILURE`]) once a storage failure (a full
    /// disk, a file size limit, an i/o error) stops the log's writer: sled cannot be trusted
    /// to write again in this process, and a supervisor restart reopens it cleanly once the
    /// disk is writable (README, "Operations"). Writes answer 503 until then.
    pub fn exit_on_storage_failure(&self) {
        let mut failed = self.log.watch_storage_failure();
        let data_dir = self.data_dir.clone();
        tokio::spawn(async move {
            let Ok(reason) = failed.wait_for(Option::is_some).await.map(|r| r.clone()) else {
                return;
            };
            let reason = reason.unwrap_or_default();
            tracing::error!(%reason, data = %data_dir.display(), "storage failure: exiting so that a supervisor restarts the server once the disk is writable");
            // In-flight requests get their 503 first.
            tokio::time::sleep(Duration::from_millis(STORAGE_FAILURE_EXIT_DELAY_MS)).await;
            eprintln!(
                "marketlog: storage failure in {}: {reason}; exiting (status {EXIT_STORAGE_FAILURE}); restart once the disk is writable again",
                data_dir.display()
            );
            std::process::exit(i32::from(EXIT_STORAGE_FAILURE));
        });
    }

    /// Waits (bounded) until `projection` has applied everything durable now: for commands
    /// that validate against a read model what an earlier request just wrote.
    pub async fn caught_up(&self, projection: &dyn ProjectionControl) {
        let _ = projection
            .wait_for(
                self.store.head(),
                Duration::from_millis(MIN_POSITION_WAIT_MS_MAX),
            )
            .await;
    }

    /// The projection with this name.
    pub fn projection(&self, name: &str) -> Option<&Arc<dyn ProjectionControl>> {
        self.projections.iter().find(|p| p.name() == name)
    }

    /// Renders a time in the server's zone.
    pub fn time(&self, t: domain::Timestamp) -> String {
        t.to_rfc3339_in(self.tz)
    }
}
