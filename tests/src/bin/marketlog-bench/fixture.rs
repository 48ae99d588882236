//! The shared fixture of the scenarios that need a big log (`rebuild`, `history`, `restart`,
//! `scale`, `disk`, `http_reads_under_write`, `read_model_memory`): a data dir of place + pay
//! orders written through the command runner as `command_inprocess` writes them, with one
//! order of [`HISTORY_EVENTS`] events in the middle, left as a stopped server leaves it
//! (every checkpoint at the head, the log closed).
//!
//! Layout of a fixture root: `data/` (the data dir) and `fixture.json` ([`FixtureInfo`]: the
//! ids and tokens a scenario needs to act on it). It is built and used in child processes
//! (`marketlog-bench --child …`): a data dir is opened by one process at a time, and a child
//! frees it (and its memory) completely when it exits.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{market, now, Market};

/// Customers of the fixture: 64 readers and 32 writers in `http_reads_under_write`.
pub const CUSTOMERS: usize = 96;
/// Tasks that write the fixture (as `command_inprocess` at 64).
pub const WRITERS: usize = 64;
/// One order in ten stays unpaid, as in a real store.
pub const UNPAID_EVERY: u64 = 10;
/// Price changes of the history order before its payment.
pub const HISTORY_PRICE_CHANGES: u64 = 20;
/// Refund requests of the history order, each rejected by the seller.
pub const HISTORY_REFUND_ROUNDS: u64 = 14;
/// Events of the history order: placed, the price changes, paid, then a request and a
/// rejection per refund round.
pub const HISTORY_EVENTS: u64 = 1 + HISTORY_PRICE_CHANGES + 1 + 2 * HISTORY_REFUND_ROUNDS;
/// List price of the bench product's spec (`market`).
const PRICE_CENTS: i64 = 9_900;

/// What a scenario needs to know about a fixture.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FixtureInfo {
    /// Log head when the fixture was left.
    pub events: u64,
    pub orders: u64,
    pub paid_orders: u64,
    pub seller_org_id: String,
    pub product_id: String,
    pub seller_id: String,
    pub seller_token: String,
    pub customer_ids: Vec<String>,
    pub customer_tokens: Vec<String>,
    /// The order of [`HISTORY_EVENTS`] events.
    pub history_order_id: String,
    pub history_events: u64,
    pub build_seconds: f64,
}

pub fn data_dir(root: &Path) -> PathBuf {
    root.join("data")
}

fn info_path(root: &Path) -> PathBuf {
    root.join("fixture.json")
}

/// The info of the fixture at `root`, if one was built there.
pub fn read_info(root: &Path) -> Option<FixtureInfo> {
    let text = std::fs::read_to_string(info_path(root)).ok()?;
    serde_json::from_str(&text).ok()
}

fn meta(actor: domain::Actor, command: &'static str) -> api::runner::CommandMeta {
    api::runner::CommandMeta {
        actor,
        correlation_id: "bench".into(),
        causation_id: "bench".into(),
        idempotency: None,
        if_match: None,
        command,
    }
}

/// Places an order of the bench product for customer `t`; its id.
async fn place(m: &Market, t: usize) -> Option<String> {
    let caller = &m.customers[t];
    let order_id = m.app.ids.new_id(domain::ids::IdKind::Order);
    let input = domain::order::PlaceOrder {
        order_id: order_id.clone(),
        customer_id: caller.id.clone(),
        product_id: m.product_id.clone(),
        spec_id: "s".into(),
        quantity: 1,
        order_type: "new".into(),
        instance_id: None,
        coupon_id: None,
        client: None,
        channel_kind: None,
        channel_ref: None,
        remark: None,
    };
    m.app
        .runner
        .decide::<domain::order::Order>(&meta(caller.actor(), "PlaceOrder"), &input)
        .await
        .ok()
        .map(|_| order_id)
}

async fn pay(m: &Market, t: usize, order_id: &str, amount_cents: i64) -> bool {
    let pay = domain::order::PayOrder {
        order_id: order_id.to_owned(),
        amount_cents,
        voucher_cents: 0,
    };
    m.app
        .runner
        .decide::<domain::order::Order>(&meta(m.customers[t].actor(), "PayOrder"), &pay)
        .await
        .is_ok()
}

/// Writes place + pay orders with [`WRITERS`] tasks until the log holds `target` events.
async fn fill(m: &Arc<Market>, target: u64, orders: &Arc<AtomicU64>, paid: &Arc<AtomicU64>) {
    let mut tasks = Vec::with_capacity(WRITERS);
    for t in 0..WRITERS {
        let (m, orders, paid) = (Arc::clone(m), Arc::clone(orders), Arc::clone(paid));
        tasks.push(tokio::spawn(async move {
            while m.app.store.head() < target {
                let Some(order_id) = place(&m, t).await else {
                    continue;
                };
                let n = orders.fetch_add(1, Ordering::Relaxed);
                if !n.is_multiple_of(UNPAID_EVERY) && pay(&m, t, &order_id, PRICE_CENTS).await {
                    paid.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// The history order: placed by customer 0, [`HISTORY_PRICE_CHANGES`] price changes by the
/// seller, paid, then [`HISTORY_REFUND_ROUNDS`] refund requests of 1 yuan, each rejected by
/// the seller (one open refund at a time; all inside the 5-day window). Its id and version.
async fn history_order(m: &Market) -> Result<(String, u64), String> {
    use domain::order::{order_stream, Approver, DecideRefund, Order, OrderCommand};
    let order_id = place(m, 0).await.ok_or("placing the history order")?;
    let stream = order_stream(&order_id);
    let seller = || meta(m.seller.actor(), "Bench");
    let customer = || meta(m.customers[0].actor(), "Bench");
    let mut payable = PRICE_CENTS;
    for k in 0..HISTORY_PRICE_CHANGES {
        payable -= 10;
        let change = OrderCommand::ChangePrice {
            new_price_cents: payable,
            reason: format!("bench price change {k}"),
        };
        m.app
            .runner
            .execute::<Order>(&seller(), &stream, &change)
            .await
            .map_err(|e| format!("price change: {e:?}"))?;
    }
    if !pay(m, 0, &order_id, payable).await {
        return Err("paying the history order".into());
    }
    let mut version = 0;
    for k in 0..HISTORY_REFUND_ROUNDS {
        let refund_id = m.app.ids.new_id(domain::ids::IdKind::Refund);
        let request = OrderCommand::RequestRefund {
            refund_id: refund_id.clone(),
            amount_cents: Some(100),
            reason: format!("bench refund request {k}"),
        };
        m.app
            .runner
            .execute::<Order>(&customer(), &stream, &request)
            .await
            .map_err(|e| format!("refund request: {e:?}"))?;
        let reject = DecideRefund {
            order_id: order_id.clone(),
            command: OrderCommand::RejectRefund {
                refund_id,
                approver: Approver::Seller,
                reason: format!("bench rejection {k}"),
            },
        };
        version = m
            .app
            .runner
            .decide::<Order>(&seller(), &reject)
            .await
            .map_err(|e| format!("refund rejection: {e:?}"))?
            .version;
    }
    Ok((order_id, version))
}

/// Child: builds a fixture of about `target` events at `root` and prints its info.
pub async fn build(root: &Path, target: u64) -> Result<FixtureInfo, String> {
    let started = now();
    let data = data_dir(root);
    let m = Arc::new(market(&data, CUSTOMERS).await);
    let (orders, paid) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    fill(&m, target / 2, &orders, &paid).await;
    let (history_order_id, history_events) = history_order(&m).await?;
    if history_events != HISTORY_EVENTS {
        return Err(format!(
            "the history order has {history_events} events, not {HISTORY_EVENTS}"
        ));
    }
    fill(&m, target, &orders, &paid).await;
    let head = m.app.store.head();
    m.app
        .wait_all(head)
        .await
        .map_err(|e| format!("projections did not catch up: {e:?}"))?;
    close(&m.app).await?;
    let info = FixtureInfo {
        events: head,
        orders: orders.load(Ordering::Relaxed) + 1,
        paid_orders: paid.load(Ordering::Relaxed) + 1,
        seller_org_id: m.seller_org_id.clone(),
        product_id: m.product_id.clone(),
        seller_id: m.seller.id.clone(),
        seller_token: m.seller_token.clone(),
        customer_ids: m.customers.iter().map(|c| c.id.clone()).collect(),
        customer_tokens: m.customer_tokens.clone(),
        history_order_id,
        history_events,
        build_seconds: started.elapsed().as_secs_f64(),
    };
    let text = serde_json::to_string(&info).map_err(|e| e.to_string())?;
    std::fs::write(info_path(root), text).map_err(|e| format!("writing fixture.json: {e}"))?;
    Ok(info)
}

/// Leaves the data dir as `marketlog serve` does when it stops: every model checkpointed at
/// its position, the log closed (head anchor written).
pub async fn close(app: &api::state::App) -> Result<(), String> {
    for p in &app.projections {
        p.checkpoint()
            .map_err(|e| format!("checkpoint of {}: {e}", p.name()))?;
    }
    let log = app.log.clone();
    tokio::task::spawn_blocking(move || log.close())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("closing the log: {e}"))
}

/// The fixture at `root` opened as the bench server's app, with its parties.
pub async fn open(root: &Path, info: &FixtureInfo) -> Market {
    use api::extract::Caller;
    use domain::Role;
    let app = super::open_app(&data_dir(root));
    let _ = app.wait_all(app.store.head()).await;
    let customers = info
        .customer_ids
        .iter()
        .enumerate()
        .map(|(i, id)| Caller {
            id: id.clone(),
            role: Role::Customer,
            name: format!("c{i}"),
            org_id: None,
            staff_id: None,
            real_name_verified: false,
        })
        .collect();
    Market {
        app,
        seller_org_id: info.seller_org_id.clone(),
        product_id: info.product_id.clone(),
        customers,
        customer_tokens: info.customer_tokens.clone(),
        seller: Caller {
            id: info.seller_id.clone(),
            role: Role::IsvAdmin,
            name: "seller".into(),
            org_id: Some(info.seller_org_id.clone()),
            staff_id: None,
            real_name_verified: false,
        },
        seller_token: info.seller_token.clone(),
    }
}
