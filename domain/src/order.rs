//! Orders (SPEC.md §3): placement with a product snapshot, price changes of unpaid orders,
//! exact-amount payment split into cash and voucher, cancellation, and the 7-day payment
//! timeout. Stream `order-<order id>`.
//!
//! Invariants: status moves only `unpaid → paid` or `unpaid → voided`; only unpaid orders
//! change price; the paid amount equals the payable amount exactly; every event carries the
//! figures an auditor needs (old and new price, who, why, the rule that fired).

use serde::{Deserialize, Serialize};

use crate::deadline::{Deadline, DeadlineEffect, DeadlineRule};
use crate::decider::{Actor, Context, Decider};
use crate::error::{require_text, DomainError};
use crate::money::Cents;
use crate::product::{DeliveryKind, DurationUnit, ProductState, ProductStatus};
use crate::text::{require_printable, TextKind};
use crate::time::Timestamp;

pub const QUANTITY_MAX: u32 = 100;
pub const REMARK_CHARS_MAX: usize = 200;
pub const REASON_CHARS_MAX: usize = 200;
/// Unpaid orders are voided this many days after creation.
pub const PAYMENT_TIMEOUT_DAYS: u32 = 7;
pub const PRICE_CENTS_MAX: i64 = crate::product::PRICE_CENTS_MAX * QUANTITY_MAX as i64;

pub fn order_stream(order_id: &str) -> String {
    format!("order-{order_id}")
}

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
    /// True when the 3-day rule approved it.
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
        OrderPlaced(OrderPlaced) version 1,
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
    }
}

/// An invoice of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub invoice_type: InvoiceType,
    pub title: String,
    pub tax_id: String,
    pub address: String,
    pub amount: Cents,
    pub seller_pays_postage: bool,
    pub status: InvoiceStatus,
    pub requested_at: Timestamp,
    pub tracking: Option<String>,
    pub reject_reason: Option<String>,
    pub decided_at: Option<Timestamp>,
}

/// The review of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub id: String,
    pub quality: u8,
    pub attitude: u8,
    pub speed: u8,
    pub comment: String,
    /// True when the 30-day rule wrote 5/5/5; left out of the shop score.
    pub default: bool,
    pub at: Timestamp,
    pub reply: Option<String>,
    pub replied_at: Option<Timestamp>,
}

impl Review {
    /// A review with any score below 5 is "bad" until the seller replies.
    pub fn bad_unhandled(&self) -> bool {
        !self.default
            && self.reply.is_none()
            && (self.quality < 5 || self.attitude < 5 || self.speed < 5)
    }
}

/// One refund of an order, as its read model shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub initiated_by: RefundInitiator,
    pub kind: RefundKind,
    pub amount: Cents,
    pub cash: Cents,
    pub voucher: Cents,
    pub release: Release,
    pub keep_reason: Option<String>,
    pub reason: String,
    pub status: RefundStatus,
    pub requested_at: Timestamp,
    pub auto_approve_at: Option<Timestamp>,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
    pub reject_reason: Option<String>,
    pub commission_clawback: Cents,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceChange {
    pub old_payable: Cents,
    pub new_payable: Cents,
    pub reason: String,
    pub changed_by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    pub placed: Option<OrderPlaced>,
    pub status: Option<OrderStatus>,
    pub payable: Cents,
    pub paid: Cents,
    pub voucher: Cents,
    pub refunded: Cents,
    pub price_changes: Vec<PriceChange>,
    pub paid_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub voided_at: Option<Timestamp>,
    pub void_reason: Option<VoidReason>,
    pub refunds: Vec<Refund>,
    pub invoices: Vec<Invoice>,
    /// Boxed: most orders have none, and inline it would add ~100 bytes to every order.
    pub review: Option<Box<Review>>,
    /// Cash refunded so far (invoices count cash only).
    pub refunded_cash: Cents,
}

impl OrderState {
    pub fn invoice(&self, invoice_id: &str) -> Option<&Invoice> {
        self.invoices.iter().find(|i| i.id == invoice_id)
    }

    /// The open (pending) refund, if any.
    pub fn open_refund(&self) -> Option<&Refund> {
        self.refunds.iter().find(|r| {
            matches!(
                r.status,
                RefundStatus::PendingSeller | RefundStatus::PendingPlatform
            )
        })
    }

    pub fn refund(&self, refund_id: &str) -> Option<&Refund> {
        self.refunds.iter().find(|r| r.id == refund_id)
    }

    pub fn status_str(&self) -> &'static str {
        self.status.map(OrderStatus::as_str).unwrap_or("none")
    }
    pub fn balance(&self) -> Cents {
        Cents(self.paid.0 - self.refunded.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    pub order_id: String,
    pub customer_id: String,
    pub product_id: String,
    pub product: ProductState,
    /// The named instance's state (renewal, conversion, upgrade), loaded by the caller.
    pub instance: Option<crate::instance::InstanceState>,
    pub spec_id: String,
    pub quantity: u32,
    pub order_type: String,
    pub instance_id: Option<String>,
    pub coupon_id: Option<String>,
    pub client: Option<String>,
    pub channel_kind: Option<String>,
    pub channel_ref: Option<String>,
    pub remark: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    Place(Box<PlaceOrder>),
    ChangePrice {
        new_price_cents: i64,
        reason: String,
    },
    Pay {
        amount_cents: i64,
        voucher_cents: i64,
    },
    Cancel,
    /// Fired by the payment-timeout deadline.
    VoidForTimeout {
        deadline_id: String,
    },
    /// A customer's refund request inside the refund window.
    RequestRefund {
        refund_id: String,
        amount_cents: Option<i64>,
        reason: String,
    },
    /// A seller-initiated refund, reviewed by the platform.
    SellerRefund {
        refund_id: String,
        kind: String,
        amount_cents: Option<i64>,
        release: String,
        keep_reason: Option<String>,
        reason: String,
    },
    /// The seller (pending_seller) or the platform (pending_platform) approves.
    ApproveRefund {
        refund_id: String,
        approver: Approver,
    },
    RejectRefund {
        refund_id: String,
        approver: Approver,
        reason: String,
    },
    /// Fired by the 3-day auto-approval deadline.
    AutoApproveRefund {
        refund_id: String,
        deadline_id: String,
    },
    RequestInvoice {
        invoice_id: String,
        invoice_type: String,
        title: String,
        tax_id: String,
        address: String,
    },
    IssueInvoice {
        invoice_id: String,
        tracking: String,
    },
    RejectInvoice {
        invoice_id: String,
        reason: String,
    },
    Review {
        review_id: String,
        quality: u8,
        attitude: u8,
        speed: u8,
        comment: String,
    },
    /// Fired 30 days after completion when the customer has not reviewed.
    DefaultReview {
        review_id: String,
        deadline_id: String,
    },
    ReplyToReview {
        text: String,
    },
}

/// Postage: the seller pays when the order amount exceeds this (200 yuan).
pub const SELLER_POSTAGE_ABOVE_CENTS: i64 = 20_000;
/// A review is defaulted this many days after completion; a reply is allowed this many days
/// after the review.
pub const REVIEW_DAYS: u32 = 30;
pub const COMMENT_CHARS_MAX: usize = 1_000;

/// Who decides a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approver {
    Seller,
    Platform,
}

/// Customers may request a refund this many days after payment.
pub const REFUND_WINDOW_DAYS: u32 = 5;
/// A customer's request is approved automatically this many days after it was made.
pub const REFUND_AUTO_APPROVAL_DAYS: u32 = 3;

#[derive(Debug)]
pub struct Order;

fn place(
    state: &OrderState,
    p: &PlaceOrder,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    // Field rules that need no state first (422), then state (409), then state rules (422).
    let order_type = OrderType::parse(&p.order_type).ok_or_else(|| {
        DomainError::validation(
            "order_type",
            "one_of",
            "order_type must be new, renewal, trial, conversion or upgrade",
        )
    })?;
    if !(1..=QUANTITY_MAX).contains(&p.quantity) {
        return Err(DomainError::validation(
            "quantity",
            "range",
            format!("quantity must be 1..={QUANTITY_MAX}"),
        ));
    }
    let client = match &p.client {
        None => None,
        Some(c) => Some(Client::parse(c).ok_or_else(|| {
            DomainError::validation("client", "one_of", "client must be web, mobile or api")
        })?),
    };
    let channel_kind = match p.channel_kind.as_deref() {
        None | Some("online_store") => ChannelKind::OnlineStore,
        Some("custom_solution") => ChannelKind::CustomSolution,
        Some("distribution") => ChannelKind::Distribution,
        Some(_) => {
            return Err(DomainError::validation(
                "channel.kind",
                "one_of",
                "channel.kind must be online_store, custom_solution or distribution",
            ))
        }
    };
    if channel_kind != ChannelKind::OnlineStore
        && p.channel_ref.as_deref().is_none_or(|r| r.trim().is_empty())
    {
        return Err(DomainError::validation(
            "channel.ref",
            "required",
            format!("channel.ref is required for {}", channel_kind.as_str()),
        ));
    }
    if let Some(r) = &p.channel_ref {
        if r.chars().count() > 128 {
            return Err(DomainError::validation(
                "channel.ref",
                "max_length",
                "channel.ref must be at most 128 characters",
            ));
        }
        require_printable("channel.ref", r, TextKind::Name)?;
    }
    if let Some(r) = &p.remark {
        if r.chars().count() > REMARK_CHARS_MAX {
            return Err(DomainError::validation(
                "remark",
                "max_length",
                format!("remark must be at most {REMARK_CHARS_MAX} characters"),
            ));
        }
        require_printable("remark", r, TextKind::Free)?;
    }
    let needs_instance = matches!(
        order_type,
        OrderType::Renewal | OrderType::Conversion | OrderType::Upgrade
    );
    if needs_instance && p.instance_id.is_none() {
        return Err(DomainError::validation(
            "instance_id",
            "required",
            format!(
                "a {} order names the instance it is for",
                order_type.as_str()
            ),
        ));
    }
    if !needs_instance && p.instance_id.is_some() {
        return Err(DomainError::validation(
            "instance_id",
            "not_allowed",
            format!(
                "a {} order is not for an existing instance",
                order_type.as_str()
            ),
        ));
    }
    if state.placed.is_some() {
        return Err(DomainError::conflict(
            "already_exists",
            "order already exists",
        ));
    }
    let product = p
        .product
        .created
        .as_ref()
        .ok_or_else(|| DomainError::not_found("product"))?;
    if p.product.status != ProductStatus::Listed {
        return Err(DomainError::invalid_state(
            p.product.status.as_str(),
            "only listed products can be ordered",
        ));
    }
    let spec = p.product.spec(&p.spec_id).ok_or_else(|| {
        DomainError::validation(
            "spec_id",
            "unknown",
            format!("product has no spec {}", p.spec_id),
        )
    })?;
    if spec.hidden {
        return Err(DomainError::validation(
            "spec_id",
            "hidden",
            format!("spec {} is hidden and cannot be ordered", spec.id),
        ));
    }
    match order_type {
        OrderType::Trial if !spec.trial => {
            return Err(DomainError::validation(
                "spec_id",
                "not_trial",
                "a trial order needs a trial spec",
            ))
        }
        OrderType::Trial if p.quantity != 1 => {
            return Err(DomainError::validation(
                "quantity",
                "trial_single",
                "a trial order has quantity 1",
            ))
        }
        OrderType::New | OrderType::Renewal | OrderType::Conversion | OrderType::Upgrade
            if spec.trial =>
        {
            return Err(DomainError::validation(
                "spec_id",
                "trial_spec",
                "a trial spec is ordered with order_type trial",
            ))
        }
        _ => {}
    }
    let mut unit_price = spec.price;
    if let Some(instance_id) = &p.instance_id {
        let unknown = || {
            DomainError::validation(
                "instance_id",
                "unknown",
                format!("instance {instance_id} does not exist for this customer and product"),
            )
        };
        let inst = p.instance.as_ref().ok_or_else(unknown)?;
        let opened = inst.opened.as_ref().ok_or_else(unknown)?;
        if opened.customer_id != p.customer_id || opened.product_id != p.product_id {
            return Err(unknown());
        }
        if !inst.usable() {
            return Err(DomainError::invalid_state(
                inst.status.as_str(),
                format!("instance {instance_id} is {}", inst.status.as_str()),
            ));
        }
        match order_type {
            OrderType::Renewal if inst.trial => {
                return Err(DomainError::validation(
                    "instance_id",
                    "trial_instance",
                    "a trial instance is converted, not renewed",
                ))
            }
            OrderType::Renewal if inst.spec_id != spec.id => {
                return Err(DomainError::validation(
                    "spec_id",
                    "instance_spec",
                    format!("a renewal keeps the instance's spec {}", inst.spec_id),
                ))
            }
            OrderType::Conversion if !inst.trial => {
                return Err(DomainError::validation(
                    "instance_id",
                    "not_trial",
                    "only a trial instance can be converted",
                ))
            }
            OrderType::Upgrade if inst.trial => {
                return Err(DomainError::validation(
                    "instance_id",
                    "trial_instance",
                    "a trial instance is converted, not upgraded",
                ))
            }
            OrderType::Upgrade if inst.spec_id == spec.id => {
                return Err(DomainError::validation(
                    "spec_id",
                    "same_spec",
                    "an upgrade changes the spec",
                ))
            }
            OrderType::Upgrade => {
                let current = p
                    .product
                    .spec(&inst.spec_id)
                    .map(|s| s.price)
                    .unwrap_or(Cents::ZERO);
                unit_price = Cents((spec.price.0 - current.0).max(0));
            }
            _ => {}
        }
    }
    if p.coupon_id.is_some() {
        return Err(DomainError::rule(
            "coupon_not_applicable",
            "this coupon does not belong to the customer",
        )
        .with("rule", "not_owner"));
    }
    let commission_percent = match channel_kind {
        ChannelKind::Distribution => Some(p.product.commission_percent.ok_or_else(|| {
            DomainError::rule(
                "distribution_not_enabled",
                "the product has no distribution commission",
            )
        })?),
        _ => None,
    };
    let original = Cents(unit_price.0.saturating_mul(i64::from(p.quantity)));
    let payable = if order_type == OrderType::Trial {
        spec.price
    } else {
        original
    };
    let placed_at = ctx.now;
    Ok(vec![OrderEvent::OrderPlaced(OrderPlaced {
        order_id: p.order_id.clone(),
        order_type,
        customer_id: p.customer_id.clone(),
        seller_org_id: product.seller_org_id.clone(),
        product_id: p.product_id.clone(),
        product_code: product.code.clone(),
        product_name: product.name.clone(),
        delivery: product.delivery,
        spec_id: spec.id.clone(),
        spec_name: spec.name.clone(),
        duration: spec.duration,
        unit: spec.unit,
        instance_id: p.instance_id.clone(),
        quantity: p.quantity,
        unit_price,
        original,
        payable,
        channel: Channel {
            kind: channel_kind,
            reference: p
                .channel_ref
                .clone()
                .filter(|_| channel_kind != ChannelKind::OnlineStore),
        },
        commission_percent,
        client,
        remark: p.remark.clone().filter(|r| !r.trim().is_empty()),
        placed_at,
        payment_due_at: placed_at.plus_days(PAYMENT_TIMEOUT_DAYS),
    })])
}

fn require_unpaid(state: &OrderState, action: &str) -> Result<(), DomainError> {
    match state.status {
        None => Err(DomainError::not_found("order")),
        Some(OrderStatus::Unpaid) => Ok(()),
        Some(s) => Err(DomainError::invalid_state(
            s.as_str(),
            format!(
                "only unpaid orders can {action}; this one is {}",
                s.as_str()
            ),
        )),
    }
}

impl Decider for Order {
    type State = OrderState;
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = DomainError;

    fn decide(
        state: &OrderState,
        command: &OrderCommand,
        ctx: &Context,
    ) -> Result<Vec<OrderEvent>, DomainError> {
        match command {
            OrderCommand::Place(p) => place(state, p, ctx),
            OrderCommand::ChangePrice {
                new_price_cents,
                reason,
            } => {
                if !(0..=PRICE_CENTS_MAX).contains(new_price_cents) {
                    return Err(DomainError::validation(
                        "new_price_cents",
                        "range",
                        format!("new_price_cents must be 0..={PRICE_CENTS_MAX}"),
                    ));
                }
                require_text("reason", reason, REASON_CHARS_MAX)?;
                require_unpaid(state, "change price")?;
                Ok(vec![OrderEvent::OrderPriceChanged(OrderPriceChanged {
                    old_payable: state.payable,
                    new_payable: Cents(*new_price_cents),
                    reason: reason.trim().to_owned(),
                    changed_by: ctx.actor.label(),
                    at: ctx.now,
                })])
            }
            OrderCommand::Pay {
                amount_cents,
                voucher_cents,
            } => {
                if *amount_cents < 0 {
                    return Err(DomainError::validation(
                        "amount_cents",
                        "range",
                        "amount_cents must be ≥ 0",
                    ));
                }
                if *voucher_cents < 0 || voucher_cents > amount_cents {
                    return Err(DomainError::validation(
                        "voucher_cents",
                        "range",
                        "voucher_cents must be 0..=amount_cents",
                    ));
                }
                require_unpaid(state, "be paid")?;
                if *amount_cents != state.payable.0 {
                    return Err(DomainError::rule(
                        "amount_mismatch",
                        format!(
                            "the payment must equal the payable amount of {} cents",
                            state.payable.0
                        ),
                    )
                    .with("payable_cents", state.payable.0.to_string()));
                }
                let automatic = state
                    .placed
                    .as_ref()
                    .is_some_and(|p| p.delivery != DeliveryKind::Manual);
                Ok(vec![OrderEvent::OrderPaid(OrderPaid {
                    amount: Cents(*amount_cents),
                    voucher: Cents(*voucher_cents),
                    cash: Cents(amount_cents - voucher_cents),
                    at: ctx.now,
                    completed: automatic,
                })])
            }
            OrderCommand::Cancel => {
                require_unpaid(state, "be cancelled")?;
                Ok(vec![OrderEvent::OrderVoided(OrderVoided {
                    reason: VoidReason::CancelledByCustomer,
                    at: ctx.now,
                    deadline_id: None,
                })])
            }
            OrderCommand::RequestRefund {
                refund_id,
                amount_cents,
                reason,
            } => request_refund(state, refund_id, *amount_cents, reason, ctx),
            OrderCommand::SellerRefund {
                refund_id,
                kind,
                amount_cents,
                release,
                keep_reason,
                reason,
            } => seller_refund(
                state,
                refund_id,
                kind,
                *amount_cents,
                release,
                keep_reason.as_deref(),
                reason,
                ctx,
            ),
            OrderCommand::ApproveRefund {
                refund_id,
                approver,
            } => {
                let r = decidable_refund(state, refund_id, *approver)?;
                Ok(vec![approve(state, r, ctx, false, None)])
            }
            OrderCommand::RejectRefund {
                refund_id,
                approver,
                reason,
            } => {
                require_text("reason", reason, REASON_CHARS_MAX)?;
                let r = decidable_refund(state, refund_id, *approver)?;
                Ok(vec![OrderEvent::RefundRejected(RefundRejected {
                    refund_id: r.id.clone(),
                    reason: reason.trim().to_owned(),
                    rejected_by: ctx.actor.label(),
                    at: ctx.now,
                })])
            }
            OrderCommand::AutoApproveRefund {
                refund_id,
                deadline_id,
            } => {
                let Some(r) = state.refund(refund_id) else {
                    return Ok(Vec::new());
                };
                let due = r.auto_approve_at.is_some_and(|at| ctx.now >= at);
                if r.status != RefundStatus::PendingSeller
                    || !due
                    || !matches!(ctx.actor, Actor::System)
                {
                    return Ok(Vec::new());
                }
                Ok(vec![approve(
                    state,
                    r,
                    ctx,
                    true,
                    Some(deadline_id.clone()),
                )])
            }
            OrderCommand::RequestInvoice {
                invoice_id,
                invoice_type,
                title,
                tax_id,
                address,
            } => {
                let invoice_type = match invoice_type.as_str() {
                    "ordinary" => InvoiceType::Ordinary,
                    "special_vat" => InvoiceType::SpecialVat,
                    _ => {
                        return Err(DomainError::validation(
                            "type",
                            "one_of",
                            "type must be ordinary or special_vat",
                        ))
                    }
                };
                require_text("title", title, 200)?;
                require_text("tax_id", tax_id, 64)?;
                require_text("address", address, 500)?;
                require_paid_or_refunded(state)?;
                if let Some(open) = state
                    .invoices
                    .iter()
                    .find(|i| i.status != InvoiceStatus::Rejected)
                {
                    return Err(DomainError::invalid_state(
                        "invoice_exists",
                        format!("invoice {} is already {}", open.id, open.status.as_str()),
                    ));
                }
                let cash_paid = state.paid.0 - state.voucher.0;
                let amount = Cents(cash_paid - state.refunded_cash.0);
                if amount.0 <= 0 {
                    return Err(DomainError::rule(
                        "nothing_to_invoice",
                        "no cash remains to invoice on this order",
                    ));
                }
                Ok(vec![OrderEvent::InvoiceRequested(InvoiceRequested {
                    invoice_id: invoice_id.clone(),
                    invoice_type,
                    title: title.trim().to_owned(),
                    tax_id: tax_id.trim().to_owned(),
                    address: address.trim().to_owned(),
                    amount,
                    seller_pays_postage: state.paid.0 > SELLER_POSTAGE_ABOVE_CENTS,
                    at: ctx.now,
                })])
            }
            OrderCommand::IssueInvoice {
                invoice_id,
                tracking,
            } => {
                require_text("tracking", tracking, 200)?;
                let inv = requested_invoice(state, invoice_id)?;
                Ok(vec![OrderEvent::InvoiceIssued(InvoiceIssued {
                    invoice_id: inv.id.clone(),
                    tracking: tracking.trim().to_owned(),
                    issued_by: ctx.actor.label(),
                    at: ctx.now,
                })])
            }
            OrderCommand::RejectInvoice { invoice_id, reason } => {
                require_text("reason", reason, REASON_CHARS_MAX)?;
                let inv = requested_invoice(state, invoice_id)?;
                Ok(vec![OrderEvent::InvoiceRejected(InvoiceRejected {
                    invoice_id: inv.id.clone(),
                    reason: reason.trim().to_owned(),
                    rejected_by: ctx.actor.label(),
                    at: ctx.now,
                })])
            }
            OrderCommand::Review {
                review_id,
                quality,
                attitude,
                speed,
                comment,
            } => {
                for (field, v) in [
                    ("quality", quality),
                    ("attitude", attitude),
                    ("speed", speed),
                ] {
                    if !(1..=5).contains(v) {
                        return Err(DomainError::validation(
                            field,
                            "range",
                            format!("{field} must be 1..=5"),
                        ));
                    }
                }
                if comment.chars().count() > COMMENT_CHARS_MAX {
                    return Err(DomainError::validation(
                        "comment",
                        "max_length",
                        format!("comment must be at most {COMMENT_CHARS_MAX} characters"),
                    ));
                }
                require_printable("comment", comment, TextKind::Free)?;
                if state.completed_at.is_none() {
                    return Err(DomainError::invalid_state(
                        state.status_str(),
                        "only completed orders can be reviewed",
                    ));
                }
                if state.review.is_some() {
                    return Err(DomainError::invalid_state(
                        "reviewed",
                        "this order has been reviewed already",
                    ));
                }
                Ok(vec![OrderEvent::ReviewSubmitted(ReviewSubmitted {
                    review_id: review_id.clone(),
                    quality: *quality,
                    attitude: *attitude,
                    speed: *speed,
                    comment: comment.trim().to_owned(),
                    at: ctx.now,
                })])
            }
            OrderCommand::DefaultReview {
                review_id,
                deadline_id,
            } => {
                let due = state.completed_at.map(|c| c.plus_days(REVIEW_DAYS));
                if state.review.is_some()
                    || due.is_none_or(|d| ctx.now < d)
                    || !matches!(ctx.actor, Actor::System)
                {
                    return Ok(Vec::new());
                }
                Ok(vec![OrderEvent::ReviewDefaulted(ReviewDefaulted {
                    review_id: review_id.clone(),
                    at: ctx.now,
                    deadline_id: deadline_id.clone(),
                })])
            }
            OrderCommand::ReplyToReview { text } => {
                require_text("text", text, COMMENT_CHARS_MAX)?;
                let review = state
                    .review
                    .as_ref()
                    .ok_or_else(|| DomainError::not_found("review"))?;
                if review.reply.is_some() {
                    return Err(DomainError::invalid_state(
                        "replied",
                        "the seller has replied already",
                    ));
                }
                if ctx.now > review.at.plus_days(REVIEW_DAYS) {
                    return Err(DomainError::invalid_state(
                        "reply_window_closed",
                        format!("replies are allowed within {REVIEW_DAYS} days of the review"),
                    ));
                }
                Ok(vec![OrderEvent::ReviewReplied(ReviewReplied {
                    review_id: review.id.clone(),
                    text: text.trim().to_owned(),
                    replied_by: ctx.actor.label(),
                    at: ctx.now,
                })])
            }
            OrderCommand::VoidForTimeout { deadline_id } => {
                // The deadline may fire late or twice; only a still-unpaid, overdue order is voided.
                let due = state.placed.as_ref().map(|p| p.payment_due_at);
                if state.status != Some(OrderStatus::Unpaid)
                    || due.is_none_or(|d| ctx.now < d)
                    || !matches!(ctx.actor, Actor::System)
                {
                    return Ok(Vec::new());
                }
                Ok(vec![OrderEvent::OrderVoided(OrderVoided {
                    reason: VoidReason::PaymentTimeout,
                    at: ctx.now,
                    deadline_id: Some(deadline_id.clone()),
                })])
            }
        }
    }

    fn evolve(mut state: OrderState, event: &OrderEvent) -> OrderState {
        match event {
            OrderEvent::OrderPlaced(e) => {
                state.payable = e.payable;
                state.status = Some(OrderStatus::Unpaid);
                state.placed = Some(e.clone());
            }
            OrderEvent::OrderPriceChanged(e) => {
                state.payable = e.new_payable;
                state.price_changes.push(PriceChange {
                    old_payable: e.old_payable,
                    new_payable: e.new_payable,
                    reason: e.reason.clone(),
                    changed_by: e.changed_by.clone(),
                    at: e.at,
                });
            }
            OrderEvent::OrderPaid(e) => {
                state.status = Some(OrderStatus::Paid);
                state.paid = e.amount;
                state.voucher = e.voucher;
                state.paid_at = Some(e.at);
                if e.completed {
                    state.completed_at = Some(e.at);
                }
            }
            OrderEvent::OrderVoided(e) => {
                state.status = Some(OrderStatus::Voided);
                state.voided_at = Some(e.at);
                state.void_reason = Some(e.reason);
            }
            OrderEvent::RefundRequested(e) => state.refunds.push(Refund {
                id: e.refund_id.clone(),
                initiated_by: e.initiated_by,
                kind: e.kind,
                amount: e.amount,
                cash: Cents::ZERO,
                voucher: Cents::ZERO,
                release: e.release,
                keep_reason: e.keep_reason.clone(),
                reason: e.reason.clone(),
                status: match e.initiated_by {
                    RefundInitiator::Customer => RefundStatus::PendingSeller,
                    _ => RefundStatus::PendingPlatform,
                },
                requested_at: e.at,
                auto_approve_at: e.auto_approve_at,
                decided_at: None,
                decided_by: None,
                reject_reason: None,
                commission_clawback: Cents::ZERO,
            }),
            OrderEvent::RefundApproved(e) => {
                state.refunded = state.refunded.saturating_add(e.amount);
                state.refunded_cash = state.refunded_cash.saturating_add(e.cash);
                if state.balance().0 <= 0 {
                    state.status = Some(OrderStatus::Refunded);
                }
                if let Some(r) = state.refunds.iter_mut().find(|r| r.id == e.refund_id) {
                    r.status = RefundStatus::Refunded;
                    r.cash = e.cash;
                    r.voucher = e.voucher;
                    r.decided_at = Some(e.at);
                    r.decided_by = Some(e.approved_by.clone());
                    r.commission_clawback = e.commission_clawback;
                }
            }
            OrderEvent::RefundRejected(e) => {
                if let Some(r) = state.refunds.iter_mut().find(|r| r.id == e.refund_id) {
                    r.status = RefundStatus::Rejected;
                    r.decided_at = Some(e.at);
                    r.decided_by = Some(e.rejected_by.clone());
                    r.reject_reason = Some(e.reason.clone());
                }
            }
            OrderEvent::InvoiceRequested(e) => state.invoices.push(Invoice {
                id: e.invoice_id.clone(),
                invoice_type: e.invoice_type,
                title: e.title.clone(),
                tax_id: e.tax_id.clone(),
                address: e.address.clone(),
                amount: e.amount,
                seller_pays_postage: e.seller_pays_postage,
                status: InvoiceStatus::Requested,
                requested_at: e.at,
                tracking: None,
                reject_reason: None,
                decided_at: None,
            }),
            OrderEvent::InvoiceIssued(e) => {
                if let Some(i) = state.invoices.iter_mut().find(|i| i.id == e.invoice_id) {
                    i.status = InvoiceStatus::Issued;
                    i.tracking = Some(e.tracking.clone());
                    i.decided_at = Some(e.at);
                }
            }
            OrderEvent::InvoiceRejected(e) => {
                if let Some(i) = state.invoices.iter_mut().find(|i| i.id == e.invoice_id) {
                    i.status = InvoiceStatus::Rejected;
                    i.reject_reason = Some(e.reason.clone());
                    i.decided_at = Some(e.at);
                }
            }
            OrderEvent::ReviewSubmitted(e) => {
                state.review = Some(Box::new(Review {
                    id: e.review_id.clone(),
                    quality: e.quality,
                    attitude: e.attitude,
                    speed: e.speed,
                    comment: e.comment.clone(),
                    default: false,
                    at: e.at,
                    reply: None,
                    replied_at: None,
                }))
            }
            OrderEvent::ReviewDefaulted(e) => {
                state.review = Some(Box::new(Review {
                    id: e.review_id.clone(),
                    quality: 5,
                    attitude: 5,
                    speed: 5,
                    comment: String::new(),
                    default: true,
                    at: e.at,
                    reply: None,
                    replied_at: None,
                }))
            }
            OrderEvent::ReviewReplied(e) => {
                if let Some(r) = state.review.as_mut() {
                    r.reply = Some(e.text.clone());
                    r.replied_at = Some(e.at);
                }
            }
        }
        state
    }
}

fn require_paid_or_refunded(state: &OrderState) -> Result<(), DomainError> {
    match state.status {
        None => Err(DomainError::not_found("order")),
        Some(OrderStatus::Paid | OrderStatus::Refunded) => Ok(()),
        Some(s) => Err(DomainError::invalid_state(
            s.as_str(),
            format!(
                "only paid orders can be invoiced; this one is {}",
                s.as_str()
            ),
        )),
    }
}

fn requested_invoice<'a>(
    state: &'a OrderState,
    invoice_id: &str,
) -> Result<&'a Invoice, DomainError> {
    let inv = state
        .invoice(invoice_id)
        .ok_or_else(|| DomainError::not_found("invoice"))?;
    if inv.status != InvoiceStatus::Requested {
        return Err(DomainError::invalid_state(
            inv.status.as_str(),
            format!("this invoice is {}", inv.status.as_str()),
        ));
    }
    Ok(inv)
}

fn require_paid(state: &OrderState) -> Result<(), DomainError> {
    match state.status {
        None => Err(DomainError::not_found("order")),
        Some(OrderStatus::Paid) => Ok(()),
        Some(s) => Err(DomainError::invalid_state(
            s.as_str(),
            format!(
                "only paid orders can be refunded; this one is {}",
                s.as_str()
            ),
        )),
    }
}

fn no_open_refund(state: &OrderState) -> Result<(), DomainError> {
    match state.open_refund() {
        Some(r) => Err(DomainError::invalid_state(
            "refund_open",
            format!("refund {} is still open; one open refund per order", r.id),
        )),
        None => Ok(()),
    }
}

fn refund_amount(
    field: &str,
    amount_cents: Option<i64>,
    balance: Cents,
) -> Result<Cents, DomainError> {
    let amount = amount_cents.map(Cents).unwrap_or(balance);
    if amount.0 <= 0 || amount > balance {
        return Err(DomainError::rule(
            "refund_exceeds_balance",
            format!(
                "{field} must be 1..={} cents (the remaining balance)",
                balance.0
            ),
        )
        .with("field", field)
        .with("balance_cents", balance.0.to_string()));
    }
    Ok(amount)
}

fn request_refund(
    state: &OrderState,
    refund_id: &str,
    amount_cents: Option<i64>,
    reason: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    require_text("reason", reason, REASON_CHARS_MAX)?;
    if amount_cents.is_some_and(|a| a <= 0) {
        return Err(DomainError::validation(
            "amount_cents",
            "range",
            "amount_cents must be > 0",
        ));
    }
    require_paid(state)?;
    no_open_refund(state)?;
    let window_end = state.paid_at.map(|p| p.plus_days(REFUND_WINDOW_DAYS));
    if window_end.is_none_or(|end| ctx.now > end) {
        return Err(DomainError::rule(
            "refund_window_closed",
            format!("refunds can be requested within {REFUND_WINDOW_DAYS} days of payment"),
        ));
    }
    let amount = refund_amount("amount_cents", amount_cents, state.balance())?;
    Ok(vec![OrderEvent::RefundRequested(RefundRequested {
        refund_id: refund_id.to_owned(),
        initiated_by: RefundInitiator::Customer,
        kind: RefundKind::Request,
        amount,
        release: Release::Immediate,
        keep_reason: None,
        reason: reason.trim().to_owned(),
        requested_by: ctx.actor.label(),
        at: ctx.now,
        auto_approve_at: Some(ctx.now.plus_days(REFUND_AUTO_APPROVAL_DAYS)),
    })])
}

#[allow(clippy::too_many_arguments)]
fn seller_refund(
    state: &OrderState,
    refund_id: &str,
    kind: &str,
    amount_cents: Option<i64>,
    release: &str,
    keep_reason: Option<&str>,
    reason: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    let kind = match kind {
        "full" => RefundKind::Full,
        "remaining" => RefundKind::Remaining,
        _ => {
            return Err(DomainError::validation(
                "kind",
                "one_of",
                "kind must be full or remaining",
            ))
        }
    };
    let release = match release {
        "immediate" => Release::Immediate,
        "keep" => Release::Keep,
        _ => {
            return Err(DomainError::validation(
                "release",
                "one_of",
                "release must be immediate or keep",
            ))
        }
    };
    require_text("reason", reason, REASON_CHARS_MAX)?;
    if kind == RefundKind::Remaining && amount_cents.is_none() {
        return Err(DomainError::validation(
            "amount_cents",
            "required",
            "a remaining refund names its amount_cents",
        ));
    }
    if kind == RefundKind::Full && amount_cents.is_some() {
        return Err(DomainError::validation(
            "amount_cents",
            "not_allowed",
            "a full refund returns the whole balance; omit amount_cents",
        ));
    }
    if amount_cents.is_some_and(|a| a <= 0) {
        return Err(DomainError::validation(
            "amount_cents",
            "range",
            "amount_cents must be > 0",
        ));
    }
    if release == Release::Keep {
        require_text("keep_reason", keep_reason.unwrap_or(""), REASON_CHARS_MAX)?;
    }
    require_paid(state)?;
    no_open_refund(state)?;
    let amount = refund_amount("amount_cents", amount_cents, state.balance())?;
    Ok(vec![OrderEvent::RefundRequested(RefundRequested {
        refund_id: refund_id.to_owned(),
        initiated_by: RefundInitiator::Seller,
        kind,
        amount,
        release,
        keep_reason: keep_reason
            .filter(|_| release == Release::Keep)
            .map(|k| k.trim().to_owned()),
        reason: reason.trim().to_owned(),
        requested_by: ctx.actor.label(),
        at: ctx.now,
        auto_approve_at: None,
    })])
}

fn decidable_refund<'a>(
    state: &'a OrderState,
    refund_id: &str,
    approver: Approver,
) -> Result<&'a Refund, DomainError> {
    let r = state
        .refund(refund_id)
        .ok_or_else(|| DomainError::not_found("refund"))?;
    let expected = match approver {
        Approver::Seller => RefundStatus::PendingSeller,
        Approver::Platform => RefundStatus::PendingPlatform,
    };
    if r.status != expected {
        return Err(DomainError::invalid_state(
            r.status.as_str(),
            format!("this refund is {}", r.status.as_str()),
        ));
    }
    Ok(r)
}

fn approve(
    state: &OrderState,
    r: &Refund,
    ctx: &Context,
    automatic: bool,
    deadline_id: Option<String>,
) -> OrderEvent {
    let (cash, voucher) = crate::money::proportional_split_increment(
        state.refunded,
        r.amount,
        state.paid,
        Cents(state.paid.0 - state.voucher.0),
    );
    let commission = state
        .placed
        .as_ref()
        .and_then(|p| p.commission_percent)
        .unwrap_or(0);
    let clawback = Cents(crate::money::round_half_up_div(
        i128::from(r.amount.0) * i128::from(commission),
        100,
    ));
    OrderEvent::RefundApproved(RefundApproved {
        refund_id: r.id.clone(),
        amount: r.amount,
        cash,
        voucher,
        approved_by: ctx.actor.label(),
        at: ctx.now,
        automatic,
        deadline_id,
        commission_clawback: clawback,
        balance_after: Cents(state.balance().0 - r.amount.0),
        release: r.release,
    })
}

/// The id of an order's payment-timeout deadline.
pub fn payment_deadline_id(order_id: &str) -> String {
    Deadline::id_for(
        &order_stream(order_id),
        DeadlineRule::OrderPaymentTimeout,
        "placed",
    )
}

/// Deadlines the order's events start and stop.
pub fn deadline_effects(event: &OrderEvent, order_id: &str) -> Vec<DeadlineEffect> {
    match event {
        OrderEvent::OrderPlaced(e) => vec![DeadlineEffect::Start(Deadline {
            id: payment_deadline_id(order_id),
            due_at: e.payment_due_at,
            stream_id: order_stream(order_id),
            rule: DeadlineRule::OrderPaymentTimeout,
        })],
        OrderEvent::OrderPaid(e) => {
            let mut effects = vec![DeadlineEffect::Stop {
                id: payment_deadline_id(order_id),
            }];
            if e.completed {
                effects.push(DeadlineEffect::Start(Deadline {
                    id: review_deadline_id(order_id),
                    due_at: e.at.plus_days(REVIEW_DAYS),
                    stream_id: order_stream(order_id),
                    rule: DeadlineRule::ReviewDefault,
                }));
            }
            effects
        }
        OrderEvent::OrderVoided(_) => vec![DeadlineEffect::Stop {
            id: payment_deadline_id(order_id),
        }],
        OrderEvent::ReviewSubmitted(_) | OrderEvent::ReviewDefaulted(_) => {
            vec![DeadlineEffect::Stop {
                id: review_deadline_id(order_id),
            }]
        }
        OrderEvent::InvoiceRequested(_)
        | OrderEvent::InvoiceIssued(_)
        | OrderEvent::InvoiceRejected(_)
        | OrderEvent::ReviewReplied(_) => Vec::new(),
        OrderEvent::RefundRequested(e) => match e.auto_approve_at {
            Some(due_at) => vec![DeadlineEffect::Start(Deadline {
                id: refund_deadline_id(order_id, &e.refund_id),
                due_at,
                stream_id: order_stream(order_id),
                rule: DeadlineRule::RefundAutoApproval,
            })],
            None => Vec::new(),
        },
        OrderEvent::RefundApproved(e) => vec![DeadlineEffect::Stop {
            id: refund_deadline_id(order_id, &e.refund_id),
        }],
        OrderEvent::RefundRejected(e) => vec![DeadlineEffect::Stop {
            id: refund_deadline_id(order_id, &e.refund_id),
        }],
        OrderEvent::OrderPriceChanged(_) => Vec::new(),
    }
}

/// The id of an order's review-default deadline.
pub fn review_deadline_id(order_id: &str) -> String {
    Deadline::id_for(
        &order_stream(order_id),
        DeadlineRule::ReviewDefault,
        "completed",
    )
}

/// The id of a refund request's auto-approval deadline.
pub fn refund_deadline_id(order_id: &str, refund_id: &str) -> String {
    Deadline::id_for(
        &order_stream(order_id),
        DeadlineRule::RefundAutoApproval,
        refund_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decider::testing::DeciderTest;
    use crate::decider::Role;
    use crate::product::{ProductCreated, Spec};

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }
    fn ctx_at(now: &str, actor: Actor) -> Context {
        Context::new(at(now), actor, chrono_tz::Asia::Shanghai)
    }
    fn customer() -> Actor {
        Actor::Principal {
            id: "cus_1".into(),
            role: Role::Customer,
            org_id: None,
        }
    }
    fn product(status: ProductStatus) -> ProductState {
        let spec = |id: &str, price, trial| Spec {
            id: id.into(),
            name: id.into(),
            duration: 1,
            unit: DurationUnit::Once,
            price: Cents(price),
            trial,
            hidden: false,
        };
        ProductState {
            created: Some(ProductCreated {
                product_id: "prd_1".into(),
                seller_org_id: "org_s".into(),
                code: "MIG".into(),
                name: "Data migration".into(),
                category: "services".into(),
                delivery: DeliveryKind::Saas,
                delivery_days: 3,
                warranty_days: 0,
                flow_template_id: None,
                specs: vec![spec("5g", 5_000, false), spec("try", 0, true)],
            }),
            status,
            specs: vec![spec("5g", 5_000, false), spec("try", 0, true)],
            commission_percent: None,
            providers: vec![],
        }
    }
    fn place_cmd(status: ProductStatus, qty: u32) -> OrderCommand {
        OrderCommand::Place(Box::new(PlaceOrder {
            order_id: "ord_1".into(),
            customer_id: "cus_1".into(),
            product_id: "prd_1".into(),
            product: product(status),
            instance: None,
            spec_id: "5g".into(),
            quantity: qty,
            order_type: "new".into(),
            instance_id: None,
            coupon_id: None,
            client: Some("web".into()),
            channel_kind: None,
            channel_ref: None,
            remark: None,
        }))
    }
    fn placed() -> Vec<OrderEvent> {
        Order::decide(
            &OrderState::default(),
            &place_cmd(ProductStatus::Listed, 2),
            &ctx_at("2026-11-22T09:00:00+08:00", customer()),
        )
        .unwrap()
    }

    #[test]
    fn a_new_order_costs_spec_price_times_quantity_and_is_due_in_7_days() {
        let e = placed();
        let OrderEvent::OrderPlaced(p) = &e[0] else {
            panic!("{e:?}")
        };
        assert_eq!((p.original, p.payable), (Cents(10_000), Cents(10_000)));
        assert_eq!(p.payment_due_at, at("2026-11-29T09:00:00+08:00"));
        assert_eq!(
            deadline_effects(&e[0], "ord_1")[0],
            DeadlineEffect::Start(Deadline {
                id: "order-ord_1/order_payment_timeout/placed".into(),
                due_at: p.payment_due_at,
                stream_id: "order-ord_1".into(),
                rule: DeadlineRule::OrderPaymentTimeout,
            })
        );
    }

    #[test]
    fn only_listed_products_can_be_ordered() {
        DeciderTest::<Order>::given_no_events()
            .when(
                place_cmd(ProductStatus::Hidden, 1),
                &ctx_at("2026-11-22T09:00:00+08:00", customer()),
            )
            .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "hidden");
        DeciderTest::<Order>::given_no_events()
            .when(
                place_cmd(ProductStatus::Listed, 101),
                &ctx_at("2026-11-22T09:00:00+08:00", customer()),
            )
            .then_error(|e| e.details[0].1 == "quantity");
    }

    #[test]
    fn price_change_needs_an_unpaid_order_and_a_reason_and_records_old_and_new() {
        let seller = Actor::Principal {
            id: "prn_s".into(),
            role: Role::IsvAdmin,
            org_id: Some("org_s".into()),
        };
        let ctx = ctx_at("2026-11-22T10:00:00+08:00", seller);
        DeciderTest::<Order>::given(placed())
            .when(
                OrderCommand::ChangePrice {
                    new_price_cents: 0,
                    reason: "testing my own product".into(),
                },
                &ctx,
            )
            .then_events(vec![OrderEvent::OrderPriceChanged(OrderPriceChanged {
                old_payable: Cents(10_000),
                new_payable: Cents(0),
                reason: "testing my own product".into(),
                changed_by: "prn_s:isv_admin".into(),
                at: at("2026-11-22T10:00:00+08:00"),
            })]);
        DeciderTest::<Order>::given(placed())
            .when(
                OrderCommand::ChangePrice {
                    new_price_cents: 10,
                    reason: " ".into(),
                },
                &ctx,
            )
            .then_error(|e| e.code == "validation_failed");
        let mut paid = placed();
        paid.push(OrderEvent::OrderPaid(OrderPaid {
            amount: Cents(10_000),
            voucher: Cents(0),
            cash: Cents(10_000),
            at: at("2026-11-22T09:30:00+08:00"),
            completed: true,
        }));
        DeciderTest::<Order>::given(paid)
            .when(
                OrderCommand::ChangePrice {
                    new_price_cents: 10,
                    reason: "late".into(),
                },
                &ctx,
            )
            .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "paid");
    }

    #[test]
    fn payment_must_equal_the_payable_amount_and_splits_cash_and_voucher() {
        let ctx = ctx_at("2026-11-22T11:00:00+08:00", customer());
        DeciderTest::<Order>::given(placed())
            .when(
                OrderCommand::Pay {
                    amount_cents: 9_999,
                    voucher_cents: 0,
                },
                &ctx,
            )
            .then_error(|e| e.code == "amount_mismatch");
        let state = DeciderTest::<Order>::given(placed())
            .when(
                OrderCommand::Pay {
                    amount_cents: 10_000,
                    voucher_cents: 3_000,
                },
                &ctx,
            )
            .then_events(vec![OrderEvent::OrderPaid(OrderPaid {
                amount: Cents(10_000),
                voucher: Cents(3_000),
                cash: Cents(7_000),
                at: at("2026-11-22T11:00:00+08:00"),
                completed: true,
            })]);
        assert_eq!(state.completed_at, Some(at("2026-11-22T11:00:00+08:00")));
    }

    #[test]
    fn unpaid_order_is_voided_after_7_days_and_not_before() {
        let early = ctx_at("2026-11-29T08:59:59+08:00", Actor::System);
        DeciderTest::<Order>::given(placed())
            .when(
                OrderCommand::VoidForTimeout {
                    deadline_id: "d".into(),
                },
                &early,
            )
            .then_events(vec![]);
        let due = ctx_at("2026-11-29T09:00:00+08:00", Actor::System);
        DeciderTest::<Order>::given(placed())
            .when(
                OrderCommand::VoidForTimeout {
                    deadline_id: "d".into(),
                },
                &due,
            )
            .then_events(vec![OrderEvent::OrderVoided(OrderVoided {
                reason: VoidReason::PaymentTimeout,
                at: at("2026-11-29T09:00:00+08:00"),
                deadline_id: Some("d".into()),
            })]);
        let mut cancelled = placed();
        cancelled.push(OrderEvent::OrderVoided(OrderVoided {
            reason: VoidReason::CancelledByCustomer,
            at: at("2026-11-23T09:00:00+08:00"),
            deadline_id: None,
        }));
        DeciderTest::<Order>::given(cancelled)
            .when(
                OrderCommand::VoidForTimeout {
                    deadline_id: "d".into(),
                },
                &due,
            )
            .then_events(vec![]);
    }

    fn paid_at(amount: i64, voucher: i64) -> Vec<OrderEvent> {
        let mut e = placed();
        e.push(OrderEvent::OrderPaid(OrderPaid {
            amount: Cents(amount),
            voucher: Cents(voucher),
            cash: Cents(amount - voucher),
            at: at("2026-11-22T10:00:00+08:00"),
            completed: true,
        }));
        e
    }

    fn request(amount: Option<i64>) -> OrderCommand {
        OrderCommand::RequestRefund {
            refund_id: "rfd_1".into(),
            amount_cents: amount,
            reason: "not needed".into(),
        }
    }

    #[test]
    fn a_customer_may_request_a_refund_within_5_days_of_payment() {
        let ok = ctx_at("2026-11-27T10:00:00+08:00", customer());
        let e = Order::decide(&Order::fold(&paid_at(10_000, 0)), &request(None), &ok).unwrap();
        let OrderEvent::RefundRequested(r) = &e[0] else {
            panic!()
        };
        assert_eq!(
            (r.amount, r.auto_approve_at),
            (Cents(10_000), Some(at("2026-11-30T10:00:00+08:00")))
        );
        DeciderTest::<Order>::given(paid_at(10_000, 0))
            .when(
                request(None),
                &ctx_at("2026-11-27T10:00:01+08:00", customer()),
            )
            .then_error(|e| e.code == "refund_window_closed");
        DeciderTest::<Order>::given(paid_at(10_000, 0))
            .when(request(Some(10_001)), &ok)
            .then_error(|e| e.code == "refund_exceeds_balance");
        DeciderTest::<Order>::given(placed())
            .when(request(None), &ok)
            .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "unpaid");
    }

    #[test]
    fn at_most_one_refund_is_open_per_order() {
        let ctx = ctx_at("2026-11-23T10:00:00+08:00", customer());
        let mut h = paid_at(10_000, 0);
        h.extend(Order::decide(&Order::fold(&h), &request(Some(100)), &ctx).unwrap());
        DeciderTest::<Order>::given(h)
            .when(
                OrderCommand::RequestRefund {
                    refund_id: "rfd_2".into(),
                    amount_cents: Some(100),
                    reason: "again".into(),
                },
                &ctx,
            )
            .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "refund_open");
    }

    #[test]
    fn refund_request_is_approved_automatically_after_3_days_and_the_order_becomes_refunded() {
        let ctx = ctx_at("2026-11-23T10:00:00+08:00", customer());
        let mut h = paid_at(10_000, 3_000);
        h.extend(Order::decide(&Order::fold(&h), &request(None), &ctx).unwrap());
        let early = ctx_at("2026-11-26T09:59:59+08:00", Actor::System);
        let auto = OrderCommand::AutoApproveRefund {
            refund_id: "rfd_1".into(),
            deadline_id: "d".into(),
        };
        DeciderTest::<Order>::given(h.clone())
            .when(auto.clone(), &early)
            .then_events(vec![]);
        let due = ctx_at("2026-11-26T10:00:00+08:00", Actor::System);
        let e = Order::decide(&Order::fold(&h), &auto, &due).unwrap();
        let OrderEvent::RefundApproved(a) = &e[0] else {
            panic!()
        };
        assert_eq!(
            (a.cash, a.voucher, a.automatic, a.balance_after),
            (Cents(7_000), Cents(3_000), true, Cents(0))
        );
        h.extend(e);
        let s = Order::fold(&h);
        assert_eq!(
            (s.status, s.refunded),
            (Some(OrderStatus::Refunded), Cents(10_000))
        );
        assert_eq!(
            deadline_effects(&h[3], "ord_1")[0],
            DeadlineEffect::Stop {
                id: refund_deadline_id("ord_1", "rfd_1")
            }
        );
    }

    #[test]
    fn a_partial_refund_leaves_the_order_paid_with_a_balance() {
        let seller = Actor::Principal {
            id: "prn_s".into(),
            role: Role::IsvAdmin,
            org_id: Some("org_s".into()),
        };
        let mut h = paid_at(10_000, 0);
        h.extend(
            Order::decide(
                &Order::fold(&h),
                &request(Some(2_500)),
                &ctx_at("2026-11-23T10:00:00+08:00", customer()),
            )
            .unwrap(),
        );
        h.extend(
            Order::decide(
                &Order::fold(&h),
                &OrderCommand::ApproveRefund {
                    refund_id: "rfd_1".into(),
                    approver: Approver::Seller,
                },
                &ctx_at("2026-11-23T11:00:00+08:00", seller),
            )
            .unwrap(),
        );
        let s = Order::fold(&h);
        assert_eq!(
            (s.status, s.balance()),
            (Some(OrderStatus::Paid), Cents(7_500))
        );
    }

    #[test]
    fn a_seller_refund_goes_to_the_platform_and_keep_needs_a_reason() {
        let seller = ctx_at(
            "2026-12-30T10:00:00+08:00",
            Actor::Principal {
                id: "prn_s".into(),
                role: Role::IsvAdmin,
                org_id: Some("org_s".into()),
            },
        );
        let cmd = |release: &str, keep: Option<&str>| OrderCommand::SellerRefund {
            refund_id: "rfd_9".into(),
            kind: "full".into(),
            amount_cents: None,
            release: release.into(),
            keep_reason: keep.map(str::to_owned),
            reason: "service stopped".into(),
        };
        DeciderTest::<Order>::given(paid_at(10_000, 0))
            .when(cmd("keep", None), &seller)
            .then_error(|e| e.details[0].1 == "keep_reason");
        let s = DeciderTest::<Order>::given(paid_at(10_000, 0))
            .when(cmd("immediate", None), &seller)
            .then_events(vec![OrderEvent::RefundRequested(RefundRequested {
                refund_id: "rfd_9".into(),
                initiated_by: RefundInitiator::Seller,
                kind: RefundKind::Full,
                amount: Cents(10_000),
                release: Release::Immediate,
                keep_reason: None,
                reason: "service stopped".into(),
                requested_by: "prn_s:isv_admin".into(),
                at: at("2026-12-30T10:00:00+08:00"),
                auto_approve_at: None,
            })]);
        assert_eq!(
            s.open_refund().map(|r| r.status),
            Some(RefundStatus::PendingPlatform)
        );
        let mut h = paid_at(10_000, 0);
        h.extend(Order::decide(&Order::fold(&h), &cmd("immediate", None), &seller).unwrap());
        DeciderTest::<Order>::given(h)
            .when(
                OrderCommand::ApproveRefund {
                    refund_id: "rfd_9".into(),
                    approver: Approver::Seller,
                },
                &seller,
            )
            .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "pending_platform");
    }

    #[test]
    fn the_invoice_amount_is_cash_paid_minus_cash_refunded_and_postage_follows_200_yuan() {
        let ctx = ctx_at("2026-11-23T10:00:00+08:00", customer());
        let inv = |id: &str| OrderCommand::RequestInvoice {
            invoice_id: id.into(),
            invoice_type: "ordinary".into(),
            title: "Acme".into(),
            tax_id: "91X".into(),
            address: "Shanghai".into(),
        };
        let mut h = paid_at(10_000, 4_000);
        h.extend(Order::decide(&Order::fold(&h), &request(Some(5_000)), &ctx).unwrap());
        let seller = ctx_at(
            "2026-11-23T11:00:00+08:00",
            Actor::Principal {
                id: "prn_s".into(),
                role: Role::IsvAdmin,
                org_id: Some("org_s".into()),
            },
        );
        h.extend(
            Order::decide(
                &Order::fold(&h),
                &OrderCommand::ApproveRefund {
                    refund_id: "rfd_1".into(),
                    approver: Approver::Seller,
                },
                &seller,
            )
            .unwrap(),
        );
        let e = Order::decide(&Order::fold(&h), &inv("inv_1"), &ctx).unwrap();
        let OrderEvent::InvoiceRequested(r) = &e[0] else {
            panic!()
        };
        // cash paid 6000; the 5000 refund returned 3000 cash (60 %) → 3000 left to invoice.
        assert_eq!((r.amount, r.seller_pays_postage), (Cents(3_000), false));
        h.extend(e);
        DeciderTest::<Order>::given(h)
            .when(inv("inv_2"), &ctx)
            .then_error(|e| e.details[0].1 == "invoice_exists");
        let big = paid_at(20_001, 0);
        let e = Order::decide(&Order::fold(&big), &inv("inv_3"), &ctx).unwrap();
        let OrderEvent::InvoiceRequested(r) = &e[0] else {
            panic!()
        };
        assert!(r.seller_pays_postage);
    }

    #[test]
    fn review_is_defaulted_after_30_days_and_the_seller_replies_once_within_30_days() {
        let h = paid_at(10_000, 0);
        let def = OrderCommand::DefaultReview {
            review_id: "rev_1".into(),
            deadline_id: "d".into(),
        };
        DeciderTest::<Order>::given(h.clone())
            .when(
                def.clone(),
                &ctx_at("2026-12-22T09:59:59+08:00", Actor::System),
            )
            .then_events(vec![]);
        let s = DeciderTest::<Order>::given(h.clone())
            .when(def, &ctx_at("2026-12-22T10:00:00+08:00", Actor::System))
            .then_events(vec![OrderEvent::ReviewDefaulted(ReviewDefaulted {
                review_id: "rev_1".into(),
                at: at("2026-12-22T10:00:00+08:00"),
                deadline_id: "d".into(),
            })]);
        assert!(s
            .review
            .as_ref()
            .is_some_and(|r| r.default && r.quality == 5 && !r.bad_unhandled()));
        let mut reviewed = h;
        reviewed.push(OrderEvent::ReviewSubmitted(ReviewSubmitted {
            review_id: "rev_2".into(),
            quality: 3,
            attitude: 5,
            speed: 5,
            comment: "slow".into(),
            at: at("2026-11-24T10:00:00+08:00"),
        }));
        assert!(Order::fold(&reviewed)
            .review
            .as_deref()
            .is_some_and(Review::bad_unhandled));
        let seller = |t: &str| {
            ctx_at(
                t,
                Actor::Principal {
                    id: "prn_s".into(),
                    role: Role::IsvAdmin,
                    org_id: Some("org_s".into()),
                },
            )
        };
        DeciderTest::<Order>::given(reviewed.clone())
            .when(
                OrderCommand::ReplyToReview {
                    text: "sorry".into(),
                },
                &seller("2026-12-24T10:00:01+08:00"),
            )
            .then_error(|e| e.details[0].1 == "reply_window_closed");
        let s = DeciderTest::<Order>::given(reviewed)
            .when(
                OrderCommand::ReplyToReview {
                    text: "sorry".into(),
                },
                &seller("2026-12-24T10:00:00+08:00"),
            )
            .then_events(vec![OrderEvent::ReviewReplied(ReviewReplied {
                review_id: "rev_2".into(),
                text: "sorry".into(),
                replied_by: "prn_s:isv_admin".into(),
                at: at("2026-12-24T10:00:00+08:00"),
            })]);
        assert!(!s.review.as_deref().is_some_and(Review::bad_unhandled));
    }

    #[test]
    fn order_event_encodings_are_pinned() {
        use crate::codec::EventCodec;
        let hex = |b: Vec<u8>| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let e = placed();
        let paid = OrderEvent::OrderPaid(OrderPaid {
            amount: Cents(1),
            voucher: Cents(0),
            cash: Cents(1),
            at: Timestamp::from_micros(1),
            completed: false,
        });
        let actual = [
            hex(e[0].encode_payload().unwrap()),
            hex(paid.encode_payload().unwrap()),
        ];
        assert_eq!(actual, GOLDEN);
    }

    const GOLDEN: [&str; 2] = [
        "056f72645f3100056375735f31056f72675f73057072645f31034d49470e44617461206d6967726174696f6e0102356702356701000002fb1027fb204efb204e000000010000fd008841fea5c10c00fd00c808a0bfc20c00",
        "0200020200",
    ];
}
