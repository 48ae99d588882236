//! The OpenAPI schemas of the domain's enumerated strings, for the answer types' fields
//! (`#[schema(schema_with = ...)]`). The strings are the domain types' own serde names, so
//! the schema lists exactly what is sent; only the set of variants is written here (the
//! domain stays free of utoipa), and the API tests fail if a value outside it is ever sent.

use domain::calendar::TimeoutUnit;
use domain::delivery::node::{AssignRule, NodeType, NotifyTrigger, Recipient, Side, TimeoutAction};
use domain::delivery::template::TemplateStatus;
use domain::instance::InstanceStatus;
use domain::order::{
    ChannelKind, Client, InvoiceStatus, InvoiceType, OrderStatus, OrderType, RefundInitiator,
    RefundKind, RefundStatus, Release, VoidReason,
};
use domain::product::{DeliveryKind, DurationUnit, ProductStatus};
use domain::Role;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

/// A string enum of `values` as serde writes them; `nullable` adds `null`.
fn strings<T: Serialize>(values: &[T], nullable: bool) -> Object {
    let mut names: Vec<Value> = values
        .iter()
        .filter_map(|v| serde_json::to_value(v).ok())
        .collect();
    let ty = if nullable {
        names.push(Value::Null);
        SchemaType::Array(vec![Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(ty)
        .enum_values(Some(names))
        .build()
}

/// `name, NAMES: Type = [variants]` declares the variants as `NAMES` and `name()` as their
/// schema.
macro_rules! enums {
    ($($name:ident, $all:ident: $ty:ty = [$($v:expr),+ $(,)?];)+) => {
        $(
            const $all: &[$ty] = &[$($v),+];
            pub fn $name() -> Object {
                strings($all, false)
            }
        )+
    };
}

enums! {
    order_type, ORDER_TYPES: OrderType = [
        OrderType::New, OrderType::Renewal, OrderType::Trial, OrderType::Conversion,
        OrderType::Upgrade,
    ];
    order_status, ORDER_STATUSES: OrderStatus = [
        OrderStatus::Unpaid, OrderStatus::Paid, OrderStatus::Refunded, OrderStatus::Voided,
    ];
    client, CLIENTS: Client = [Client::Web, Client::Mobile, Client::Api];
    channel_kind, CHANNEL_KINDS: ChannelKind = [
        ChannelKind::OnlineStore, ChannelKind::CustomSolution, ChannelKind::Distribution,
    ];
    void_reason, VOID_REASONS: VoidReason = [
        VoidReason::CancelledByCustomer, VoidReason::PaymentTimeout,
    ];
    refund_initiator, REFUND_INITIATORS: RefundInitiator = [
        RefundInitiator::Customer, RefundInitiator::Seller, RefundInitiator::System,
    ];
    refund_kind, REFUND_KINDS: RefundKind = [
        RefundKind::Request, RefundKind::Full, RefundKind::Remaining,
    ];
    release, RELEASES: Release = [Release::Immediate, Release::Keep];
    refund_status, REFUND_STATUSES: RefundStatus = [
        RefundStatus::PendingSeller, RefundStatus::PendingPlatform, RefundStatus::Refunded,
        RefundStatus::Rejected,
    ];
    invoice_type, INVOICE_TYPES: InvoiceType = [
        InvoiceType::Ordinary, InvoiceType::SpecialVat,
    ];
    invoice_status, INVOICE_STATUSES: InvoiceStatus = [
        InvoiceStatus::Requested, InvoiceStatus::Issued, InvoiceStatus::Rejected,
    ];
    product_status, PRODUCT_STATUSES: ProductStatus = [
        ProductStatus::Draft, ProductStatus::UnderReview, ProductStatus::Listed,
        ProductStatus::Hidden, ProductStatus::Delisted,
    ];
    delivery_kind, DELIVERY_KINDS: DeliveryKind = [
        DeliveryKind::Manual, DeliveryKind::Saas, DeliveryKind::Image, DeliveryKind::Api,
    ];
    duration_unit, DURATION_UNITS: DurationUnit = [
        DurationUnit::Once, DurationUnit::Month, DurationUnit::Year,
    ];
    node_type, NODE_TYPES: NodeType = [
        NodeType::AssignProvider, NodeType::Container, NodeType::SubmitRequirement,
        NodeType::ClaimOrder, NodeType::AssignOrder, NodeType::Confirm, NodeType::Generic,
        NodeType::CompleteProject,
    ];
    side, SIDES: Side = [Side::Provider, Side::Customer, Side::System];
    assign_rule, ASSIGN_RULES: AssignRule = [
        AssignRule::ProviderFirst, AssignRule::DepartmentFirst,
    ];
    timeout_unit, TIMEOUT_UNITS: TimeoutUnit = [
        TimeoutUnit::WorkingDays, TimeoutUnit::CalendarDays,
    ];
    timeout_action, TIMEOUT_ACTIONS: TimeoutAction = [
        TimeoutAction::Advance, TimeoutAction::CancelAndRefund, TimeoutAction::None,
    ];
    recipient, RECIPIENTS: Recipient = [
        Recipient::Customer, Recipient::Operator, Recipient::ProviderAdmin, Recipient::Seller,
    ];
    notify_trigger, NOTIFY_TRIGGERS: NotifyTrigger = [
        NotifyTrigger::Entered, NotifyTrigger::TimedOut,
    ];
    template_status, TEMPLATE_STATUSES: TemplateStatus = [
        TemplateStatus::Draft, TemplateStatus::Published,
    ];
    instance_status, INSTANCE_STATUSES: InstanceStatus = [
        InstanceStatus::Opening, InstanceStatus::Active, InstanceStatus::InService,
        InstanceStatus::Expired, InstanceStatus::Closed, InstanceStatus::Released,
    ];
}

pub fn side_or_null() -> Object {
    strings(SIDES, true)
}

pub fn assign_rule_or_null() -> Object {
    strings(ASSIGN_RULES, true)
}

pub fn client_or_null() -> Object {
    strings(CLIENTS, true)
}

pub fn void_reason_or_null() -> Object {
    strings(VOID_REASONS, true)
}

/// Roles are written by `Role::as_str` (the domain's list of every role is `Role::ALL`).
pub fn role() -> Object {
    let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(names))
        .build()
}

/// An order's delivery stage (API.md §5); null until the delivery capability exists.
pub fn delivery_stage_or_null() -> Object {
    strings(
        &[
            "pending_implementation",
            "implementing",
            "pending_confirmation",
            "completed",
            "cancelled",
        ],
        true,
    )
}

/// A fixed set of strings the API layer itself writes (projection and health states).
pub fn one_of(values: &[&str]) -> Object {
    strings(values, false)
}

/// A fixed set of strings the API layer itself writes, or null.
pub fn nullable_one_of(values: &[&str]) -> Object {
    strings(values, true)
}
