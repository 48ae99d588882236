//! Product page views (SPEC.md §10, trade statistics), stream `pageviews-pgv_…`: one stream
//! per ingested batch, created by its one event, so batches never contend with each other or
//! with the products they name. `RecordPageViews` checks every view's fields, then that every
//! product named exists (it loads each distinct product stream; a product never stops
//! existing, so nothing is guarded) — a bad view refuses the whole batch, naming the first
//! bad `views[i].<field>`, and nothing is appended.
//!
//! Invariant: a batch stream holds exactly one `PageViewsRecorded` of 1..=[`PAGE_VIEWS_BATCH_MAX`]
//! views, each of an existing product, none later than the decision's `now` +
//! [`PAGE_VIEW_SKEW_MS_MAX`].

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::decider::{Context, Decider};
use crate::decision::{Decision, Outcome, States};
use crate::error::DomainError;
use crate::ids::{is_valid_id, IdKind};
use crate::product::{product_stream, Product};
use crate::time::Timestamp;

/// Most views in one batch (API.md §8).
pub const PAGE_VIEWS_BATCH_MAX: usize = 500;
/// Longest visitor id, in characters.
pub const VISITOR_ID_CHARS_MAX: usize = 128;
/// Longest dwell time of one view: a day.
pub const DWELL_MS_MAX: u32 = 86_400_000;
/// How far past the decision's `now` a view's `at` may lie (clients' clocks drift a little;
/// a view from further in the future is bad data).
pub const PAGE_VIEW_SKEW_MS_MAX: i64 = 5 * 60 * 1_000;

/// The stream of batch `batch_id` (`pgv_…`).
pub fn pageviews_stream(batch_id: &str) -> String {
    format!("pageviews-{batch_id}")
}

/// One product page view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageView {
    pub product_id: String,
    /// The client's visitor id (a cookie, a device id): opaque, 1..=128 characters.
    pub visitor_id: String,
    /// When the page was viewed.
    pub at: Timestamp,
    pub dwell_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageViewsRecorded {
    pub batch_id: String,
    pub views: Vec<PageView>,
    /// Who ingested the batch.
    pub recorded_by: String,
    /// When it was ingested.
    pub at: Timestamp,
}

crate::event_enum! {
    /// Events of a page-view batch.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum PageViewsEvent {
        PageViewsRecorded(PageViewsRecorded) version 1,
    }
}

/// A batch: its id and how many views it recorded (the views themselves are the event's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageViewsState {
    pub batch_id: Option<String>,
    pub recorded: u32,
}

/// Record a batch of page views as `batch_id` (a new `pgv_…` id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPageViews {
    pub batch_id: String,
    pub views: Vec<PageView>,
}

impl RecordPageViews {
    /// The first field rule a view breaks (API.md §1: before any rule that needs state).
    pub fn field_rules(&self, now: Timestamp) -> Result<(), DomainError> {
        if self.views.is_empty() {
            return Err(DomainError::validation(
                "views",
                "min_items",
                "views must hold at least one view",
            ));
        }
        if self.views.len() > PAGE_VIEWS_BATCH_MAX {
            return Err(DomainError::validation(
                "views",
                "max_items",
                format!("views holds at most {PAGE_VIEWS_BATCH_MAX} views per batch"),
            ));
        }
        let latest = now.plus_micros(PAGE_VIEW_SKEW_MS_MAX * 1_000);
        for (i, v) in self.views.iter().enumerate() {
            let field = |name: &str| format!("views[{i}].{name}");
            if !is_valid_id(IdKind::Product, &v.product_id) {
                let f = field("product_id");
                return Err(DomainError::validation(
                    &f,
                    "format",
                    format!("{f} is not a product id"),
                ));
            }
            crate::text::require_name(&field("visitor_id"), &v.visitor_id, VISITOR_ID_CHARS_MAX)?;
            if v.dwell_ms > DWELL_MS_MAX {
                let f = field("dwell_ms");
                return Err(DomainError::validation(
                    &f,
                    "range",
                    format!("{f} must be 0..={DWELL_MS_MAX}"),
                ));
            }
            if v.at > latest {
                let f = field("at");
                return Err(DomainError::validation(
                    &f,
                    "not_future",
                    format!(
                        "{f} lies in the future (more than {PAGE_VIEW_SKEW_MS_MAX} ms after now)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Each distinct product named, in first-named order.
    fn products(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.views
            .iter()
            .map(|v| v.product_id.as_str())
            .filter(|p| seen.insert(*p))
            .collect()
    }
}

#[derive(Debug)]
pub struct PageViews;

impl Decider for PageViews {
    type State = PageViewsState;
    type Command = RecordPageViews;
    type Event = PageViewsEvent;
    type Error = DomainError;

    /// The field rules and the batch's own state; the products are the decision's (below).
    fn decide(
        state: &PageViewsState,
        command: &RecordPageViews,
        ctx: &Context,
    ) -> Result<Vec<PageViewsEvent>, DomainError> {
        command.field_rules(ctx.now)?;
        if state.batch_id.is_some() {
            return Err(DomainError::invalid_state(
                "recorded",
                format!("batch {} is already recorded", command.batch_id),
            ));
        }
        Ok(vec![PageViewsEvent::PageViewsRecorded(PageViewsRecorded {
            batch_id: command.batch_id.clone(),
            views: command.views.clone(),
            recorded_by: ctx.actor.label(),
            at: ctx.now,
        })])
    }

    fn evolve(mut state: PageViewsState, event: &PageViewsEvent) -> PageViewsState {
        match event {
            PageViewsEvent::PageViewsRecorded(e) => {
                state.batch_id = Some(e.batch_id.clone());
                state.recorded = u32::try_from(e.views.len()).unwrap_or(u32::MAX);
            }
        }
        state
    }
}

impl Decision for RecordPageViews {
    fn primary(&self) -> String {
        pageviews_stream(&self.batch_id)
    }

    /// Every distinct product named (≤ 500); none while a view's product id is malformed
    /// (the answer then needs no state). The time rule is checked in `decide`, with `now`.
    fn streams(&self, _loaded: &States) -> Vec<String> {
        let well_formed = (1..=PAGE_VIEWS_BATCH_MAX).contains(&self.views.len())
            && self
                .views
                .iter()
                .all(|v| is_valid_id(IdKind::Product, &v.product_id));
        if !well_formed {
            return Vec::new();
        }
        self.products().into_iter().map(product_stream).collect()
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        self.field_rules(ctx.now)?;
        let stream = self.primary();
        let state = states.get::<PageViews>(&stream)?;
        for (i, v) in self.views.iter().enumerate() {
            let product = states.get::<Product>(&product_stream(&v.product_id))?;
            if product.seller_org_id().is_none() {
                let f = format!("views[{i}].product_id");
                return Err(DomainError::validation(
                    &f,
                    "unknown",
                    format!("product {} does not exist", v.product_id),
                ));
            }
        }
        let events = PageViews::decide(state, self, ctx)?;
        Outcome::primary::<PageViews>(&stream, state, events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decider::{Actor, Role};
    use crate::decision::testing::{decoded, DecisionTest};
    use crate::product::{DeliveryKind, ProductCreated, ProductEvent};

    const NOW: Timestamp = Timestamp::from_micros(1_800_000_000_000_000);

    fn analyst() -> Context {
        Context::new(
            NOW,
            Actor::Principal {
                id: "prn_a".into(),
                role: Role::Analyst,
                org_id: None,
            },
            chrono_tz::UTC,
        )
    }

    fn created(id: &str) -> ProductEvent {
        ProductEvent::ProductCreated(ProductCreated {
            product_id: id.into(),
            seller_org_id: "org_s".into(),
            code: "C".into(),
            name: "P".into(),
            category: "cat".into(),
            delivery: DeliveryKind::Saas,
            delivery_days: 1,
            warranty_days: 1,
            flow_template_id: None,
            specs: vec![],
        })
    }

    fn view(product: &str) -> PageView {
        PageView {
            product_id: product.into(),
            visitor_id: "v-1".into(),
            at: NOW.plus_seconds(-60),
            dwell_ms: 12_000,
        }
    }

    fn batch(views: Vec<PageView>) -> RecordPageViews {
        RecordPageViews {
            batch_id: "pgv_1".into(),
            views,
        }
    }

    fn world() -> DecisionTest {
        DecisionTest::new()
            .given::<Product>("product-prd_1", &[created("prd_1")])
            .given::<Product>("product-prd_2", &[created("prd_2")])
    }

    fn refused(views: Vec<PageView>) -> DomainError {
        match world().when(&batch(views), &analyst()) {
            Ok(o) => panic!("expected a refusal, got {o:?}"),
            Err(e) => e,
        }
    }

    fn field_and_rule(e: &DomainError) -> (&str, &str) {
        assert_eq!(e.code, "validation_failed", "{e:?}");
        let get = |k| {
            e.details
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        (get("field"), get("rule"))
    }

    #[test]
    fn a_batch_of_views_of_existing_products_is_recorded_in_its_own_new_stream() {
        let views = vec![view("prd_1"), view("prd_2"), view("prd_1")];
        let outcome = world().when(&batch(views.clone()), &analyst()).unwrap();
        assert_eq!(outcome.appends.len(), 1, "nothing but the batch's stream");
        assert!(outcome.guards.is_empty(), "products are not guarded");
        let events: Vec<PageViewsEvent> = decoded(&outcome, "pageviews-pgv_1");
        assert_eq!(
            events,
            vec![PageViewsEvent::PageViewsRecorded(PageViewsRecorded {
                batch_id: "pgv_1".into(),
                views,
                recorded_by: "prn_a:analyst".into(),
                at: NOW,
            })]
        );
        let state = outcome.primary_state::<PageViews>().unwrap();
        assert_eq!(
            (state.batch_id.as_deref(), state.recorded),
            (Some("pgv_1"), 3)
        );
    }

    #[test]
    fn an_empty_batch_is_refused() {
        assert_eq!(field_and_rule(&refused(vec![])), ("views", "min_items"));
    }

    #[test]
    fn a_batch_holds_at_most_500_views() {
        let ok = vec![view("prd_1"); PAGE_VIEWS_BATCH_MAX];
        assert!(world().when(&batch(ok), &analyst()).is_ok());
        let too_many = vec![view("prd_1"); PAGE_VIEWS_BATCH_MAX + 1];
        assert_eq!(field_and_rule(&refused(too_many)), ("views", "max_items"));
    }

    #[test]
    fn a_malformed_product_id_is_refused_naming_the_view() {
        let e = refused(vec![view("prd_1"), view("ord_1")]);
        assert_eq!(field_and_rule(&e), ("views[1].product_id", "format"));
    }

    #[test]
    fn an_unknown_product_refuses_the_whole_batch_naming_the_first_bad_view() {
        let e = refused(vec![view("prd_1"), view("prd_9"), view("prd_8")]);
        assert_eq!(field_and_rule(&e), ("views[1].product_id", "unknown"));
    }

    #[test]
    fn a_visitor_id_is_1_to_128_printable_characters() {
        let mut empty = view("prd_1");
        empty.visitor_id = " ".into();
        assert_eq!(
            field_and_rule(&refused(vec![empty])),
            ("views[0].visitor_id", "required")
        );
        let mut long = view("prd_1");
        long.visitor_id = "v".repeat(VISITOR_ID_CHARS_MAX + 1);
        assert_eq!(
            field_and_rule(&refused(vec![long])),
            ("views[0].visitor_id", "max_length")
        );
        let mut control = view("prd_1");
        control.visitor_id = "v\u{0}1".into();
        assert_eq!(
            field_and_rule(&refused(vec![control])),
            ("views[0].visitor_id", "control_characters")
        );
        let mut longest = view("prd_1");
        longest.visitor_id = "v".repeat(VISITOR_ID_CHARS_MAX);
        assert!(world().when(&batch(vec![longest]), &analyst()).is_ok());
    }

    #[test]
    fn dwell_time_is_at_most_a_day() {
        let mut day = view("prd_1");
        day.dwell_ms = DWELL_MS_MAX;
        let mut zero = view("prd_1");
        zero.dwell_ms = 0;
        assert!(world().when(&batch(vec![day, zero]), &analyst()).is_ok());
        let mut longer = view("prd_1");
        longer.dwell_ms = DWELL_MS_MAX + 1;
        assert_eq!(
            field_and_rule(&refused(vec![view("prd_1"), longer])),
            ("views[1].dwell_ms", "range")
        );
    }

    #[test]
    fn a_view_from_the_future_beyond_the_skew_is_refused() {
        let mut at_skew = view("prd_1");
        at_skew.at = NOW.plus_micros(PAGE_VIEW_SKEW_MS_MAX * 1_000);
        assert!(world().when(&batch(vec![at_skew]), &analyst()).is_ok());
        let mut future = view("prd_1");
        future.at = NOW.plus_micros(PAGE_VIEW_SKEW_MS_MAX * 1_000 + 1);
        assert_eq!(
            field_and_rule(&refused(vec![future])),
            ("views[0].at", "not_future")
        );
    }

    #[test]
    fn a_batch_id_is_recorded_once() {
        let recorded = PageViewsEvent::PageViewsRecorded(PageViewsRecorded {
            batch_id: "pgv_1".into(),
            views: vec![view("prd_1")],
            recorded_by: "prn_a".into(),
            at: NOW,
        });
        let e = world()
            .given::<PageViews>("pageviews-pgv_1", &[recorded])
            .when(&batch(vec![view("prd_1")]), &analyst())
            .unwrap_err();
        assert_eq!(e.code, "invalid_state");
    }
}
