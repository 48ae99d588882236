//! A campaign's stock (SPEC.md §4 "total quantity"): every grant drawn from it. Stream
//! `stock-<campaign id>`; claims, batch grants and auto-grants append here, so the total is
//! decided on one stream and concurrent draws queue on it (ADR 0006).

use serde::{Deserialize, Serialize};

use super::campaign::NoCommand;
use crate::decider::{Context, Decider};
use crate::error::DomainError;
use crate::time::Timestamp;

pub fn stock_stream(campaign_id: &str) -> String {
    format!("stock-{campaign_id}")
}

/// How a coupon came to its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The customer claimed it in the store.
    Claim,
    /// The seller sent it (`by`: the acting principal).
    Grant { by: String },
    /// A paid order earned it.
    AutoGrant { order_id: String },
}

impl Via {
    pub fn as_str(&self) -> &'static str {
        match self {
            Via::Claim => "claim",
            Via::Grant { .. } => "grant",
            Via::AutoGrant { .. } => "auto_grant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockGrant {
    pub coupon_id: String,
    pub customer_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponStockDrawn {
    pub grants: Vec<StockGrant>,
    pub via: Via,
    pub at: Timestamp,
}

crate::event_enum! {
    /// Events of a campaign's stock.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum StockEvent {
        CouponStockDrawn(CouponStockDrawn) version 1,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockState {
    /// Coupons handed out so far (never given back: a released coupon returns to its owner).
    pub granted: u32,
    /// The latest draw: what a batch grant answers, also when it is repeated with its
    /// idempotency key (the answer is this state as of that draw).
    pub last: Option<CouponStockDrawn>,
}

impl StockState {
    /// What is left of `total_quantity`.
    pub fn remaining(&self, total_quantity: u32) -> u32 {
        total_quantity.saturating_sub(self.granted)
    }
}

#[derive(Debug)]
pub struct CouponStock;

impl Decider for CouponStock {
    type State = StockState;
    type Command = NoCommand;
    type Event = StockEvent;
    type Error = DomainError;

    fn decide(
        _state: &StockState,
        command: &NoCommand,
        _ctx: &Context,
    ) -> Result<Vec<StockEvent>, DomainError> {
        match *command {}
    }

    fn evolve(mut state: StockState, event: &StockEvent) -> StockState {
        match event {
            StockEvent::CouponStockDrawn(e) => {
                let n = u32::try_from(e.grants.len()).unwrap_or(u32::MAX);
                state.granted = state.granted.saturating_add(n);
                state.last = Some(e.clone());
            }
        }
        state
    }
}
