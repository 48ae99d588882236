//! The order read model: every order with the fields of API.md §5, listable by customer,
//! seller or everyone with the filters of SPEC.md §10, newest first.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use domain::order::{Order, OrderEvent, OrderPlaced, OrderState, ReviewDefaulted, ReviewSubmitted};
use domain::{Decider, Timestamp};
use eventlog::Record;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::party::PartyIndex;
use crate::runtime::{decode, ApplyError, ReadModel};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRow {
    pub id: String,
    pub state: OrderState,
    pub version: u64,
    pub created_at: Timestamp,
}

/// Stored (in checkpoints) without its derived indexes: `by_id` as the bare list of rows and
/// the listing indexes not at all — they are rebuilt on load (every placed order is listed at
/// its placement time, under its customer and its seller).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrdersState {
    pub by_id: BTreeMap<String, Box<OrderRow>>,
    /// (created at, id): the listing order of everything.
    pub by_created: BTreeSet<(Timestamp, Arc<str>)>,
    /// Customer / seller org / product → (created at, id) of the orders they are part of
    /// (their id prefixes never collide).
    pub by_party: PartyIndex<(Timestamp, Arc<str>)>,
    /// Refund id → order id (refunds live in their order's stream).
    pub refund_orders: BTreeMap<String, String>,
    /// Customer / seller org → ids of the refunds of their orders (derived, not stored).
    pub refunds_by_party: PartyIndex,
    /// Customer / seller org → ids of the invoices of their orders (derived, not stored).
    pub invoices_by_party: PartyIndex,
    /// Invoice id → order id.
    pub invoice_orders: BTreeMap<String, String>,
    /// Review id → order id.
    pub review_orders: BTreeMap<String, String>,
    /// Seller org / product → ids of its reviews, default ones included (derived, not stored).
    pub reviews_by_seller: PartyIndex,
    /// Seller org → the sum of its counted reviews' scores (derived, not stored).
    pub shop_scores: BTreeMap<String, ShopScore>,
}

/// The scores of a seller org's reviews that count towards its shop score (SPEC.md §7: every
/// review but the defaulted ones), kept as they arrive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShopScore {
    /// Sum of every counted review's three scores.
    pub points: u64,
    /// Number of scores summed (three per review).
    pub scores: u64,
}

impl ShopScore {
    fn add(&mut self, quality: u8, attitude: u8, speed: u8) {
        self.points += u64::from(quality) + u64::from(attitude) + u64::from(speed);
        self.scores += 3;
    }

    /// The mean score, to two decimals; None without a counted review.
    pub fn mean(&self) -> Option<f64> {
        (self.scores > 0).then(|| (self.points as f64 / self.scores as f64 * 100.0).round() / 100.0)
    }
}

/// What a checkpoint holds of [`OrdersState`].
#[derive(Serialize)]
struct StoredOrders<'a> {
    rows: Vec<&'a OrderRow>,
    refund_orders: &'a BTreeMap<String, String>,
    invoice_orders: &'a BTreeMap<String, String>,
    review_orders: &'a BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct LoadedOrders {
    rows: Vec<OrderRow>,
    refund_orders: BTreeMap<String, String>,
    invoice_orders: BTreeMap<String, String>,
    review_orders: BTreeMap<String, String>,
}

impl Serialize for OrdersState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredOrders {
            rows: self.by_id.values().map(|row| &**row).collect(),
            refund_orders: &self.refund_orders,
            invoice_orders: &self.invoice_orders,
            review_orders: &self.review_orders,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for OrdersState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Every index is gathered first and built in bulk (sorted input loads a B-tree in
        // linear time; one insert per entry made a large checkpoint's load mostly key
        // comparisons).
        let stored = LoadedOrders::deserialize(deserializer)?;
        let mut created = Vec::with_capacity(stored.rows.len());
        let mut parties = Vec::with_capacity(stored.rows.len() * 2);
        let (mut refunds, mut invoices, mut reviews) = (Vec::new(), Vec::new(), Vec::new());
        let mut shop_scores: BTreeMap<String, ShopScore> = BTreeMap::new();
        for row in &stored.rows {
            let Some(p) = &row.state.placed else {
                continue;
            };
            let entry = (row.created_at, Arc::<str>::from(row.id.as_str()));
            parties.push((p.customer_id.clone(), entry.clone()));
            parties.push((p.seller_org_id.clone(), entry.clone()));
            parties.push((p.product_id.clone(), entry.clone()));
            created.push(entry);
            for r in &row.state.refunds {
                refunds.push((p.customer_id.clone(), r.id.clone()));
                refunds.push((p.seller_org_id.clone(), r.id.clone()));
            }
            for i in &row.state.invoices {
                invoices.push((p.customer_id.clone(), i.id.clone()));
                invoices.push((p.seller_org_id.clone(), i.id.clone()));
            }
            if let Some(r) = &row.state.review {
                reviews.push((p.seller_org_id.clone(), r.id.clone()));
                reviews.push((p.product_id.clone(), r.id.clone()));
                if !r.default {
                    shop_scores
                        .entry(p.seller_org_id.clone())
                        .or_default()
                        .add(r.quality, r.attitude, r.speed);
                }
            }
        }
        Ok(OrdersState {
            by_created: created.into_iter().collect(),
            by_party: PartyIndex::from_entries(parties),
            refunds_by_party: PartyIndex::from_entries(refunds),
            invoices_by_party: PartyIndex::from_entries(invoices),
            reviews_by_seller: PartyIndex::from_entries(reviews),
            shop_scores,
            by_id: stored
                .rows
                .into_iter()
                .map(|row| (row.id.clone(), Box::new(row)))
                .collect(),
            refund_orders: stored.refund_orders,
            invoice_orders: stored.invoice_orders,
            review_orders: stored.review_orders,
        })
    }
}

/// Filters of `GET /v1/orders` (all optional, combined with AND).
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub order_id: Option<String>,
    /// The customer whose orders a customer may see (their own); set by the caller's role,
    /// not by the query, and combined with the query's `customer_id` like every filter.
    pub party_customer_id: Option<String>,
    pub customer_id: Option<String>,
    pub seller_org_id: Option<String>,
    pub status: Option<String>,
    pub order_type: Option<String>,
    pub product_id: Option<String>,
    pub product_code: Option<String>,
    pub product_name: Option<String>,
    pub channel: Option<String>,
    pub created_from: Option<Timestamp>,
    pub created_to: Option<Timestamp>,
    pub completed_from: Option<Timestamp>,
    pub completed_to: Option<Timestamp>,
}

impl OrderFilter {
    pub fn matches(&self, row: &OrderRow) -> bool {
        let Some(p) = &row.state.placed else {
            return false;
        };
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.order_id, &row.id)
            && eq(&self.party_customer_id, &p.customer_id)
            && eq(&self.customer_id, &p.customer_id)
            && eq(&self.seller_org_id, &p.seller_org_id)
            && eq(&self.status, row.state.status_str())
            && eq(&self.order_type, p.order_type.as_str())
            && eq(&self.product_id, &p.product_id)
            && eq(&self.product_code, &p.product_code)
            && eq(&self.channel, p.channel.kind.as_str())
            && self
                .product_name
                .as_deref()
                .is_none_or(|n| p.product_name.to_lowercase().contains(&n.to_lowercase()))
            && self.created_from.is_none_or(|f| row.created_at >= f)
            && self.created_to.is_none_or(|t| row.created_at <= t)
            && (self.completed_from.is_none() && self.completed_to.is_none()
                || row.state.completed_at.is_some_and(|c| {
                    self.completed_from.is_none_or(|f| c >= f)
                        && self.completed_to.is_none_or(|t| c <= t)
                }))
    }
}

impl OrdersState {
    /// Lists a placed order under its creation time, customer, seller and product.
    fn index(&mut self, id: &str, at: Timestamp, p: &OrderPlaced) {
        let entry = (at, Arc::<str>::from(id));
        self.by_party.insert_under(
            &[&p.customer_id, &p.seller_org_id, &p.product_id],
            entry.clone(),
        );
        self.by_created.insert(entry);
    }

    /// Orders matching `filter`, newest first (ties: larger id first), after the cursor key
    /// `after` (a [`list_key`]; None if it is not one), at most `limit`; answers the rows with
    /// the key of each and whether more follow. A filter on a customer, a seller or a product
    /// walks only the smallest of their sets of orders, and the cursor is a seek, not a scan.
    pub fn list(
        &self,
        filter: &OrderFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Option<(Vec<(String, OrderRow)>, bool)> {
        static NONE: BTreeSet<(Timestamp, Arc<str>)> = BTreeSet::new();
        let one;
        let index = if let Some(row) = filter.order_id.as_ref().and_then(|id| self.by_id.get(id)) {
            one = BTreeSet::from([(row.created_at, Arc::from(row.id.as_str()))]);
            &one
        } else {
            // Every order the filter can match is in each of these sets: walk the smallest.
            [
                &filter.party_customer_id,
                &filter.customer_id,
                &filter.seller_org_id,
                &filter.product_id,
            ]
            .into_iter()
            .flatten()
            .map(|key| self.by_party.of(key).unwrap_or(&NONE))
            .min_by_key(|set| set.len())
            .unwrap_or(&self.by_created)
        };
        let newest_first: Box<dyn Iterator<Item = &(Timestamp, Arc<str>)>> = match after {
            None => Box::new(index.iter().rev()),
            Some(key) => {
                let (at, id) = parse_list_key(key)?;
                Box::new(index.range(..(at, Arc::from(id))).rev())
            }
        };
        let mut out = Vec::new();
        let mut more = false;
        for (at, id) in newest_first {
            let Some(row) = self.by_id.get(&**id) else {
                continue;
            };
            if !filter.matches(row) {
                continue;
            }
            if out.len() == limit {
                more = true;
                break;
            }
            out.push((list_key(*at, id), OrderRow::clone(row)));
        }
        Some((out, more))
    }
}

/// Cursor key of a listed order (opaque to clients): the creation time counted down from the
/// end of time, then the id.
pub fn list_key(at: Timestamp, id: &str) -> String {
    format!("{:020}:{id}", i64::MAX - at.as_micros())
}

/// The (created at, id) of a [`list_key`], or None if `key` is not one.
pub fn parse_list_key(key: &str) -> Option<(Timestamp, String)> {
    let (countdown, id) = key.split_once(':')?;
    if countdown.len() != 20 || !countdown.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let at = i64::MAX.checked_sub(countdown.parse::<i64>().ok()?)?;
    Some((Timestamp::from_micros(at), id.to_owned()))
}

#[derive(Debug)]
pub struct Orders;

impl ReadModel for Orders {
    const NAME: &'static str = "orders";
    const VERSION: u32 = 5;
    type State = OrdersState;

    fn apply(state: &mut OrdersState, r: &Record) -> Result<(), ApplyError> {
        let Some(id) = r.stream_id.strip_prefix("order-") else {
            return Ok(());
        };
        let e: OrderEvent = decode(r)?;
        let at = Timestamp::from_micros(r.recorded_at_micros);
        if let OrderEvent::OrderPlaced(p) = &e {
            state.index(id, p.placed_at, p);
        }
        let row = state.by_id.entry(id.to_owned()).or_insert_with(|| {
            Box::new(OrderRow {
                id: id.to_owned(),
                state: OrderState::default(),
                version: 0,
                created_at: at,
            })
        });
        match &e {
            OrderEvent::OrderPlaced(p) => row.created_at = p.placed_at,
            OrderEvent::RefundRequested(r) => {
                state
                    .refund_orders
                    .insert(r.refund_id.clone(), id.to_owned());
                if let Some(p) = &row.state.placed {
                    state.refunds_by_party.insert(
                        &p.customer_id,
                        &p.seller_org_id,
                        r.refund_id.clone(),
                    );
                }
            }
            OrderEvent::InvoiceRequested(i) => {
                state
                    .invoice_orders
                    .insert(i.invoice_id.clone(), id.to_owned());
                if let Some(p) = &row.state.placed {
                    state.invoices_by_party.insert(
                        &p.customer_id,
                        &p.seller_org_id,
                        i.invoice_id.clone(),
                    );
                }
            }
            OrderEvent::ReviewSubmitted(ReviewSubmitted { review_id, .. })
            | OrderEvent::ReviewDefaulted(ReviewDefaulted { review_id, .. }) => {
                state.review_orders.insert(review_id.clone(), id.to_owned());
                if let Some(p) = &row.state.placed {
                    state
                        .reviews_by_seller
                        .insert_under(&[&p.seller_org_id, &p.product_id], review_id.clone());
                    // A defaulted review does not count towards the shop score.
                    if let OrderEvent::ReviewSubmitted(r) = &e {
                        state
                            .shop_scores
                            .entry(p.seller_org_id.clone())
                            .or_default()
                            .add(r.quality, r.attitude, r.speed);
                    }
                }
            }
            _ => {}
        }
        row.state = Order::evolve(std::mem::take(&mut row.state), &e);
        row.version = r.version;
        Ok(())
    }
}
