//! Products (SPEC.md §2): specs, review lifecycle, hiding, spec prices, one-time distribution
//! commission, providers. Stream `product-<product id>`.
//!
//! Invariants: 1..=20 specs with unique ids; a spec price change affects new orders only and
//! records old and new price, who and why; the commission rate is set at most once;
//! `delisted` is final.

use serde::{Deserialize, Serialize};

use crate::codec::{CodecError, EventCodec};
use crate::deadline::{Deadline, DeadlineEffect, DeadlineRule};
use crate::decider::{Context, Decider, Role};
use crate::decision::{Decision, Single};
use crate::error::{require_text, DomainError};
use crate::history::StoredEvent;
use crate::ids::IdGen;
use crate::money::Cents;
use crate::pricing::{PromotionStatus, PromotionTerms};
pub use crate::promotion::{
    Promotion, PromotionCommand, PromotionCreated, PromotionDeleted, PromotionEdited,
    PromotionEnded, PromotionPublished, PromotionStarted,
};
use crate::registry::Fire;
use crate::text::require_name;

pub const SPECS_MAX: usize = 20;
pub const CODE_CHARS_MAX: usize = 64;
pub const NAME_CHARS_MAX: usize = 200;
pub const REASON_CHARS_MAX: usize = 200;
/// 100 million yuan.
pub const PRICE_CENTS_MAX: i64 = 10_000_000_000;
pub const DAYS_MAX: u32 = 3_650;
pub const PROVIDERS_MAX: usize = 50;
pub const COMMISSION_PERCENT_MIN: u32 = 20;
pub const COMMISSION_PERCENT_MAX: u32 = 60;

pub fn product_stream(product_id: &str) -> String {
    format!("product-{product_id}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    Manual,
    Saas,
    Image,
    Api,
}

impl DeliveryKind {
    pub fn parse(s: &str) -> Option<DeliveryKind> {
        match s {
            "manual" => Some(DeliveryKind::Manual),
            "saas" => Some(DeliveryKind::Saas),
            "image" => Some(DeliveryKind::Image),
            "api" => Some(DeliveryKind::Api),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::Manual => "manual",
            DeliveryKind::Saas => "saas",
            DeliveryKind::Image => "image",
            DeliveryKind::Api => "api",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationUnit {
    Once,
    Month,
    Year,
}

impl DurationUnit {
    pub fn parse(s: &str) -> Option<DurationUnit> {
        match s {
            "once" => Some(DurationUnit::Once),
            "month" => Some(DurationUnit::Month),
            "year" => Some(DurationUnit::Year),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            DurationUnit::Once => "once",
            DurationUnit::Month => "month",
            DurationUnit::Year => "year",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    pub id: String,
    pub name: String,
    pub duration: u32,
    pub unit: DurationUnit,
    pub price: Cents,
    pub trial: bool,
    pub hidden: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLink {
    pub org_id: String,
    pub weight: u32,
    pub max_active: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    #[default]
    Draft,
    UnderReview,
    Listed,
    Hidden,
    Delisted,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Draft => "draft",
            ProductStatus::UnderReview => "under_review",
            ProductStatus::Listed => "listed",
            ProductStatus::Hidden => "hidden",
            ProductStatus::Delisted => "delisted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductCreated {
    pub product_id: String,
    pub seller_org_id: String,
    pub code: String,
    pub name: String,
    pub category: String,
    pub delivery: DeliveryKind,
    pub delivery_days: u32,
    pub warranty_days: u32,
    pub flow_template_id: Option<String>,
    pub specs: Vec<Spec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductStatusChanged {
    pub from: ProductStatus,
    pub to: ProductStatus,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPriceChanged {
    pub spec_id: String,
    pub old_price: Cents,
    pub new_price: Cents,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecVisibilityChanged {
    pub spec_id: String,
    pub hidden: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionCommissionSet {
    pub commission_percent: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvidersSet {
    pub providers: Vec<ProviderLink>,
}

crate::event_enum! {
    /// Events of a product.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum ProductEvent {
        ProductCreated(ProductCreated) version 1,
        ProductStatusChanged(ProductStatusChanged) version 1,
        ProductPriceChanged(ProductPriceChanged) version 1,
        SpecVisibilityChanged(SpecVisibilityChanged) version 1,
        DistributionCommissionSet(DistributionCommissionSet) version 1,
        ProvidersSet(ProvidersSet) version 1,
        PromotionCreated(PromotionCreated) version 1,
        PromotionEdited(PromotionEdited) version 1,
        PromotionPublished(PromotionPublished) version 1,
        PromotionDeleted(PromotionDeleted) version 1,
        PromotionStarted(PromotionStarted) version 1,
        PromotionEnded(PromotionEnded) version 1,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductState {
    pub created: Option<ProductCreated>,
    pub status: ProductStatus,
    pub specs: Vec<Spec>,
    pub commission_percent: Option<u32>,
    pub providers: Vec<ProviderLink>,
    /// In creation order (ties between equal savings go to the earliest).
    pub promotions: Vec<Promotion>,
}

impl ProductState {
    pub fn spec(&self, spec_id: &str) -> Option<&Spec> {
        self.specs.iter().find(|s| s.id == spec_id)
    }
    pub fn seller_org_id(&self) -> Option<&str> {
        self.created.as_ref().map(|c| c.seller_org_id.as_str())
    }
    pub fn promotion(&self, promotion_id: &str) -> Option<&Promotion> {
        self.promotions.iter().find(|p| p.terms.id == promotion_id)
    }
    /// The terms of every promotion not deleted, in creation order: what pricing chooses
    /// from.
    pub fn promotion_terms(&self) -> Vec<PromotionTerms> {
        self.promotions
            .iter()
            .filter(|p| p.terms.status != PromotionStatus::Deleted)
            .map(|p| p.terms.clone())
            .collect()
    }
}

/// A spec as given when creating a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSpec {
    pub id: String,
    pub name: String,
    pub duration: u32,
    pub unit: String,
    pub price_cents: i64,
    pub trial: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductCommand {
    Create {
        product_id: String,
        seller_org_id: String,
        code: String,
        name: String,
        category: String,
        delivery: String,
        delivery_days: u32,
        warranty_days: u32,
        flow_template_id: Option<String>,
        specs: Vec<NewSpec>,
    },
    Submit,
    Approve,
    Reject {
        reason: String,
    },
    Hide,
    Unhide,
    Delist,
    ChangeSpecPrice {
        spec_id: String,
        price_cents: i64,
        reason: String,
    },
    SetSpecHidden {
        spec_id: String,
        hidden: bool,
    },
    SetDistribution {
        commission_percent: u32,
    },
    SetProviders {
        providers: Vec<ProviderLink>,
    },
    /// Promotions live in the product's stream (ADR 0006): `promotion.rs` decides them.
    Promotion(PromotionCommand),
}

#[derive(Debug)]
pub struct Product;

fn check_price(field: &str, cents: i64) -> Result<Cents, DomainError> {
    if !(0..=PRICE_CENTS_MAX).contains(&cents) {
        return Err(DomainError::validation(
            field,
            "range",
            format!("{field} must be 0..={PRICE_CENTS_MAX} cents"),
        ));
    }
    Ok(Cents(cents))
}

/// The field rules of a provider list (count, weight, capacity, no org twice): they need no
/// state, so the API checks them before the rules that do (e.g. that each org exists).
pub fn check_provider_links(providers: &[ProviderLink]) -> Result<(), DomainError> {
    if providers.len() > PROVIDERS_MAX {
        return Err(DomainError::validation(
            "providers",
            "count",
            format!("at most {PROVIDERS_MAX} providers"),
        ));
    }
    for (i, p) in providers.iter().enumerate() {
        if !(1..=100).contains(&p.weight) {
            return Err(DomainError::validation(
                &format!("providers[{i}].weight"),
                "range",
                "weight must be 1..=100",
            ));
        }
        if p.max_active > 10_000 {
            return Err(DomainError::validation(
                &format!("providers[{i}].max_active"),
                "range",
                "max_active must be 0..=10000",
            ));
        }
        if providers[..i].iter().any(|o| o.org_id == p.org_id) {
            return Err(DomainError::validation(
                &format!("providers[{i}].org_id"),
                "unique",
                "a provider is linked once",
            ));
        }
    }
    Ok(())
}

fn id_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn transition(
    state: &ProductState,
    allowed_from: &[ProductStatus],
    to: ProductStatus,
    reason: Option<String>,
) -> Result<Vec<ProductEvent>, DomainError> {
    if !allowed_from.contains(&state.status) {
        return Err(DomainError::invalid_state(
            state.status.as_str(),
            format!(
                "a {} product cannot become {}",
                state.status.as_str(),
                to.as_str()
            ),
        ));
    }
    Ok(vec![ProductEvent::ProductStatusChanged(
        ProductStatusChanged {
            from: state.status,
            to,
            reason,
        },
    )])
}

impl Decider for Product {
    type State = ProductState;
    type Command = ProductCommand;
    type Event = ProductEvent;
    type Error = DomainError;

    fn decide(
        state: &ProductState,
        command: &ProductCommand,
        ctx: &Context,
    ) -> Result<Vec<ProductEvent>, DomainError> {
        use ProductCommand as C;
        use ProductStatus as S;
        if let C::Create {
            product_id,
            seller_org_id,
            code,
            name,
            category,
            delivery,
            delivery_days,
            warranty_days,
            flow_template_id,
            specs,
        } = command
        {
            require_name("code", code, CODE_CHARS_MAX)?;
            require_name("name", name, NAME_CHARS_MAX)?;
            require_name("category", category, NAME_CHARS_MAX)?;
            let delivery = DeliveryKind::parse(delivery).ok_or_else(|| {
                DomainError::validation(
                    "delivery",
                    "one_of",
                    "delivery must be manual, saas, image or api",
                )
            })?;
            for (field, v) in [
                ("delivery_days", delivery_days),
                ("warranty_days", warranty_days),
            ] {
                if *v > DAYS_MAX {
                    return Err(DomainError::validation(
                        field,
                        "range",
                        format!("{field} must be 0..={DAYS_MAX}"),
                    ));
                }
            }
            if specs.is_empty() || specs.len() > SPECS_MAX {
                return Err(DomainError::validation(
                    "specs",
                    "count",
                    format!("a product has 1..={SPECS_MAX} specs"),
                ));
            }
            let mut out = Vec::with_capacity(specs.len());
            for (i, s) in specs.iter().enumerate() {
                let f = |name: &str| format!("specs[{i}].{name}");
                if !id_ok(&s.id) {
                    return Err(DomainError::validation(
                        &f("id"),
                        "format",
                        "spec id must be 1..=64 of [A-Za-z0-9_-]",
                    ));
                }
                if specs[..i].iter().any(|o| o.id == s.id) {
                    return Err(DomainError::validation(
                        &f("id"),
                        "unique",
                        format!("spec id {} appears twice", s.id),
                    ));
                }
                require_name(&f("name"), &s.name, NAME_CHARS_MAX)?;
                let unit = DurationUnit::parse(&s.unit).ok_or_else(|| {
                    DomainError::validation(
                        &f("unit"),
                        "one_of",
                        "unit must be once, month or year",
                    )
                })?;
                if s.duration == 0 || s.duration > 120 {
                    return Err(DomainError::validation(
                        &f("duration"),
                        "range",
                        "duration must be 1..=120",
                    ));
                }
                out.push(Spec {
                    id: s.id.clone(),
                    name: s.name.trim().to_owned(),
                    duration: s.duration,
                    unit,
                    price: check_price(&f("price_cents"), s.price_cents)?,
                    trial: s.trial,
                    hidden: false,
                });
            }
            if delivery == DeliveryKind::Manual && flow_template_id.is_none() {
                return Err(DomainError::validation(
                    "flow_template_id",
                    "required",
                    "a manual product needs a flow_template_id",
                ));
            }
            if state.created.is_some() {
                return Err(DomainError::conflict(
                    "already_exists",
                    "product already exists",
                ));
            }
            return Ok(vec![ProductEvent::ProductCreated(ProductCreated {
                product_id: product_id.clone(),
                seller_org_id: seller_org_id.clone(),
                code: code.trim().to_owned(),
                name: name.trim().to_owned(),
                category: category.trim().to_owned(),
                delivery,
                delivery_days: *delivery_days,
                warranty_days: *warranty_days,
                flow_template_id: flow_template_id.clone(),
                specs: out,
            })]);
        }
        if let C::Promotion(PromotionCommand::Create { input, .. }) = command {
            // Field rules answer before the product's existence (API.md §1).
            crate::promotion::check_fields(input)?;
        }
        if state.created.is_none() {
            return Err(DomainError::not_found("product"));
        }
        match command {
            C::Promotion(p) => crate::promotion::decide(state, p, ctx),
            C::Create { .. } => Ok(Vec::new()),
            C::Submit => transition(state, &[S::Draft], S::UnderReview, None),
            C::Approve => transition(state, &[S::UnderReview], S::Listed, None),
            C::Reject { reason } => {
                require_text("reason", reason, REASON_CHARS_MAX)?;
                transition(state, &[S::UnderReview], S::Draft, Some(reason.clone()))
            }
            C::Hide => transition(state, &[S::Listed], S::Hidden, None),
            C::Unhide => transition(state, &[S::Hidden], S::Listed, None),
            C::Delist => transition(
                state,
                &[S::Draft, S::UnderReview, S::Listed, S::Hidden],
                S::Delisted,
                None,
            ),
            C::ChangeSpecPrice {
                spec_id,
                price_cents,
                reason,
            } => {
                let new_price = check_price("price_cents", *price_cents)?;
                require_text("reason", reason, REASON_CHARS_MAX)?;
                if state.status == S::Delisted {
                    return Err(DomainError::invalid_state(
                        "delisted",
                        "a delisted product cannot change",
                    ));
                }
                let spec = state
                    .spec(spec_id)
                    .ok_or_else(|| DomainError::not_found("spec"))?;
                if spec.price == new_price {
                    return Ok(Vec::new());
                }
                Ok(vec![ProductEvent::ProductPriceChanged(
                    ProductPriceChanged {
                        spec_id: spec_id.clone(),
                        old_price: spec.price,
                        new_price,
                        reason: reason.trim().to_owned(),
                    },
                )])
            }
            C::SetSpecHidden { spec_id, hidden } => {
                let spec = state
                    .spec(spec_id)
                    .ok_or_else(|| DomainError::not_found("spec"))?;
                if spec.hidden == *hidden {
                    return Ok(Vec::new());
                }
                Ok(vec![ProductEvent::SpecVisibilityChanged(
                    SpecVisibilityChanged {
                        spec_id: spec_id.clone(),
                        hidden: *hidden,
                    },
                )])
            }
            C::SetDistribution { commission_percent } => {
                if !(COMMISSION_PERCENT_MIN..=COMMISSION_PERCENT_MAX).contains(commission_percent) {
                    return Err(DomainError::validation("commission_percent", "range", format!("commission_percent must be {COMMISSION_PERCENT_MIN}..={COMMISSION_PERCENT_MAX}")));
                }
                if let Some(p) = state.commission_percent {
                    return Err(DomainError::invalid_state(
                        "commission_set",
                        format!("the commission is already set to {p}% and cannot change"),
                    ));
                }
                Ok(vec![ProductEvent::DistributionCommissionSet(
                    DistributionCommissionSet {
                        commission_percent: *commission_percent,
                    },
                )])
            }
            C::SetProviders { providers } => {
                check_provider_links(providers)?;
                if state.providers == *providers {
                    return Ok(Vec::new());
                }
                Ok(vec![ProductEvent::ProvidersSet(ProvidersSet {
                    providers: providers.clone(),
                })])
            }
        }
    }

    fn evolve(mut state: ProductState, event: &ProductEvent) -> ProductState {
        match event {
            ProductEvent::ProductCreated(e) => {
                state.specs = e.specs.clone();
                state.status = ProductStatus::Draft;
                state.created = Some(e.clone());
            }
            ProductEvent::ProductStatusChanged(e) => state.status = e.to,
            ProductEvent::ProductPriceChanged(e) => {
                if let Some(s) = state.specs.iter_mut().find(|s| s.id == e.spec_id) {
                    s.price = e.new_price;
                }
            }
            ProductEvent::SpecVisibilityChanged(e) => {
                if let Some(s) = state.specs.iter_mut().find(|s| s.id == e.spec_id) {
                    s.hidden = e.hidden;
                }
            }
            ProductEvent::DistributionCommissionSet(e) => {
                state.commission_percent = Some(e.commission_percent)
            }
            ProductEvent::ProvidersSet(e) => state.providers = e.providers.clone(),
            ProductEvent::PromotionCreated(_)
            | ProductEvent::PromotionEdited(_)
            | ProductEvent::PromotionPublished(_)
            | ProductEvent::PromotionDeleted(_)
            | ProductEvent::PromotionStarted(_)
            | ProductEvent::PromotionEnded(_) => {
                crate::promotion::evolve(&mut state.promotions, event)
            }
        }
        state
    }
}

/// The deadlines of a stored product event (registry entry of the product).
pub fn stored_deadline_effects(
    product_id: &str,
    e: &StoredEvent<'_>,
) -> Result<Vec<DeadlineEffect>, CodecError> {
    let event = ProductEvent::decode_payload(e.event_type, e.schema_version, e.payload)?;
    Ok(crate::promotion::deadline_effects(&event, product_id))
}

/// The product's deadline rules (a promotion's window) and the command each fires.
pub static DEADLINE_RULES: &[(DeadlineRule, Fire)] = &[
    (DeadlineRule::PromotionStart, fire_promotion_start),
    (DeadlineRule::PromotionEnd, fire_promotion_end),
];

/// The promotion a window deadline is of: its id ends with the promotion id
/// (`promotion::window_deadline_id`).
fn promotion_of(d: &Deadline) -> String {
    d.id.rsplit('/').next().unwrap_or_default().to_owned()
}

fn fire_promotion_start(d: &Deadline, _ids: &dyn IdGen) -> Box<dyn Decision> {
    Box::new(Single::<Product>::new(
        d.stream_id.clone(),
        ProductCommand::Promotion(PromotionCommand::Start {
            promotion_id: promotion_of(d),
            deadline_id: d.id.clone(),
        }),
    ))
}

fn fire_promotion_end(d: &Deadline, _ids: &dyn IdGen) -> Box<dyn Decision> {
    Box::new(Single::<Product>::new(
        d.stream_id.clone(),
        ProductCommand::Promotion(PromotionCommand::End {
            promotion_id: promotion_of(d),
            deadline_id: d.id.clone(),
        }),
    ))
}

/// A seller creates a product (the [`ProductCommand::Create`] it carries). A `manual`
/// product's `flow_template_id` must name a public preset or a published template of the
/// seller's own org (422 `validation_failed`, field `flow_template_id`, rule
/// `unknown_template` / `not_published`), checked after the field rules. A published
/// template is immutable, so its stream is read, not guarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateProduct {
    pub product_id: String,
    /// A [`ProductCommand::Create`].
    pub command: ProductCommand,
}

impl CreateProduct {
    /// The template a manual product names, if it is a private one worth loading.
    fn private_template(&self) -> Option<&str> {
        let ProductCommand::Create {
            delivery,
            flow_template_id: Some(t),
            ..
        } = &self.command
        else {
            return None;
        };
        (delivery == DeliveryKind::Manual.as_str()
            && crate::delivery::presets::preset(t).is_none()
            && crate::ids::is_valid_id(crate::ids::IdKind::Template, t))
        .then_some(t.as_str())
    }
}

impl Decision for CreateProduct {
    fn primary(&self) -> String {
        product_stream(&self.product_id)
    }

    fn streams(&self, _loaded: &crate::decision::States) -> Vec<String> {
        self.private_template()
            .map(crate::delivery::template::template_stream)
            .into_iter()
            .collect()
    }

    fn decide(
        &self,
        states: &crate::decision::States,
        ctx: &Context,
    ) -> Result<crate::decision::Outcome, DomainError> {
        use crate::delivery::template::{template_stream, usable_by, Template};
        let stream = self.primary();
        let state = states.get::<Product>(&stream)?;
        let events = Product::decide(state, &self.command, ctx)?;
        for e in &events {
            let ProductEvent::ProductCreated(c) = e else {
                continue;
            };
            let (DeliveryKind::Manual, Some(t)) = (c.delivery, c.flow_template_id.as_deref())
            else {
                continue;
            };
            let template = match self.private_template() {
                Some(id) => Some(states.get::<Template>(&template_stream(id))?),
                None => None,
            };
            usable_by(t, &c.seller_org_id, template).map_err(|rule| {
                DomainError::validation(
                    "flow_template_id",
                    rule,
                    match rule {
                        "not_published" => format!("flow template {t} is not published"),
                        _ => format!(
                            "flow template {t} is neither a public template nor one of the seller's"
                        ),
                    },
                )
            })?;
        }
        crate::decision::Outcome::primary::<Product>(&stream, state, events)
    }
}

/// Roles that act on products as their seller.
pub const SELLER_ROLES: &[Role] = &[Role::IsvAdmin];
