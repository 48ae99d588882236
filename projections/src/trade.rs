//! The trade statistics model (SPEC.md §10, API.md §8 `GET /v1/dashboard/trade`): per seller
//! org, every figure of the dashboard pre-aggregated in 15-minute UTC slots, so that a range
//! of business days in any zone (every zone offset in use is a multiple of 15 minutes) is a
//! range of slots. The model has no zone: the server's `--timezone` is applied at read time.
//!
//! - Orders count in the slot of their creation (`OrderPlaced.placed_at`): the count by type,
//!   the order amount (the payable as it stands now: a price change moves the creation
//!   slot's amount), the ordering customer, the product (top products by orders).
//! - Payments count in the slot of their payment: paid, cash and voucher, the paying customer.
//! - Refunds: the requested amount in the slot of the request (every refund: customer,
//!   seller and system), the refunded amount with its cash / voucher split in the slot of
//!   the approval.
//! - Page views count in the slot of their `at`, for the seller of their product (known
//!   from `ProductCreated`): views (PV), the visitor (UV), per product the visitor.
//!
//! Distinct figures (customers, visitors) are kept as sorted sets of interned ids per slot,
//! so a range unions them. Every id is interned once as a `u32` ([`Interner`]); the state
//! holds only `BTreeMap`s and sorted vectors, so its serialized bytes are a function of the
//! events applied (rebuilt equals incremental, byte for byte).
//!
//! Invariant: every figure of a range equals a recount of the events of the range
//! (`tests/tests/trade_stats.rs` recounts them from `/v1/events`).

use std::collections::{BTreeMap, HashMap};

use domain::order::{OrderEvent, OrderType};
use domain::pageview::PageViewsEvent;
use domain::product::ProductEvent;
use domain::Timestamp;
use eventlog::Record;
use serde::{Deserialize, Serialize};

use crate::runtime::{decode, ApplyError, ReadModel};

/// Length of one slot: every zone offset in use is a multiple of it.
pub const SLOT_MICROS: i64 = 15 * 60 * 1_000_000;
/// The order types in the order of [`Figures::orders`].
pub const ORDER_TYPES: [OrderType; 5] = [
    OrderType::New,
    OrderType::Renewal,
    OrderType::Trial,
    OrderType::Conversion,
    OrderType::Upgrade,
];

/// The slot holding instant `t` (instants before 1970 fall in slot 0).
pub fn slot_of(t: Timestamp) -> u32 {
    u32::try_from(t.as_micros().max(0) / SLOT_MICROS).unwrap_or(u32::MAX)
}

fn type_index(t: OrderType) -> usize {
    match t {
        OrderType::New => 0,
        OrderType::Renewal => 1,
        OrderType::Trial => 2,
        OrderType::Conversion => 3,
        OrderType::Upgrade => 4,
    }
}

/// Every id the model has met, numbered in order of first appearance. Serialized as the
/// list; the index back is rebuilt on load.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct Interner {
    ids: Vec<String>,
    index: HashMap<String, u32, foldhash::fast::RandomState>,
}

impl PartialEq for Interner {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids
    }
}

impl From<Vec<String>> for Interner {
    fn from(ids: Vec<String>) -> Interner {
        let mut index = HashMap::with_capacity_and_hasher(ids.len(), Default::default());
        for (i, id) in ids.iter().enumerate() {
            index.insert(id.clone(), u32::try_from(i).unwrap_or(u32::MAX));
        }
        Interner { ids, index }
    }
}

impl From<Interner> for Vec<String> {
    fn from(i: Interner) -> Vec<String> {
        i.ids
    }
}

impl Interner {
    fn intern(&mut self, id: &str) -> u32 {
        if let Some(&n) = self.index.get(id) {
            return n;
        }
        let n = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        self.ids.push(id.to_owned());
        self.index.insert(id.to_owned(), n);
        n
    }

    /// The number of `id`, if it was met.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The id numbered `n`.
    pub fn name(&self, n: u32) -> &str {
        self.ids.get(n as usize).map_or("", String::as_str)
    }
}

/// The additive figures of one seller in one slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Orders created, by type (in the order of [`ORDER_TYPES`]).
    pub orders: [u64; 5],
    pub order_amount: i64,
    pub paid: i64,
    pub paid_cash: i64,
    pub paid_voucher: i64,
    pub refund_requested: i64,
    pub refunded: i64,
    pub refunded_cash: i64,
    pub refunded_voucher: i64,
    pub views: u64,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        for (a, b) in self.orders.iter_mut().zip(o.orders) {
            *a += b;
        }
        self.order_amount += o.order_amount;
        self.paid += o.paid;
        self.paid_cash += o.paid_cash;
        self.paid_voucher += o.paid_voucher;
        self.refund_requested += o.refund_requested;
        self.refunded += o.refunded;
        self.refunded_cash += o.refunded_cash;
        self.refunded_voucher += o.refunded_voucher;
        self.views += o.views;
    }
}

/// What the model keeps of an order to attribute its later events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRow {
    pub seller: u32,
    pub product: u32,
    pub customer: u32,
    /// The slot of its creation.
    pub slot: u32,
    pub payable: i64,
}

/// A sorted set of interned ids.
type IdSet = Vec<u32>;

fn insert(set: &mut IdSet, id: u32) {
    if let Err(at) = set.binary_search(&id) {
        set.insert(at, id);
    }
}

/// One seller's figures by slot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerBook {
    pub slots: BTreeMap<u32, Figures>,
    /// (slot, product) → orders created.
    pub product_orders: BTreeMap<(u32, u32), u64>,
    /// slot → customers who ordered.
    pub ordering: BTreeMap<u32, IdSet>,
    /// slot → customers who paid.
    pub paying: BTreeMap<u32, IdSet>,
    /// slot → visitors of the seller's product pages.
    pub visitors: BTreeMap<u32, IdSet>,
    /// (slot, product) → its visitors.
    pub product_visitors: BTreeMap<(u32, u32), IdSet>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TradeState {
    pub ids: Interner,
    /// Product → its seller org.
    pub product_seller: BTreeMap<u32, u32>,
    pub orders: BTreeMap<String, OrderRow>,
    pub sellers: BTreeMap<u32, SellerBook>,
}

/// The figures of one seller over a range of slots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeFigures {
    pub sums: Figures,
    pub ordering_customers: u64,
    pub paying_customers: u64,
    pub visitors: u64,
}

fn distinct<'a>(sets: impl Iterator<Item = &'a IdSet>) -> u64 {
    let mut all: Vec<u32> = sets.flatten().copied().collect();
    all.sort_unstable();
    all.dedup();
    all.len() as u64
}

/// A ranking by count, highest first, ties by id; at most `n`.
fn top(counts: BTreeMap<u32, u64>, ids: &Interner, n: usize) -> Vec<(String, u64)> {
    let mut ranked: Vec<(String, u64)> = counts
        .into_iter()
        .map(|(p, c)| (ids.name(p).to_owned(), c))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(n);
    ranked
}

impl TradeState {
    fn book(&self, seller: &str) -> Option<&SellerBook> {
        self.ids.get(seller).and_then(|s| self.sellers.get(&s))
    }

    /// Seller `seller`'s figures over slots `from..to`.
    pub fn range(&self, seller: &str, from: u32, to: u32) -> RangeFigures {
        let Some(b) = self.book(seller).filter(|_| from < to) else {
            return RangeFigures::default();
        };
        let mut sums = Figures::default();
        for f in b.slots.range(from..to).map(|(_, f)| f) {
            sums.add(f);
        }
        RangeFigures {
            sums,
            ordering_customers: distinct(b.ordering.range(from..to).map(|(_, s)| s)),
            paying_customers: distinct(b.paying.range(from..to).map(|(_, s)| s)),
            visitors: distinct(b.visitors.range(from..to).map(|(_, s)| s)),
        }
    }

    /// The `n` products of `seller` with the most orders created in slots `from..to` (ties
    /// by product id): (product id, orders).
    pub fn top_products(&self, seller: &str, from: u32, to: u32, n: usize) -> Vec<(String, u64)> {
        let Some(b) = self.book(seller).filter(|_| from < to) else {
            return Vec::new();
        };
        let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
        for (&(_, product), &c) in b.product_orders.range((from, 0)..(to, 0)) {
            *counts.entry(product).or_default() += c;
        }
        top(counts, &self.ids, n)
    }

    /// The `n` products of `seller` with the most distinct visitors in slots `from..to`
    /// (ties by product id): (product id, visitors).
    pub fn top_products_by_visitors(
        &self,
        seller: &str,
        from: u32,
        to: u32,
        n: usize,
    ) -> Vec<(String, u64)> {
        let Some(b) = self.book(seller).filter(|_| from < to) else {
            return Vec::new();
        };
        let mut sets: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for (&(_, product), visitors) in b.product_visitors.range((from, 0)..(to, 0)) {
            sets.entry(product).or_default().extend(visitors);
        }
        let counts = sets
            .into_iter()
            .map(|(p, mut v)| {
                v.sort_unstable();
                v.dedup();
                (p, v.len() as u64)
            })
            .collect();
        top(counts, &self.ids, n)
    }

    fn seller_book(&mut self, seller: u32) -> &mut SellerBook {
        self.sellers.entry(seller).or_default()
    }

    fn apply_order(&mut self, order_id: &str, e: OrderEvent) {
        match e {
            OrderEvent::OrderPlaced(p) => {
                let row = OrderRow {
                    seller: self.ids.intern(&p.seller_org_id),
                    product: self.ids.intern(&p.product_id),
                    customer: self.ids.intern(&p.customer_id),
                    slot: slot_of(p.placed_at),
                    payable: p.payable.0,
                };
                self.orders.insert(order_id.to_owned(), row);
                let b = self.seller_book(row.seller);
                let f = b.slots.entry(row.slot).or_default();
                f.orders[type_index(p.order_type)] += 1;
                f.order_amount += row.payable;
                *b.product_orders.entry((row.slot, row.product)).or_default() += 1;
                insert(b.ordering.entry(row.slot).or_default(), row.customer);
            }
            OrderEvent::OrderPriceChanged(c) => {
                let Some(row) = self.orders.get_mut(order_id) else {
                    return;
                };
                row.payable = c.new_payable.0;
                let row = *row;
                let f = self
                    .seller_book(row.seller)
                    .slots
                    .entry(row.slot)
                    .or_default();
                f.order_amount += c.new_payable.0 - c.old_payable.0;
            }
            OrderEvent::OrderPaid(p) => {
                let Some(row) = self.orders.get(order_id).copied() else {
                    return;
                };
                let slot = slot_of(p.at);
                let b = self.seller_book(row.seller);
                let f = b.slots.entry(slot).or_default();
                f.paid += p.amount.0;
                f.paid_cash += p.cash.0;
                f.paid_voucher += p.voucher.0;
                insert(b.paying.entry(slot).or_default(), row.customer);
            }
            OrderEvent::RefundRequested(r) => {
                let Some(row) = self.orders.get(order_id).copied() else {
                    return;
                };
                let f = self
                    .seller_book(row.seller)
                    .slots
                    .entry(slot_of(r.at))
                    .or_default();
                f.refund_requested += r.amount.0;
            }
            OrderEvent::RefundApproved(r) => {
                let Some(row) = self.orders.get(order_id).copied() else {
                    return;
                };
                let f = self
                    .seller_book(row.seller)
                    .slots
                    .entry(slot_of(r.at))
                    .or_default();
                f.refunded += r.amount.0;
                f.refunded_cash += r.cash.0;
                f.refunded_voucher += r.voucher.0;
            }
            _ => {}
        }
    }
}

#[derive(Debug)]
pub struct Trade;

/// The event types the model reads (others are skipped without decoding).
const READS: &[&str] = &[
    "ProductCreated",
    "OrderPlaced",
    "OrderPriceChanged",
    "OrderPaid",
    "RefundRequested",
    "RefundApproved",
    "PageViewsRecorded",
];

impl ReadModel for Trade {
    const NAME: &'static str = "trade";
    const VERSION: u32 = 1;
    type State = TradeState;

    fn apply(state: &mut TradeState, r: &Record) -> Result<(), ApplyError> {
        if !READS.contains(&r.event_type.as_str()) {
            return Ok(());
        }
        if let Some(order_id) = r.stream_id.strip_prefix("order-") {
            let e: OrderEvent = decode(r)?;
            state.apply_order(order_id, e);
        } else if r.stream_id.starts_with("product-") {
            if let ProductEvent::ProductCreated(c) = decode::<ProductEvent>(r)? {
                let product = state.ids.intern(&c.product_id);
                let seller = state.ids.intern(&c.seller_org_id);
                state.product_seller.insert(product, seller);
            }
        } else if r.stream_id.starts_with("pageviews-") {
            let PageViewsEvent::PageViewsRecorded(batch) = decode::<PageViewsEvent>(r)?;
            for v in batch.views {
                let Some(product) = state.ids.get(&v.product_id) else {
                    continue;
                };
                let Some(&seller) = state.product_seller.get(&product) else {
                    continue;
                };
                let visitor = state.ids.intern(&v.visitor_id);
                let slot = slot_of(v.at);
                let b = state.seller_book(seller);
                b.slots.entry(slot).or_default().views += 1;
                insert(b.visitors.entry(slot).or_default(), visitor);
                insert(
                    b.product_visitors.entry((slot, product)).or_default(),
                    visitor,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::codec::EventCodec;
    use domain::order::{Channel, ChannelKind, OrderPaid, OrderPlaced};
    use domain::pageview::{PageView, PageViewsRecorded};
    use domain::product::{DeliveryKind, DurationUnit, ProductCreated};
    use domain::{Cents, WorkCalendar};

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn record<E: EventCodec>(position: u64, stream_id: &str, e: &E) -> Record {
        let encoded = e.encode().unwrap();
        Record {
            position,
            stream_id: stream_id.into(),
            version: 1,
            event_type: encoded.type_name.into(),
            schema_version: encoded.schema_version,
            recorded_at_micros: 0,
            actor: "system".into(),
            correlation_id: String::new(),
            causation_id: String::new(),
            payload: encoded.payload,
            crc32c: 0,
            chain: [0; 32],
        }
    }

    fn placed(order: &str, customer: &str, at: &str, payable: i64) -> OrderEvent {
        OrderEvent::OrderPlaced(OrderPlaced {
            order_id: order.into(),
            order_type: OrderType::New,
            customer_id: customer.into(),
            seller_org_id: "org_s".into(),
            product_id: "prd_1".into(),
            product_code: "C".into(),
            product_name: "P".into(),
            delivery: DeliveryKind::Saas,
            spec_id: "m".into(),
            spec_name: "m".into(),
            duration: 1,
            unit: DurationUnit::Month,
            instance_id: None,
            quantity: 1,
            unit_price: Cents(payable),
            original: Cents(payable),
            payable: Cents(payable),
            channel: Channel {
                kind: ChannelKind::OnlineStore,
                reference: None,
            },
            commission_percent: None,
            client: None,
            remark: None,
            placed_at: ts(at),
            payment_due_at: ts(at).plus_days(7),
            promotion: None,
            coupon: None,
        })
    }

    fn paid(at: &str, amount: i64, voucher: i64) -> OrderEvent {
        OrderEvent::OrderPaid(OrderPaid {
            amount: Cents(amount),
            voucher: Cents(voucher),
            cash: Cents(amount - voucher),
            at: ts(at),
            completed: true,
        })
    }

    fn apply_all(records: &[Record]) -> TradeState {
        let mut s = TradeState::default();
        for r in records {
            Trade::apply(&mut s, r).unwrap();
        }
        s
    }

    /// Slots `from..to` of the business days `from..=to` in `tz`.
    fn days(tz: chrono_tz::Tz, from: &str, to: &str) -> (u32, u32) {
        let c = WorkCalendar::new(tz);
        let d = |t: &str| chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").unwrap();
        let end = d(to).succ_opt().unwrap();
        (slot_of(c.day_start(d(from))), slot_of(c.day_start(end)))
    }

    #[test]
    fn figures_fall_on_the_business_day_of_the_zone_across_its_midnight() {
        // 23:50 and 00:10 in Shanghai are one UTC day (15:50, 16:10 UTC) but two business
        // days there.
        let records = [
            record(
                1,
                "order-ord_1",
                &placed("ord_1", "cus_a", "2026-12-01T23:50:00+08:00", 100),
            ),
            record(
                2,
                "order-ord_2",
                &placed("ord_2", "cus_b", "2026-12-02T00:10:00+08:00", 250),
            ),
            record(
                3,
                "order-ord_1",
                &paid("2026-12-02T00:05:00+08:00", 100, 30),
            ),
        ];
        let s = apply_all(&records);
        let shanghai = chrono_tz::Asia::Shanghai;
        let (a, b) = days(shanghai, "2026-12-01", "2026-12-01");
        let first = s.range("org_s", a, b);
        assert_eq!(first.sums.order_amount, 100);
        assert_eq!(first.sums.paid, 0, "paid after midnight");
        assert_eq!(first.ordering_customers, 1);
        let (a, b) = days(shanghai, "2026-12-02", "2026-12-02");
        let second = s.range("org_s", a, b);
        assert_eq!(second.sums.order_amount, 250);
        assert_eq!(
            (
                second.sums.paid,
                second.sums.paid_cash,
                second.sums.paid_voucher
            ),
            (100, 70, 30)
        );
        assert_eq!(second.paying_customers, 1);
        // In UTC both orders are on 2026-12-01.
        let (a, b) = days(chrono_tz::UTC, "2026-12-01", "2026-12-01");
        assert_eq!(s.range("org_s", a, b).sums.order_amount, 350);
        // A zone 45 minutes off the hour still splits on slot boundaries.
        let nepal = chrono_tz::Asia::Kathmandu;
        let (a, b) = days(nepal, "2026-12-01", "2026-12-01");
        assert_eq!(s.range("org_s", a, b).sums.orders[0], 2);
    }

    #[test]
    fn distinct_customers_and_visitors_are_counted_once_across_days() {
        let view = |visitor: &str, at: &str| PageView {
            product_id: "prd_1".into(),
            visitor_id: visitor.into(),
            at: ts(at),
            dwell_ms: 1,
        };
        let created = ProductEvent::ProductCreated(ProductCreated {
            product_id: "prd_1".into(),
            seller_org_id: "org_s".into(),
            code: "C".into(),
            name: "P".into(),
            category: "c".into(),
            delivery: DeliveryKind::Saas,
            delivery_days: 1,
            warranty_days: 1,
            flow_template_id: None,
            specs: vec![],
        });
        let views = PageViewsEvent::PageViewsRecorded(PageViewsRecorded {
            batch_id: "pgv_1".into(),
            views: vec![
                view("v1", "2026-12-01T10:00:00Z"),
                view("v1", "2026-12-02T10:00:00Z"),
                view("v2", "2026-12-02T11:00:00Z"),
            ],
            recorded_by: "system".into(),
            at: ts("2026-12-03T00:00:00Z"),
        });
        let records = [
            record(1, "product-prd_1", &created),
            record(
                2,
                "order-ord_1",
                &placed("ord_1", "cus_a", "2026-12-01T10:00:00Z", 100),
            ),
            record(
                3,
                "order-ord_2",
                &placed("ord_2", "cus_a", "2026-12-02T10:00:00Z", 100),
            ),
            record(
                4,
                "order-ord_3",
                &placed("ord_3", "cus_b", "2026-12-02T12:00:00Z", 100),
            ),
            record(5, "pageviews-pgv_1", &views),
        ];
        let s = apply_all(&records);
        let (a, b) = days(chrono_tz::UTC, "2026-12-01", "2026-12-02");
        let both = s.range("org_s", a, b);
        assert_eq!(both.sums.orders[0], 3);
        assert_eq!(both.ordering_customers, 2, "cus_a on both days counts once");
        assert_eq!((both.visitors, both.sums.views), (2, 3));
        assert_eq!(
            s.top_products_by_visitors("org_s", a, b, 3),
            vec![("prd_1".to_owned(), 2)]
        );
        assert_eq!(
            s.top_products("org_s", a, b, 3),
            vec![("prd_1".to_owned(), 3)]
        );
        let (a, b) = days(chrono_tz::UTC, "2026-12-01", "2026-12-01");
        let first = s.range("org_s", a, b);
        assert_eq!((first.ordering_customers, first.visitors), (1, 1));
        assert_eq!(s.range("org_nobody", a, b), RangeFigures::default());
    }

    #[test]
    fn the_state_survives_its_checkpoint_encoding() {
        let records = [
            record(
                1,
                "order-ord_1",
                &placed("ord_1", "cus_a", "2026-12-01T10:00:00Z", 100),
            ),
            record(2, "order-ord_1", &paid("2026-12-01T11:00:00Z", 100, 0)),
        ];
        let s = apply_all(&records);
        let bytes = bincode::serde::encode_to_vec(&s, bincode::config::standard()).unwrap();
        let (back, _): (TradeState, _) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!(back, s);
        assert_eq!(
            back.ids.get("cus_a"),
            s.ids.get("cus_a"),
            "the index is rebuilt"
        );
    }
}
