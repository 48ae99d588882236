//! Who may see and do what (API.md §1 roles and parties; the role columns of §2–§5 and §9),
//! decided here and nowhere else: every route has one [`Rule`] (its roles: 403 for the
//! others), and the records it reaches are limited by its [`Tenancy`] (another tenant's
//! record is 404, another tenant's list is empty). Handlers call [`Rule::check`] first and
//! then ask [`sees_order`], [`sees_instance`], [`sees_product`], [`owns_product`] or
//! [`scope`] about the records they touch.
//!
//! [`RULES`] is the route × role table; `api/tests/access_table.rs` calls every route in it
//! as every role, on its own tenant's records and on another's, and checks it against the
//! role columns of API.md.

use domain::coupon::CampaignState;
use domain::delivery::project::DeliveryState;
use domain::delivery::staff::StaffState;
use domain::delivery::template::TemplateState;
use domain::instance::InstanceState;
use domain::order::OrderState;
use domain::product::ProductState;
use domain::product::ProductStatus;
use domain::Role;

use crate::error::ApiError;
use crate::extract::Caller;

/// Who may call a route at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// No token needed (health, metrics, the OpenAPI document).
    Public,
    /// An authenticated principal of one of these roles; any other role is 403.
    Roles(&'static [Role]),
}

/// Which records of a route a role allowed by its [`Allowed`] reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tenancy {
    /// Every record the route names (or none: the route names no tenant's record).
    Open,
    /// The parties of an order ([`Parties`]): of the order the path names, of the order
    /// that holds the refund, invoice or review it names, or of every order listed. The
    /// customer and the seller's isv_admin reach their own only; platform and auditor all.
    OrderParties,
    /// A product's seller: its isv_admin acts on (and quotes) its own products only.
    ProductSeller,
    /// A coupon campaign's seller: its isv_admin reaches its own campaigns only.
    CampaignSeller,
    /// A staff member's org (or the org the path names): its isv_admin reaches its own
    /// org's staff only; a staff member (isv_staff) reaches itself only ([`reaches_staff`]).
    StaffOrg,
    /// The parties of a delivery ([`sees_delivery`]): its customer, the seller org's
    /// isv_admin, the provider org's isv_admin and staff; platform and auditor all. Lists
    /// hold only the caller's own.
    DeliveryParties,
    /// A private flow template's org: its isv_admin reaches its own templates only (public
    /// presets are everyone's).
    TemplateOwner,
    /// The org a dashboard's `org_id` query names: its isv_admin reaches its own org only
    /// (another org's is 404, [`reaches_org`]).
    QueryOrg,
}

impl Tenancy {
    /// The roles whose reach this tenancy limits to their own tenant's records.
    pub fn bound_roles(self) -> &'static [Role] {
        match self {
            Tenancy::Open => &[],
            Tenancy::OrderParties => &[Role::Customer, Role::IsvAdmin],
            Tenancy::ProductSeller
            | Tenancy::CampaignSeller
            | Tenancy::StaffOrg
            | Tenancy::TemplateOwner
            | Tenancy::QueryOrg => &[Role::IsvAdmin],
            Tenancy::DeliveryParties => &[Role::Customer, Role::IsvAdmin, Role::IsvStaff],
        }
    }
}

/// The access rule of one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub allowed: Allowed,
    pub tenancy: Tenancy,
}

impl Rule {
    /// 403 unless the caller's role may call this route (API.md §1: after 401, before 404).
    pub fn check(&self, caller: &Caller) -> Result<(), ApiError> {
        match self.allowed {
            Allowed::Public => Ok(()),
            Allowed::Roles(roles) => caller.require(roles),
        }
    }

    /// May `role` call this route (the tenancy aside)?
    pub fn allows(&self, role: Role) -> bool {
        match self.allowed {
            Allowed::Public => true,
            Allowed::Roles(roles) => roles.contains(&role),
        }
    }
}

const fn rule(
    method: &'static str,
    path: &'static str,
    roles: &'static [Role],
    tenancy: Tenancy,
) -> Rule {
    Rule {
        method,
        path,
        allowed: Allowed::Roles(roles),
        tenancy,
    }
}

const fn public(method: &'static str, path: &'static str) -> Rule {
    Rule {
        method,
        path,
        allowed: Allowed::Public,
        tenancy: Tenancy::Open,
    }
}

use Role::{Analyst, Auditor, Customer, IsvAdmin, IsvStaff, Platform};
use Tenancy::{
    CampaignSeller, DeliveryParties, Open, OrderParties, ProductSeller, StaffOrg, TemplateOwner,
};

/// Every role (routes any authenticated principal may call).
const ANY: &[Role] = &Role::ALL;
/// Every role except `customer` (API.md §1 "any staff role").
const STAFF: &[Role] = &[Platform, IsvAdmin, IsvStaff, Auditor, Analyst];
/// The readers of an order and the records it holds: its parties (API.md §1).
const ORDER_READERS: &[Role] = &[Customer, IsvAdmin, Auditor, Platform];
/// The readers of the whole log.
const LOG_READERS: &[Role] = &[Auditor, Analyst, Platform];

// §2 platform
pub const CREATE_ORG: Rule = rule("POST", "/v1/orgs", &[Platform], Open);
pub const CREATE_PRINCIPAL: Rule = rule("POST", "/v1/principals", &[Platform], Open);
pub const REVOKE_PRINCIPAL: Rule = rule("DELETE", "/v1/principals/{id}", &[Platform], Open);
pub const ME: Rule = rule("GET", "/v1/me", ANY, Open);
pub const PUT_CALENDAR: Rule = rule("PUT", "/v1/calendar/{year}", &[Platform], Open);
pub const GET_CALENDAR: Rule = rule("GET", "/v1/calendar/{year}", ANY, Open);

// §3 staff and capacity: the org's isv_admin writes; platform and auditor read every GET;
// a staff member reads itself and sets its own accepting status.
pub const CREATE_STAFF: Rule = rule("POST", "/v1/orgs/{org}/staff", &[IsvAdmin], StaffOrg);
pub const LIST_STAFF: Rule = rule(
    "GET",
    "/v1/orgs/{org}/staff",
    &[IsvAdmin, Platform, Auditor],
    StaffOrg,
);
pub const GET_STAFF: Rule = rule(
    "GET",
    "/v1/staff/{id}",
    &[IsvAdmin, IsvStaff, Platform, Auditor],
    StaffOrg,
);
pub const UPDATE_STAFF: Rule = rule("PUT", "/v1/staff/{id}", &[IsvAdmin], StaffOrg);
pub const SET_LEAVE: Rule = rule("POST", "/v1/staff/{id}/leave", &[IsvAdmin], StaffOrg);
pub const END_LEAVE: Rule = rule("DELETE", "/v1/staff/{id}/leave", &[IsvAdmin], StaffOrg);
pub const MY_ACCEPTING: Rule = rule("POST", "/v1/staff/me/accepting", &[IsvStaff], Open);
pub const ROLES: Rule = rule("GET", "/v1/roles", ANY, Open);

// §4 products. Reads: every role; others' drafts are invisible ([`sees_product`]).
pub const CREATE_PRODUCT: Rule = rule("POST", "/v1/products", &[IsvAdmin], Open);
pub const LIST_PRODUCTS: Rule = rule("GET", "/v1/products", ANY, Open);
pub const GET_PRODUCT: Rule = rule("GET", "/v1/products/{id}", ANY, Open);
pub const QUOTE: Rule = rule(
    "GET",
    "/v1/products/{id}/quote",
    &[Customer, IsvAdmin],
    ProductSeller,
);
pub const SUBMIT_PRODUCT: Rule = rule(
    "POST",
    "/v1/products/{id}/submit",
    &[IsvAdmin],
    ProductSeller,
);
pub const APPROVE_PRODUCT: Rule = rule("POST", "/v1/products/{id}/approve", &[Platform], Open);
pub const REJECT_PRODUCT: Rule = rule("POST", "/v1/products/{id}/reject", &[Platform], Open);
pub const HIDE_PRODUCT: Rule = rule("POST", "/v1/products/{id}/hide", &[IsvAdmin], ProductSeller);
pub const UNHIDE_PRODUCT: Rule = rule(
    "POST",
    "/v1/products/{id}/unhide",
    &[IsvAdmin],
    ProductSeller,
);
pub const DELIST_PRODUCT: Rule = rule("POST", "/v1/products/{id}/delist", &[Platform], Open);
pub const SPEC_PRICE: Rule = rule(
    "POST",
    "/v1/products/{id}/specs/{spec}/price",
    &[IsvAdmin],
    ProductSeller,
);
pub const SPEC_HIDE: Rule = rule(
    "POST",
    "/v1/products/{id}/specs/{spec}/hide",
    &[IsvAdmin],
    ProductSeller,
);
pub const SPEC_UNHIDE: Rule = rule(
    "POST",
    "/v1/products/{id}/specs/{spec}/unhide",
    &[IsvAdmin],
    ProductSeller,
);
pub const DISTRIBUTION: Rule = rule(
    "POST",
    "/v1/products/{id}/distribution",
    &[IsvAdmin],
    ProductSeller,
);
pub const PROVIDERS: Rule = rule(
    "PUT",
    "/v1/products/{id}/providers",
    &[IsvAdmin, Platform],
    ProductSeller,
);

// §6 promotions: the seller's isv_admin writes (the product the body or the promotion names
// must be its own: 404 otherwise); platform and auditor read every one.
pub const CREATE_PROMOTION: Rule = rule("POST", "/v1/promotions", &[IsvAdmin], Open);
pub const LIST_PROMOTIONS: Rule = rule(
    "GET",
    "/v1/promotions",
    &[IsvAdmin, Platform, Auditor],
    ProductSeller,
);
pub const GET_PROMOTION: Rule = rule(
    "GET",
    "/v1/promotions/{id}",
    &[IsvAdmin, Platform, Auditor],
    ProductSeller,
);
pub const EDIT_PROMOTION: Rule = rule("PUT", "/v1/promotions/{id}", &[IsvAdmin], ProductSeller);
pub const PUBLISH_PROMOTION: Rule = rule(
    "POST",
    "/v1/promotions/{id}/publish",
    &[IsvAdmin],
    ProductSeller,
);
pub const DELETE_PROMOTION: Rule =
    rule("DELETE", "/v1/promotions/{id}", &[IsvAdmin], ProductSeller);
// §5 orders
pub const PLACE_ORDER: Rule = rule("POST", "/v1/orders", &[Customer], Open);
pub const LIST_ORDERS: Rule = rule("GET", "/v1/orders", ORDER_READERS, OrderParties);
pub const EXPORT_ORDERS: Rule = rule("GET", "/v1/orders/export.csv", ORDER_READERS, OrderParties);
pub const GET_ORDER: Rule = rule("GET", "/v1/orders/{id}", ORDER_READERS, OrderParties);
pub const ORDER_HISTORY: Rule = rule(
    "GET",
    "/v1/orders/{id}/history",
    ORDER_READERS,
    OrderParties,
);
pub const CHANGE_PRICE: Rule = rule(
    "POST",
    "/v1/orders/{id}/change-price",
    &[IsvAdmin],
    OrderParties,
);
pub const PAY: Rule = rule("POST", "/v1/orders/{id}/pay", &[Customer], OrderParties);
pub const CANCEL: Rule = rule("POST", "/v1/orders/{id}/cancel", &[Customer], OrderParties);

// §5 refunds
pub const REQUEST_REFUND: Rule = rule(
    "POST",
    "/v1/orders/{id}/refund-requests",
    &[Customer],
    OrderParties,
);
pub const SELLER_REFUND: Rule = rule(
    "POST",
    "/v1/orders/{id}/seller-refunds",
    &[IsvAdmin],
    OrderParties,
);
/// The isv_admin decides pending_seller refunds, platform pending_platform ones (the state
/// rule is the domain's).
pub const APPROVE_REFUND: Rule = rule(
    "POST",
    "/v1/refunds/{id}/approve",
    &[IsvAdmin, Platform],
    OrderParties,
);
pub const REJECT_REFUND: Rule = rule(
    "POST",
    "/v1/refunds/{id}/reject",
    &[IsvAdmin, Platform],
    OrderParties,
);
pub const GET_REFUND: Rule = rule("GET", "/v1/refunds/{id}", ORDER_READERS, OrderParties);
pub const LIST_REFUNDS: Rule = rule("GET", "/v1/refunds", ORDER_READERS, OrderParties);

// §5 instances: the owner parties (API.md), and platform and auditor who read every GET.
pub const LIST_INSTANCES: Rule = rule("GET", "/v1/instances", ORDER_READERS, OrderParties);
pub const GET_INSTANCE: Rule = rule("GET", "/v1/instances/{id}", ORDER_READERS, OrderParties);

// §5 invoices and reviews
pub const REQUEST_INVOICE: Rule = rule(
    "POST",
    "/v1/orders/{id}/invoice-requests",
    &[Customer],
    OrderParties,
);
pub const ISSUE_INVOICE: Rule = rule("POST", "/v1/invoices/{id}/issue", &[IsvAdmin], OrderParties);
pub const REJECT_INVOICE: Rule = rule(
    "POST",
    "/v1/invoices/{id}/reject",
    &[IsvAdmin],
    OrderParties,
);
pub const LIST_INVOICES: Rule = rule("GET", "/v1/invoices", ORDER_READERS, OrderParties);
pub const REVIEW: Rule = rule("POST", "/v1/orders/{id}/review", &[Customer], OrderParties);
pub const REPLY_REVIEW: Rule = rule("POST", "/v1/reviews/{id}/reply", &[IsvAdmin], OrderParties);
/// Reviews are public; which order one is about is for that order's parties ([`sees_order`]).
pub const LIST_REVIEWS: Rule = rule("GET", "/v1/reviews", ANY, Open);

// §6 coupons. Campaign reads: the seller's isv_admin (its own), platform and auditor (every
// GET); the list also serves customers (the campaigns claimable in the store).
pub const CREATE_CAMPAIGN: Rule = rule("POST", "/v1/coupon-campaigns", &[IsvAdmin], Open);
pub const LIST_CAMPAIGNS: Rule = rule(
    "GET",
    "/v1/coupon-campaigns",
    &[IsvAdmin, Customer, Platform, Auditor],
    CampaignSeller,
);
pub const GET_CAMPAIGN: Rule = rule(
    "GET",
    "/v1/coupon-campaigns/{id}",
    &[IsvAdmin, Platform, Auditor],
    CampaignSeller,
);
pub const CAMPAIGN_COUPONS: Rule = rule(
    "GET",
    "/v1/coupon-campaigns/{id}/coupons",
    &[IsvAdmin, Platform, Auditor],
    CampaignSeller,
);
pub const CLAIM_COUPON: Rule = rule("POST", "/v1/coupon-campaigns/{id}/claim", &[Customer], Open);
pub const GRANT_COUPONS: Rule = rule(
    "POST",
    "/v1/coupon-campaigns/{id}/grant",
    &[IsvAdmin],
    CampaignSeller,
);
pub const VOID_CAMPAIGN: Rule = rule(
    "POST",
    "/v1/coupon-campaigns/{id}/void",
    &[IsvAdmin],
    CampaignSeller,
);
pub const MY_COUPONS: Rule = rule("GET", "/v1/me/coupons", &[Customer], Open);

// §7 deliveries. Parties read (API.md §1); who acts on a node is also the domain's (the
// operator of a provider node, the customer of a customer node: 409 for others).
const DELIVERY_READERS: &[Role] = &[Customer, IsvAdmin, IsvStaff, Platform, Auditor];
/// Every party that writes (the auditor never writes).
const DELIVERY_WRITERS: &[Role] = &[Customer, IsvAdmin, IsvStaff, Platform];
pub const LIST_DELIVERIES: Rule = rule("GET", "/v1/deliveries", DELIVERY_READERS, DeliveryParties);
pub const GET_DELIVERY: Rule = rule(
    "GET",
    "/v1/deliveries/{id}",
    DELIVERY_READERS,
    DeliveryParties,
);
pub const DELIVERY_LOG: Rule = rule(
    "GET",
    "/v1/deliveries/{id}/log",
    DELIVERY_READERS,
    DeliveryParties,
);
pub const SUBMIT_NODE: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/nodes/{node_id}/submit",
    &[Customer],
    DeliveryParties,
);
/// Customer nodes: the customer; provider nodes: the isv_staff operating the node's role.
pub const COMPLETE_NODE: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/nodes/{node_id}/complete",
    &[Customer, IsvStaff],
    DeliveryParties,
);
pub const REJECT_NODE: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/nodes/{node_id}/reject",
    &[Customer, IsvStaff],
    DeliveryParties,
);
pub const CLAIM: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/claim",
    &[IsvStaff],
    DeliveryParties,
);
/// The seller org's and the provider org's isv_admin, and platform.
pub const DISPATCH: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/dispatch",
    &[IsvAdmin, Platform],
    DeliveryParties,
);
/// Platform and the seller org's isv_admin (a provider's admin that is not the seller: 403).
pub const CHANGE_PROVIDER: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/change-provider",
    &[IsvAdmin, Platform],
    DeliveryParties,
);
/// The provider org's isv_admin (the seller's admin when it is not the provider: 403).
pub const CHANGE_OPERATOR: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/change-operator",
    &[IsvAdmin],
    DeliveryParties,
);
pub const PAUSE: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/pause",
    &[IsvAdmin],
    DeliveryParties,
);
pub const RESUME: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/resume",
    &[IsvAdmin],
    DeliveryParties,
);
pub const CLOSE: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/close",
    &[Platform],
    DeliveryParties,
);
pub const POST_MESSAGE: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/messages",
    DELIVERY_WRITERS,
    DeliveryParties,
);
/// The provider side only: its isv_admin and staff, and platform (the seller's admin when it
/// is not the provider: 403).
pub const POST_NOTE: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/notes",
    &[IsvAdmin, IsvStaff, Platform],
    DeliveryParties,
);
pub const UPLOAD_FILE: Rule = rule(
    "POST",
    "/v1/deliveries/{id}/files",
    DELIVERY_WRITERS,
    DeliveryParties,
);
pub const GET_FILE: Rule = rule("GET", "/v1/files/{id}", DELIVERY_READERS, DeliveryParties);

// §8 queues.
pub const DISPATCH_QUEUE: Rule = rule(
    "GET",
    "/v1/queues/dispatch",
    &[IsvAdmin, Platform, Auditor],
    DeliveryParties,
);
pub const CLAIMABLE_QUEUE: Rule = rule(
    "GET",
    "/v1/queues/claimable",
    &[IsvStaff, Platform, Auditor],
    DeliveryParties,
);
/// The caller's own work queue (platform and auditor, who read every GET, have none).
pub const MY_QUEUE: Rule = rule(
    "GET",
    "/v1/queues/mine",
    &[IsvStaff, Platform, Auditor],
    Open,
);
// §7 flow templates. isv_admin writes its own org's; every GET also serves platform and
// auditor (§1). The list is `Open`: public presets are everyone's, and the handler lists
// only the caller's org's private templates (all of them for platform and auditor).
pub const LIST_TEMPLATES: Rule = rule(
    "GET",
    "/v1/flow-templates",
    &[IsvAdmin, Platform, Auditor],
    Open,
);
pub const GET_TEMPLATE: Rule = rule(
    "GET",
    "/v1/flow-templates/{id}",
    &[IsvAdmin, Platform, Auditor],
    TemplateOwner,
);
pub const CREATE_TEMPLATE: Rule = rule("POST", "/v1/flow-templates", &[IsvAdmin], Open);
pub const EDIT_TEMPLATE: Rule = rule("PUT", "/v1/flow-templates/{id}", &[IsvAdmin], TemplateOwner);
pub const PUBLISH_TEMPLATE: Rule = rule(
    "POST",
    "/v1/flow-templates/{id}/publish",
    &[IsvAdmin],
    TemplateOwner,
);
pub const COPY_TEMPLATE: Rule = rule(
    "POST",
    "/v1/flow-templates/{id}/copy",
    &[IsvAdmin],
    TemplateOwner,
);

// §8 dashboards: the org's isv_admin (its own org), platform, auditor (§1: every GET).
pub const WORKBENCH: Rule = rule(
    "GET",
    "/v1/dashboard/workbench",
    &[IsvAdmin, Platform, Auditor],
    Tenancy::QueryOrg,
);
// §8 trade statistics: the org's isv_admin (its own org), analyst, platform, auditor.
pub const TRADE_DASHBOARD: Rule = rule(
    "GET",
    "/v1/dashboard/trade",
    &[IsvAdmin, Analyst, Platform, Auditor],
    Tenancy::QueryOrg,
);
pub const RECORD_PAGE_VIEWS: Rule = rule(
    "POST",
    "/v1/analytics/page-views",
    &[Platform, Analyst],
    Open,
);

// §9 log and operations
pub const OUTBOX: Rule = rule("GET", "/v1/outbox", &[Platform, Auditor], Open);
pub const STREAM: Rule = rule("GET", "/v1/streams/{stream_id}", &[Auditor, Platform], Open);
pub const EVENTS: Rule = rule("GET", "/v1/events", LOG_READERS, Open);
pub const EVENTS_LIVE: Rule = rule("GET", "/v1/events/live", LOG_READERS, Open);
pub const PROJECTIONS: Rule = rule("GET", "/v1/projections", STAFF, Open);
pub const REBUILD: Rule = rule(
    "POST",
    "/v1/projections/{name}/rebuild",
    &[Platform, Analyst],
    Open,
);
pub const ADVANCE_CLOCK: Rule = rule("POST", "/v1/admin/clock/advance", &[Platform], Open);
pub const HEALTH: Rule = public("GET", "/v1/health");
pub const METRICS: Rule = public("GET", "/metrics");
pub const OPENAPI: Rule = public("GET", "/v1/openapi.json");

/// The route × role table: every route the server registers, once.
pub const RULES: &[Rule] = &[
    CREATE_ORG,
    CREATE_PRINCIPAL,
    REVOKE_PRINCIPAL,
    ME,
    PUT_CALENDAR,
    GET_CALENDAR,
    CREATE_STAFF,
    LIST_STAFF,
    GET_STAFF,
    UPDATE_STAFF,
    SET_LEAVE,
    END_LEAVE,
    MY_ACCEPTING,
    ROLES,
    CREATE_PRODUCT,
    LIST_PRODUCTS,
    GET_PRODUCT,
    QUOTE,
    SUBMIT_PRODUCT,
    APPROVE_PRODUCT,
    REJECT_PRODUCT,
    HIDE_PRODUCT,
    UNHIDE_PRODUCT,
    DELIST_PRODUCT,
    SPEC_PRICE,
    SPEC_HIDE,
    SPEC_UNHIDE,
    DISTRIBUTION,
    PROVIDERS,
    CREATE_PROMOTION,
    LIST_PROMOTIONS,
    GET_PROMOTION,
    EDIT_PROMOTION,
    PUBLISH_PROMOTION,
    DELETE_PROMOTION,
    PLACE_ORDER,
    LIST_ORDERS,
    EXPORT_ORDERS,
    GET_ORDER,
    ORDER_HISTORY,
    CHANGE_PRICE,
    PAY,
    CANCEL,
    REQUEST_REFUND,
    SELLER_REFUND,
    APPROVE_REFUND,
    REJECT_REFUND,
    GET_REFUND,
    LIST_REFUNDS,
    LIST_INSTANCES,
    GET_INSTANCE,
    REQUEST_INVOICE,
    ISSUE_INVOICE,
    REJECT_INVOICE,
    LIST_INVOICES,
    REVIEW,
    REPLY_REVIEW,
    LIST_REVIEWS,
    CREATE_CAMPAIGN,
    LIST_CAMPAIGNS,
    GET_CAMPAIGN,
    CAMPAIGN_COUPONS,
    CLAIM_COUPON,
    GRANT_COUPONS,
    VOID_CAMPAIGN,
    MY_COUPONS,
    LIST_DELIVERIES,
    GET_DELIVERY,
    DELIVERY_LOG,
    SUBMIT_NODE,
    COMPLETE_NODE,
    REJECT_NODE,
    CLAIM,
    DISPATCH,
    CHANGE_PROVIDER,
    CHANGE_OPERATOR,
    PAUSE,
    RESUME,
    CLOSE,
    POST_MESSAGE,
    POST_NOTE,
    UPLOAD_FILE,
    GET_FILE,
    DISPATCH_QUEUE,
    CLAIMABLE_QUEUE,
    MY_QUEUE,
    WORKBENCH,
    OUTBOX,
    LIST_TEMPLATES,
    GET_TEMPLATE,
    CREATE_TEMPLATE,
    EDIT_TEMPLATE,
    PUBLISH_TEMPLATE,
    COPY_TEMPLATE,
    TRADE_DASHBOARD,
    RECORD_PAGE_VIEWS,
    STREAM,
    EVENTS,
    EVENTS_LIVE,
    PROJECTIONS,
    REBUILD,
    ADVANCE_CLOCK,
    HEALTH,
    METRICS,
    OPENAPI,
];

/// The parties of an order (API.md §1): its customer and its seller org, whose isv_admin
/// acts for it; platform and auditor are parties of every order.
///
/// Deliveries add their parties here: the provider org (its isv_admin) and the staff
/// assigned to the delivery, each a field beside these two and an arm in [`Parties::include`].
#[derive(Debug, Clone, Copy)]
pub struct Parties<'a> {
    pub customer_id: &'a str,
    pub seller_org_id: &'a str,
}

impl<'a> Parties<'a> {
    /// The parties of a placed order (`None` before placement: nobody's).
    pub fn of_order(s: &'a OrderState) -> Option<Parties<'a>> {
        let p = s.placed.as_ref()?;
        Some(Parties {
            customer_id: &p.customer_id,
            seller_org_id: &p.seller_org_id,
        })
    }

    /// The owner parties of an instance: those of the order that opened it.
    pub fn of_instance(s: &'a InstanceState) -> Option<Parties<'a>> {
        let o = s.opened.as_ref()?;
        Some(Parties {
            customer_id: &o.customer_id,
            seller_org_id: &o.seller_org_id,
        })
    }

    /// Is `caller` one of these parties?
    pub fn include(&self, caller: &Caller) -> bool {
        match caller.role {
            Role::Platform | Role::Auditor => true,
            Role::Customer => self.customer_id == caller.id,
            Role::IsvAdmin => caller.org_id.as_deref() == Some(self.seller_org_id),
            _ => false,
        }
    }
}

/// May `caller` see this order and what it holds? (Everyone else gets 404.)
pub fn sees_order(caller: &Caller, s: &OrderState) -> bool {
    Parties::of_order(s).is_some_and(|p| p.include(caller))
}

/// May `caller` see this instance? (Everyone else gets 404.)
pub fn sees_instance(caller: &Caller, s: &InstanceState) -> bool {
    Parties::of_instance(s).is_some_and(|p| p.include(caller))
}

/// May `caller` see this product at all? (Others' unlisted products are invisible: 404.)
pub fn sees_product(caller: &Caller, s: &ProductState) -> bool {
    match caller.role {
        Role::Platform | Role::Auditor | Role::Analyst => true,
        Role::IsvAdmin | Role::IsvStaff if s.seller_org_id() == caller.org_id.as_deref() => true,
        _ => s.status == ProductStatus::Listed,
    }
}

/// Is `caller` of the org that sells this product?
pub fn owns_product(caller: &Caller, s: &ProductState) -> bool {
    s.seller_org_id().is_some() && s.seller_org_id() == caller.org_id.as_deref()
}

/// May `caller` act on this product under `rule` (its [`Tenancy`])? A product that does
/// not exist is nobody's.
pub fn acts_on_product(caller: &Caller, rule: &Rule, s: &ProductState) -> bool {
    let bound = rule.tenancy.bound_roles().contains(&caller.role);
    s.created.is_some() && (!bound || owns_product(caller, s))
}

/// May `caller` reach this campaign under `rule` (its [`Tenancy`])? A campaign that does
/// not exist is nobody's; another org's is invisible to an isv_admin.
pub fn reaches_campaign(caller: &Caller, rule: &Rule, s: &CampaignState) -> bool {
    let bound = rule.tenancy.bound_roles().contains(&caller.role);
    s.created
        .as_ref()
        .is_some_and(|c| !bound || caller.org_id.as_deref() == Some(c.seller_org_id.as_str()))
}

/// May `caller` reach org `org_id`'s records (its staff, its dashboards) under `rule` (its
/// [`Tenancy`])? An isv_admin reaches its own org's only.
pub fn reaches_org(caller: &Caller, rule: &Rule, org_id: &str) -> bool {
    let bound = rule.tenancy.bound_roles().contains(&caller.role);
    !bound || caller.org_id.as_deref() == Some(org_id)
}

/// The org a dashboard's `org_id` query names (`Tenancy::QueryOrg`): an isv_admin's own org
/// when it names none; other roles must name it (400); an org `caller` may not reach is 404.
/// Whether the org exists is the handler's to check (it needs the directory).
pub fn query_org(caller: &Caller, rule: &Rule, org_id: Option<String>) -> Result<String, ApiError> {
    let org = match (org_id, caller.role) {
        (Some(org), _) => org,
        (None, Role::IsvAdmin) => caller.org_id.clone().unwrap_or_default(),
        (None, _) => {
            return Err(ApiError::bad_request("org_id is required").with("field", "org_id"));
        }
    };
    if !reaches_org(caller, rule, &org) {
        return Err(ApiError::not_found("org"));
    }
    Ok(org)
}

/// May `caller` reach this staff member under `rule`? A member that does not exist is
/// nobody's; an isv_admin reaches its own org's staff, a staff member only itself.
pub fn reaches_staff(caller: &Caller, rule: &Rule, s: &StaffState) -> bool {
    s.created
        && reaches_org(caller, rule, &s.org_id)
        && (caller.role != Role::IsvStaff || caller.staff_id.as_deref() == Some(&s.staff_id))
}

/// May `caller` see this delivery (API.md §1 parties of a delivery)? Platform and auditor
/// see every one; the customer its own; an isv_admin those of its org as seller or provider;
/// staff those of its org as provider (SPEC §1). A delivery not started is nobody's.
pub fn sees_delivery(caller: &Caller, s: &DeliveryState) -> bool {
    let Some(started) = &s.started else {
        return false;
    };
    let org = caller.org_id.as_deref();
    match caller.role {
        Role::Platform | Role::Auditor => true,
        Role::Customer => started.customer_id == caller.id,
        Role::IsvAdmin => {
            org == Some(started.seller_org_id.as_str()) || org == s.provider_org_id.as_deref()
        }
        Role::IsvStaff => org.is_some() && org == s.provider_org_id.as_deref(),
        Role::Analyst => false,
    }
}

/// Is `caller` on the provider side of this delivery (its provider org's isv_admin or staff,
/// or platform)? Notes are theirs (and the auditor's, who reads everything).
pub fn provider_side(caller: &Caller, s: &DeliveryState) -> bool {
    match caller.role {
        Role::Platform => true,
        Role::IsvAdmin | Role::IsvStaff => {
            caller.org_id.is_some() && caller.org_id.as_deref() == s.provider_org_id.as_deref()
        }
        _ => false,
    }
}

/// Is `caller` the isv_admin of this delivery's seller org?
pub fn seller_admin(caller: &Caller, s: &DeliveryState) -> bool {
    caller.role == Role::IsvAdmin
        && s.started
            .as_ref()
            .is_some_and(|st| caller.org_id.as_deref() == Some(st.seller_org_id.as_str()))
}

/// May `caller` reach the private template `s` under `rule` (its [`Tenancy`])? A template
/// that does not exist is nobody's; another org's is invisible to an isv_admin. (Public
/// presets are everyone's and have no stream.)
pub fn reaches_template(caller: &Caller, rule: &Rule, s: &TemplateState) -> bool {
    let bound = rule.tenancy.bound_roles().contains(&caller.role);
    s.template
        .as_ref()
        .is_some_and(|t| !bound || caller.org_id.as_deref() == Some(t.org_id.as_str()))
}

/// Whose records a caller may list.
pub enum Scope<'a> {
    /// Everyone's (platform, auditor).
    All,
    /// One customer's own.
    Customer(&'a str),
    /// Those of one seller org's products.
    Seller(&'a str),
    /// Nobody's.
    Nothing,
}

impl<'a> Scope<'a> {
    /// The key the models' party indexes file a record under, for a one-party scope.
    pub fn party(&self) -> Option<&'a str> {
        match self {
            Scope::Customer(p) | Scope::Seller(p) => Some(p),
            Scope::All | Scope::Nothing => None,
        }
    }
}

/// Whose orders (and the records they hold) `caller` may list.
pub fn scope(caller: &Caller) -> Scope<'_> {
    match caller.role {
        Role::Platform | Role::Auditor => Scope::All,
        Role::Customer => Scope::Customer(&caller.id),
        Role::IsvAdmin => caller
            .org_id
            .as_deref()
            .map_or(Scope::Nothing, Scope::Seller),
        _ => Scope::Nothing,
    }
}

/// The entries of `map` the caller may list — all of them, or those `index` files under the
/// caller's party — after the cursor `after`, in id order: a seek into the caller's own
/// records, not a scan of everyone's.
pub fn scoped<'a, V>(
    caller: &'a Caller,
    map: &'a std::collections::BTreeMap<String, V>,
    index: &'a projections::party::PartyIndex,
    after: Option<&'a str>,
) -> Box<dyn Iterator<Item = (&'a String, &'a V)> + 'a> {
    let scope = scope(caller);
    match (&scope, scope.party()) {
        (Scope::All, _) => Box::new(crate::paging::seek(map, after)),
        (_, Some(party)) => Box::new(
            index
                .after(party, after)
                .filter_map(|id| map.get_key_value(id)),
        ),
        _ => Box::new(std::iter::empty()),
    }
}
