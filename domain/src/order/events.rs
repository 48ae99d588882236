//! The order's stored events and the value types they carry.

use super::*;
use crate::codec::{from_payload_bytes, to_payload_bytes, CodecError};
use crate::pricing::{AppliedCoupon, AppliedPromotion};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    New,
    Renewal,
    Trial,
    Conversion,
    Upgrade,
}

impl OrderType {
    pub fn parse(s: &str) -> Option<OrderType> {
        match s {
            "new" => Some(OrderType::New),
            "renewal" => Some(OrderType::Renewal),
            "trial" => Some(OrderType::Trial),
            "conversion" => Some(OrderType::Conversion),
            "upgrade" => Some(OrderType::Upgrade),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::New => "new",
            OrderType::Renewal => "renewal",
            OrderType::Trial => "trial",
            OrderType::Conversion => "conversion",
            OrderType::Upgrade => "upgrade",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Client {
    Web,
    Mobile,
    Api,
}

impl Client {
    pub fn parse(s: &str) -> Option<Client> {
        match s {
            "web" => Some(Client::Web),
            "mobile" => Some(Client::Mobile),
            "api" => Some(Client::Api),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Client::Web => "web",
            Client::Mobile => "mobile",
            Client::Api => "api",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    OnlineStore,
    CustomSolution,
    Distribution,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::OnlineStore => "online_store",
            ChannelKind::CustomSolution => "custom_solution",
            ChannelKind::Distribution => "distribution",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub kind: ChannelKind,
    /// Solution id (custom_solution) or distributor id (distribution).
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Unpaid,
    Paid,
    Refunded,
    Voided,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Unpaid => "unpaid",
            OrderStatus::Paid => "paid",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Voided => "voided",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidReason {
    CancelledByCustomer,
    PaymentTimeout,
}

impl VoidReason {
    pub fn as_str(self) -> &'static str {
        match self {
            VoidReason::CancelledByCustomer => "cancelled_by_customer",
            VoidReason::PaymentTimeout => "payment_timeout",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: String,
    pub order_type: OrderType,
    pub customer_id: String,
    pub seller_org_id: String,
    pub product_id: String,
    pub product_code: String,
    pub product_name: String,
    pub delivery: DeliveryKind,
    pub spec_id: String,
    pub spec_name: String,
    pub duration: u32,
    pub unit: DurationUnit,
    pub instance_id: Option<String>,
    pub quantity: u32,
    /// Spec price at placement.
    pub unit_price: Cents,
    /// Spec price × quantity.
    pub original: Cents,
    pub payable: Cents,
    pub channel: Channel,
    /// Snapshot of the product's commission for distribution orders.
    pub commission_percent: Option<u32>,
    pub client: Option<Client>,
    pub remark: Option<String>,
    pub placed_at: Timestamp,
    /// When the 7-day payment timeout voids the order if it is still unpaid.
    pub payment_due_at: Timestamp,
    /// The promotion the line got (schema 2; `None` for orders placed before promotions).
    pub promotion: Option<AppliedPromotion>,
    /// The coupon the line got (schema 2).
    pub coupon: Option<AppliedCoupon>,
}

/// `OrderPlaced` as schema version 1 stored it (before promotions and coupons).
#[derive(Deserialize)]
struct OrderPlacedV1 {
    order_id: String,
    order_type: OrderType,
    customer_id: String,
    seller_org_id: String,
    product_id: String,
    product_code: String,
    product_name: String,
    delivery: DeliveryKind,
    spec_id: String,
    spec_name: String,
    duration: u32,
    unit: DurationUnit,
    instance_id: Option<String>,
    quantity: u32,
    unit_price: Cents,
    original: Cents,
    payable: Cents,
    channel: Channel,
    commission_percent: Option<u32>,
    client: Option<Client>,
    remark: Option<String>,
    placed_at: Timestamp,
    payment_due_at: Timestamp,
}

/// Schema 1 → 2: an order placed before promotions and coupons got neither.
fn order_placed_v1_to_v2(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
    let old: OrderPlacedV1 = from_payload_bytes("OrderPlaced", 1, bytes)?;
    to_payload_bytes(
        "OrderPlaced",
        &OrderPlaced {
            order_id: old.order_id,
            order_type: old.order_type,
            customer_id: old.customer_id,
            seller_org_id: old.seller_org_id,
            product_id: old.product_id,
            product_code: old.product_code,
            product_name: old.product_name,
            delivery: old.delivery,
            spec_id: old.spec_id,
            spec_name: old.spec_name,
            duration: old.duration,
            unit: old.unit,
            instance_id: old.instance_id,
            quantity: old.quantity,
            unit_price: old.unit_price,
            original: old.original,
            payable: old.payable,
            channel: old.channel,
            commission_percent: old.commission_percent,
            client: old.client,
            remark: old.remark,
            placed_at: old.placed_at,
            payment_due_at: old.payment_due_at,
            promotion: None,
            coupon: None,
        },
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPriceChanged {
    pub old_payable: Cents,
    pub new_payable: Cents,
    pub reason: String,
    pub changed_by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPaid {
    pub amount: Cents,
    pub voucher: Cents,
    pub cash: Cents,
    pub at: Timestamp,
    /// Automatic products complete at payment (manual ones when delivery completes).
    pub completed: bool,
}

/// A manual order's delivery project completed: the order's completion time (SPEC.md §3).
/// Automatic orders complete at payment (`OrderPaid::completed`) and never get this event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCompleted {
    pub delivery_id: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderVoided {
    pub reason: VoidReason,
    pub at: Timestamp,
    /// For `payment_timeout`: the deadline that expired.
    pub deadline_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundInitiator {
    Customer,
    Seller,
    /// A delivery's `cancel_and_refund` timeout or a platform close (SPEC.md §8): a full
    /// refund approved in the same append, with no review.
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundKind {
    /// A customer's request.
    Request,
    /// Seller-initiated, the whole remaining balance.
    Full,
    /// Seller-initiated, an amount ≤ the balance.
    Remaining,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    Immediate,
    Keep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    PendingSeller,
    PendingPlatform,
    Refunded,
    Rejected,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::PendingSeller => "pending_seller",
            RefundStatus::PendingPlatform => "pending_platform",
            RefundStatus::Refunded => "refunded",
            RefundStatus::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequested {
    pub refund_id: String,
    pub initiated_by: RefundInitiator,
    pub kind: RefundKind,
    pub amount: Cents,
    pub release: Release,
    pub keep_reason: Option<String>,
    pub reason: String,
    pub requested_by: String,
    pub at: Timestamp,
    /// Customer requests: approved automatically at this time if the seller does nothing.
    pub auto_approve_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundApproved {
    pub refund_id: String,
    pub amount: Cents,
    pub cash: Cents,
    pub voucher: Cents,
    pub approved_by: String,
    pub at: Timestamp,
    /// True when no person approved it: the 3-day rule (with its `deadline_id`) or a
    /// system refund (without one).
    pub automatic: bool,
    pub deadline_id: Option<String>,
    /// Distribution orders: the commission on the refunded amount, clawed back.
    pub commission_clawback: Cents,
    /// The balance after this refund.
    pub balance_after: Cents,
    pub release: Release,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRejected {
    pub refund_id: String,
    pub reason: String,
    pub rejected_by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceType {
    Ordinary,
    SpecialVat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Requested,
    Issued,
    Rejected,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Requested => "requested",
            InvoiceStatus::Issued => "issued",
            InvoiceStatus::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRequested {
    pub invoice_id: String,
    pub invoice_type: InvoiceType,
    pub title: String,
    pub tax_id: String,
    pub address: String,
    /// Cash paid minus cash refunded (vouchers are invoiced to the platform).
    pub amount: Cents,
    /// The seller pays postage when the order amount exceeds 200 yuan; else it may ship collect.
    pub seller_pays_postage: bool,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceIssued {
    pub invoice_id: String,
    pub tracking: String,
    pub issued_by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRejected {
    pub invoice_id: String,
    pub reason: String,
    pub rejected_by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewSubmitted {
    pub review_id: String,
    pub quality: u8,
    pub attitude: u8,
    pub speed: u8,
    pub comment: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewDefaulted {
    pub review_id: String,
    pub at: Timestamp,
    pub deadline_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewReplied {
    pub review_id: String,
    pub text: String,
    pub replied_by: String,
    pub at: Timestamp,
}

crate::event_enum! {
    /// Events of an order (refunds live in their order's stream, so "at most one open refund"
    /// and "refunded ≤ paid" are single-stream invariants).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum OrderEvent {
        OrderPlaced(OrderPlaced) version 2 upcasters { 1 => order_placed_v1_to_v2 },
        OrderPriceChanged(OrderPriceChanged) version 1,
        OrderPaid(OrderPaid) version 1,
        OrderVoided(OrderVoided) version 1,
        RefundRequested(RefundRequested) version 1,
        RefundApproved(RefundApproved) version 1,
        RefundRejected(RefundRejected) version 1,
        InvoiceRequested(InvoiceRequested) version 1,
        InvoiceIssued(InvoiceIssued) version 1,
        InvoiceRejected(InvoiceRejected) version 1,
        ReviewSubmitted(ReviewSubmitted) version 1,
        ReviewDefaulted(ReviewDefaulted) version 1,
        ReviewReplied(ReviewReplied) version 1,
        OrderCompleted(OrderCompleted) version 1,
    }
}
