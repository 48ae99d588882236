//! The coupons read model (SPEC.md §4, §10): every campaign with its statistics, and every
//! granted coupon by id, by owner and by campaign. Folded from the campaign and wallet
//! streams (a grant appends to the stock and the wallet together, so the wallets alone say
//! which coupons exist).

use std::collections::{BTreeMap, BTreeSet};

use domain::coupon::{Campaign, CampaignEvent, CampaignState, Via, WalletEvent};
use domain::pricing::CouponTerms;
use domain::{Decider, Timestamp};
use eventlog::Record;
use serde::{Deserialize, Serialize};

use crate::runtime::{decode, ApplyError, ReadModel};

/// Counts of SPEC.md §4: `granted` coupons handed out, `redeemed` held by an order now
/// (redeemed − released), `released` times a coupon came back from a voided order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignStats {
    pub granted: u64,
    pub redeemed: u64,
    pub released: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRow {
    pub id: String,
    pub state: CampaignState,
    pub version: u64,
    pub stats: CampaignStats,
    /// Ids of its coupons.
    pub coupons: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponRow {
    pub id: String,
    pub customer_id: String,
    pub terms: CouponTerms,
    pub via: Via,
    pub granted_at: Timestamp,
    /// The order that uses it now.
    pub order_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponsState {
    pub campaigns: BTreeMap<String, CampaignRow>,
    pub coupons: BTreeMap<String, CouponRow>,
    /// Customer → ids of the coupons they hold.
    pub by_customer: BTreeMap<String, BTreeSet<String>>,
}

impl CouponsState {
    fn campaign(&mut self, id: &str) -> &mut CampaignRow {
        self.campaigns
            .entry(id.to_owned())
            .or_insert_with(|| CampaignRow {
                id: id.to_owned(),
                state: CampaignState::default(),
                version: 0,
                stats: CampaignStats::default(),
                coupons: BTreeSet::new(),
            })
    }
}

#[derive(Debug)]
pub struct Coupons;

impl ReadModel for Coupons {
    const NAME: &'static str = "coupons";
    const VERSION: u32 = 1;
    type State = CouponsState;

    fn apply(state: &mut CouponsState, r: &Record) -> Result<(), ApplyError> {
        if let Some(id) = r.stream_id.strip_prefix("campaign-") {
            let e: CampaignEvent = decode(r)?;
            let row = state.campaign(id);
            row.state = Campaign::evolve(std::mem::take(&mut row.state), &e);
            row.version = r.version;
            return Ok(());
        }
        if !r.stream_id.starts_with("wallet-") {
            return Ok(());
        }
        match decode::<WalletEvent>(r)? {
            WalletEvent::CouponGranted(g) => {
                let row = state.campaign(&g.terms.campaign_id);
                row.stats.granted += 1;
                row.coupons.insert(g.coupon_id.clone());
                state
                    .by_customer
                    .entry(g.customer_id.clone())
                    .or_default()
                    .insert(g.coupon_id.clone());
                state.coupons.insert(
                    g.coupon_id.clone(),
                    CouponRow {
                        id: g.coupon_id,
                        customer_id: g.customer_id,
                        terms: g.terms,
                        via: g.via,
                        granted_at: g.at,
                        order_id: None,
                    },
                );
            }
            WalletEvent::CouponRedeemed(e) => {
                if let Some(c) = state.coupons.get_mut(&e.coupon_id) {
                    c.order_id = Some(e.order_id);
                    let campaign = c.terms.campaign_id.clone();
                    state.campaign(&campaign).stats.redeemed += 1;
                }
            }
            WalletEvent::CouponReleased(e) => {
                if let Some(c) = state.coupons.get_mut(&e.coupon_id) {
                    c.order_id = None;
                    let campaign = c.terms.campaign_id.clone();
                    let stats = &mut state.campaign(&campaign).stats;
                    stats.redeemed = stats.redeemed.saturating_sub(1);
                    stats.released += 1;
                }
            }
        }
        Ok(())
    }
}
