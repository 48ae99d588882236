//! A coupon campaign (SPEC.md §4): its terms and whether it is voided. Stream
//! `campaign-<campaign id>`; it changes only at creation and void, so claims and redemptions
//! guard it without queueing on it (ADR 0006). Also the auto-grant index of a product
//! (`autogrant-<product id>`): the campaigns that auto-grant on its purchase.

use serde::{Deserialize, Serialize};

use crate::decider::{Actor, Context, Decider};
use crate::error::DomainError;
use crate::order::OrderType;
use crate::pricing::{CouponKind, CouponScope, CouponTerms};
use crate::time::Timestamp;

/// When a paid order of one of `product_ids` earns a coupon: paid inside
/// `purchased_from` (inclusive) .. `purchased_until` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoGrantWindow {
    pub product_ids: Vec<String>,
    pub purchased_from: Timestamp,
    pub purchased_until: Timestamp,
}

impl AutoGrantWindow {
    pub fn holds(&self, paid_at: Timestamp) -> bool {
        self.purchased_from <= paid_at && paid_at < self.purchased_until
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignCreated {
    pub campaign_id: String,
    pub seller_org_id: String,
    pub name: String,
    pub scope: CouponScope,
    pub kind: CouponKind,
    /// Among `new`, `renewal`, `upgrade`.
    pub scenarios: Vec<OrderType>,
    pub per_customer_limit: u32,
    /// Coupons are usable from `valid_from` (inclusive) to `valid_until` (exclusive).
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    pub total_quantity: u32,
    pub show_in_store: bool,
    pub auto_grant: Option<AutoGrantWindow>,
    pub created_by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignVoided {
    pub by: String,
    pub at: Timestamp,
}

crate::event_enum! {
    /// Events of a coupon campaign.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum CampaignEvent {
        CampaignCreated(CampaignCreated) version 1,
        CampaignVoided(CampaignVoided) version 1,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignState {
    pub created: Option<CampaignCreated>,
    pub voided: Option<CampaignVoided>,
}

impl CampaignState {
    pub fn is_void(&self) -> bool {
        self.voided.is_some()
    }

    /// The terms every coupon of the campaign is granted with.
    pub fn terms(&self) -> Option<CouponTerms> {
        let c = self.created.as_ref()?;
        Some(CouponTerms {
            campaign_id: c.campaign_id.clone(),
            seller_org_id: c.seller_org_id.clone(),
            scope: c.scope.clone(),
            kind: c.kind,
            scenarios: c.scenarios.clone(),
            valid_from: c.valid_from,
            valid_until: c.valid_until,
        })
    }

    /// May a customer claim a coupon at `now` (the campaign live, shown in store, its
    /// validity not over)?
    pub fn claimable(&self, now: Timestamp) -> bool {
        self.created
            .as_ref()
            .is_some_and(|c| c.show_in_store && now < c.valid_until)
            && !self.is_void()
    }
}

/// Is `actor` the isv_admin side of the org that runs the campaign?
pub(super) fn owned_by(actor: &Actor, c: &CampaignCreated) -> bool {
    actor.org_id() == Some(c.seller_org_id.as_str())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CampaignCommand {
    /// 作废: no more grants, unused coupons unusable.
    Void,
}

#[derive(Debug)]
pub struct Campaign;

impl Decider for Campaign {
    type State = CampaignState;
    type Command = CampaignCommand;
    type Event = CampaignEvent;
    type Error = DomainError;

    fn decide(
        state: &CampaignState,
        command: &CampaignCommand,
        ctx: &Context,
    ) -> Result<Vec<CampaignEvent>, DomainError> {
        // Another org's campaign is not found (API.md §1), like one that does not exist.
        if !state
            .created
            .as_ref()
            .is_some_and(|c| owned_by(&ctx.actor, c))
        {
            return Err(DomainError::not_found("coupon campaign"));
        };
        match command {
            CampaignCommand::Void if state.is_void() => Ok(Vec::new()),
            CampaignCommand::Void => Ok(vec![CampaignEvent::CampaignVoided(CampaignVoided {
                by: ctx.actor.label(),
                at: ctx.now,
            })]),
        }
    }

    fn evolve(mut state: CampaignState, event: &CampaignEvent) -> CampaignState {
        match event {
            CampaignEvent::CampaignCreated(e) => state.created = Some(e.clone()),
            CampaignEvent::CampaignVoided(e) => state.voided = Some(e.clone()),
        }
        state
    }
}

pub fn campaign_stream(campaign_id: &str) -> String {
    format!("campaign-{campaign_id}")
}

pub fn autogrant_stream(product_id: &str) -> String {
    format!("autogrant-{product_id}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignAutoGrantAdded {
    pub campaign_id: String,
}

crate::event_enum! {
    /// Events of a product's auto-grant index.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum AutoGrantIndexEvent {
        CampaignAutoGrantAdded(CampaignAutoGrantAdded) version 1,
    }
}

/// The campaigns that auto-grant on a purchase of one product, in creation order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoGrantIndexState {
    pub campaign_ids: Vec<String>,
}

/// Written only by campaign creation; it takes no command of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCommand {}

#[derive(Debug)]
pub struct AutoGrantIndex;

impl Decider for AutoGrantIndex {
    type State = AutoGrantIndexState;
    type Command = NoCommand;
    type Event = AutoGrantIndexEvent;
    type Error = DomainError;

    fn decide(
        _state: &AutoGrantIndexState,
        command: &NoCommand,
        _ctx: &Context,
    ) -> Result<Vec<AutoGrantIndexEvent>, DomainError> {
        match *command {}
    }

    fn evolve(mut state: AutoGrantIndexState, event: &AutoGrantIndexEvent) -> AutoGrantIndexState {
        match event {
            AutoGrantIndexEvent::CampaignAutoGrantAdded(e) => {
                state.campaign_ids.push(e.campaign_id.clone())
            }
        }
        state
    }
}
