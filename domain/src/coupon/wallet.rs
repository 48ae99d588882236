//! A customer's wallet (SPEC.md §4): the coupons they hold of every campaign, and which
//! order uses each. Stream `wallet-<customer id>`; the per-customer limit and "a coupon is
//! used by at most one live order" are decided here (ADR 0006).
//!
//! The pure functions [`offer`], [`redeemed`] and [`release`] are what order placement and
//! the order void use to redeem and give back a coupon in the order's own atomic append.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::campaign::{CampaignState, NoCommand};
use super::stock::Via;
use crate::decider::{Context, Decider};
use crate::error::DomainError;
use crate::money::Cents;
use crate::pricing::{CouponOffer, CouponTerms};
use crate::time::Timestamp;

pub fn wallet_stream(customer_id: &str) -> String {
    format!("wallet-{customer_id}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponGranted {
    pub coupon_id: String,
    pub customer_id: String,
    pub terms: CouponTerms,
    pub via: Via,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponRedeemed {
    pub coupon_id: String,
    pub order_id: String,
    pub saving: Cents,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponReleased {
    pub coupon_id: String,
    pub order_id: String,
    pub at: Timestamp,
}

crate::event_enum! {
    /// Events of a customer's wallet.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum WalletEvent {
        CouponGranted(CouponGranted) version 1,
        CouponRedeemed(CouponRedeemed) version 1,
        CouponReleased(CouponReleased) version 1,
    }
}

/// One coupon in a wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldCoupon {
    pub terms: CouponTerms,
    pub via: Via,
    pub granted_at: Timestamp,
    /// The order that uses it now.
    pub redeemed_by: Option<String>,
    /// Times it came back from a voided order.
    pub released: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletState {
    pub coupons: BTreeMap<String, HeldCoupon>,
    /// Coupons granted per campaign (the per-customer limit counts these).
    pub per_campaign: BTreeMap<String, u32>,
    /// (campaign, order) pairs that already auto-granted, so a re-run grants nothing.
    pub auto_granted: BTreeSet<(String, String)>,
    /// The coupon granted last: what a claim answers, also when it is repeated with its
    /// idempotency key (the answer is this state as of that claim).
    pub last_granted: Option<String>,
}

impl WalletState {
    pub fn count_of(&self, campaign_id: &str) -> u32 {
        self.per_campaign.get(campaign_id).copied().unwrap_or(0)
    }
}

#[derive(Debug)]
pub struct Wallet;

impl Decider for Wallet {
    type State = WalletState;
    type Command = NoCommand;
    type Event = WalletEvent;
    type Error = DomainError;

    fn decide(
        _state: &WalletState,
        command: &NoCommand,
        _ctx: &Context,
    ) -> Result<Vec<WalletEvent>, DomainError> {
        match *command {}
    }

    fn evolve(mut state: WalletState, event: &WalletEvent) -> WalletState {
        match event {
            WalletEvent::CouponGranted(e) => {
                let campaign = e.terms.campaign_id.clone();
                if let Via::AutoGrant { order_id } = &e.via {
                    state
                        .auto_granted
                        .insert((campaign.clone(), order_id.clone()));
                }
                *state.per_campaign.entry(campaign).or_insert(0) += 1;
                state.last_granted = Some(e.coupon_id.clone());
                state.coupons.insert(
                    e.coupon_id.clone(),
                    HeldCoupon {
                        terms: e.terms.clone(),
                        via: e.via.clone(),
                        granted_at: e.at,
                        redeemed_by: None,
                        released: 0,
                    },
                );
            }
            WalletEvent::CouponRedeemed(e) => {
                if let Some(c) = state.coupons.get_mut(&e.coupon_id) {
                    c.redeemed_by = Some(e.order_id.clone());
                }
            }
            WalletEvent::CouponReleased(e) => {
                if let Some(c) = state.coupons.get_mut(&e.coupon_id) {
                    c.redeemed_by = None;
                    c.released = c.released.saturating_add(1);
                }
            }
        }
        state
    }
}

/// The coupon `coupon_id` as pricing sees it, from the customer's wallet and whether its
/// campaign (loaded by the caller from `campaign-<terms.campaign_id>`) is voided.
pub fn offer<'a>(
    wallet: &'a WalletState,
    coupon_id: &'a str,
    campaign_void: bool,
) -> CouponOffer<'a> {
    match wallet.coupons.get(coupon_id) {
        Some(c) => CouponOffer {
            coupon_id,
            terms: Some(&c.terms),
            used: c.redeemed_by.is_some(),
            campaign_void,
        },
        None => CouponOffer::not_held(coupon_id),
    }
}

/// The wallet's event when `order_id` redeems `coupon_id`, saving `saving`.
pub fn redeemed(coupon_id: &str, order_id: &str, saving: Cents, at: Timestamp) -> WalletEvent {
    WalletEvent::CouponRedeemed(CouponRedeemed {
        coupon_id: coupon_id.to_owned(),
        order_id: order_id.to_owned(),
        saving,
        at,
    })
}

/// The coupon `order_id` used, given back when that order is voided — only while the
/// coupon is still valid and its campaign not voided (SPEC.md §4 "released back to the
/// customer if still valid"); otherwise it stays with the order and nothing is appended.
pub fn release(
    wallet: &WalletState,
    coupon_id: &str,
    order_id: &str,
    campaign: &CampaignState,
    now: Timestamp,
) -> Option<WalletEvent> {
    let held = wallet.coupons.get(coupon_id)?;
    let valid = held.terms.valid_at(now);
    (held.redeemed_by.as_deref() == Some(order_id) && valid && !campaign.is_void()).then(|| {
        WalletEvent::CouponReleased(CouponReleased {
            coupon_id: coupon_id.to_owned(),
            order_id: order_id.to_owned(),
            at: now,
        })
    })
}
