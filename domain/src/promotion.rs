//! Promotions (SPEC.md §4): a seller's price cuts of one product, kept in the product's stream
//! (ADR 0006) so that a placement prices from one consistent snapshot of specs and
//! promotions. `product.rs` delegates the promotion commands here.
//!
//! Invariants: a promotion's id is unique in its product; `deleted` is final; a `reduce`
//! never exceeds the cheapest non-trial spec it applies to when created or edited; the
//! window start and end are deadlines of the product stream, restarted by every edit and
//! stopped by deletion, and a firing that finds the window moved or the promotion deleted
//! appends nothing.

use serde::{Deserialize, Serialize};

use crate::deadline::{Deadline, DeadlineEffect, DeadlineRule};
use crate::decider::{Actor, Context, Role};
use crate::error::DomainError;
use crate::money::Cents;
use crate::order::{Client, OrderType};
use crate::pricing::{
    Conditions, PromotionKind, PromotionStatus, PromotionTerms, SpecDuration, PAY_PERMILLE_MAX,
    PAY_PERMILLE_MIN,
};
use crate::product::{
    product_stream, DurationUnit, ProductEvent, ProductState, ProductStatus, NAME_CHARS_MAX,
};
use crate::text::require_name;
use crate::time::Timestamp;

/// Most specs a promotion may name (a product has at most 20).
pub const PROMOTION_SPECS_MAX: usize = crate::product::SPECS_MAX;
/// Most durations a promotion's conditions may list.
pub const PROMOTION_DURATIONS_MAX: usize = 20;
/// Range of a promotion's `min_quantity` (the order quantity range).
pub const MIN_QUANTITY_MIN: u32 = 1;
pub const MIN_QUANTITY_MAX: u32 = 100;
/// Most promotions one product holds over its life (they stay in the product's state).
pub const PROMOTIONS_PER_PRODUCT_MAX: usize = 200;

/// A promotion's terms as stored by its events (its id and status aside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionFields {
    pub name: String,
    pub kind: PromotionKind,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub spec_ids: Vec<String>,
    pub conditions: Conditions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionCreated {
    pub promotion_id: String,
    pub terms: PromotionFields,
    pub created_by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionEdited {
    pub promotion_id: String,
    pub terms: PromotionFields,
    pub edited_by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionPublished {
    pub promotion_id: String,
    pub by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionDeleted {
    pub promotion_id: String,
    pub by: String,
    pub at: Timestamp,
}

/// The window opened (the system, at `starts_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionStarted {
    pub promotion_id: String,
    pub deadline_id: String,
    pub at: Timestamp,
}

/// The window closed (the system, at `ends_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionEnded {
    pub promotion_id: String,
    pub deadline_id: String,
    pub at: Timestamp,
}

/// One promotion of a product, as its state holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub terms: PromotionTerms,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The start deadline fired for the current window.
    pub started: bool,
    /// The end deadline fired for the current window.
    pub ended: bool,
}

impl Promotion {
    /// Not deleted and its window not closed: placement may still need its conditions.
    pub fn live(&self) -> bool {
        self.terms.status != PromotionStatus::Deleted && !self.ended
    }

    /// Published and inside its window at `now`.
    pub fn active(&self, now: Timestamp) -> bool {
        self.terms.status == PromotionStatus::Published
            && self.terms.starts_at <= now
            && now < self.terms.ends_at
    }
}

/// A duration as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationInput {
    pub duration: u32,
    pub unit: String,
}

/// Conditions as a request names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConditionsInput {
    pub order_types: Vec<String>,
    pub min_quantity: Option<u32>,
    pub clients: Vec<String>,
    pub durations: Vec<DurationInput>,
    pub first_purchase_only: bool,
    pub real_name_only: bool,
}

/// A promotion's full terms as a request names them (create and edit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionInput {
    pub name: String,
    pub kind: String,
    pub reduce_cents: Option<i64>,
    pub pay_permille: Option<u32>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub spec_ids: Vec<String>,
    pub conditions: ConditionsInput,
}

/// The promotion commands of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromotionCommand {
    Create {
        promotion_id: String,
        input: PromotionInput,
    },
    Edit {
        promotion_id: String,
        input: PromotionInput,
    },
    Publish {
        promotion_id: String,
    },
    Delete {
        promotion_id: String,
    },
    /// Fired by the start deadline.
    Start {
        promotion_id: String,
        deadline_id: String,
    },
    /// Fired by the end deadline.
    End {
        promotion_id: String,
        deadline_id: String,
    },
}

fn invalid(field: &str, rule: &str, message: impl Into<String>) -> DomainError {
    DomainError::validation(field, rule, message)
}

/// The field rules of a promotion's terms (422, before any state).
pub fn check_fields(input: &PromotionInput) -> Result<PromotionFields, DomainError> {
    require_name("name", &input.name, NAME_CHARS_MAX)?;
    let kind = match input.kind.as_str() {
        "reduce" => {
            if input.pay_permille.is_some() {
                return Err(invalid(
                    "pay_permille",
                    "not_allowed",
                    "a reduce promotion has no pay_permille",
                ));
            }
            let reduce = input.reduce_cents.ok_or_else(|| {
                invalid(
                    "reduce_cents",
                    "required",
                    "a reduce promotion needs reduce_cents",
                )
            })?;
            if !(1..=crate::product::PRICE_CENTS_MAX).contains(&reduce) {
                return Err(invalid(
                    "reduce_cents",
                    "range",
                    format!(
                        "reduce_cents must be 1..={}",
                        crate::product::PRICE_CENTS_MAX
                    ),
                ));
            }
            PromotionKind::Reduce {
                reduce: Cents(reduce),
            }
        }
        "discount" => {
            if input.reduce_cents.is_some() {
                return Err(invalid(
                    "reduce_cents",
                    "not_allowed",
                    "a discount promotion has no reduce_cents",
                ));
            }
            let pay = input.pay_permille.ok_or_else(|| {
                invalid(
                    "pay_permille",
                    "required",
                    "a discount promotion needs pay_permille",
                )
            })?;
            if !(PAY_PERMILLE_MIN..=PAY_PERMILLE_MAX).contains(&pay) {
                return Err(invalid(
                    "pay_permille",
                    "range",
                    format!("pay_permille must be {PAY_PERMILLE_MIN}..={PAY_PERMILLE_MAX}"),
                ));
            }
            PromotionKind::Discount { pay_permille: pay }
        }
        _ => return Err(invalid("kind", "one_of", "kind must be reduce or discount")),
    };
    if input.starts_at >= input.ends_at {
        return Err(invalid(
            "ends_at",
            "after_start",
            "ends_at must be after starts_at",
        ));
    }
    if input.spec_ids.len() > PROMOTION_SPECS_MAX {
        return Err(invalid(
            "spec_ids",
            "count",
            format!("at most {PROMOTION_SPECS_MAX} spec ids"),
        ));
    }
    for (i, s) in input.spec_ids.iter().enumerate() {
        if input.spec_ids[..i].contains(s) {
            return Err(invalid(
                &format!("spec_ids[{i}]"),
                "unique",
                format!("spec {s} is named twice"),
            ));
        }
    }
    let c = &input.conditions;
    let mut order_types = Vec::with_capacity(c.order_types.len());
    for (i, t) in c.order_types.iter().enumerate() {
        let parsed = match t.as_str() {
            "new" => OrderType::New,
            "renewal" => OrderType::Renewal,
            "upgrade" => OrderType::Upgrade,
            _ => {
                return Err(invalid(
                    &format!("conditions.order_types[{i}]"),
                    "one_of",
                    "an order type is new, renewal or upgrade",
                ))
            }
        };
        if !order_types.contains(&parsed) {
            order_types.push(parsed);
        }
    }
    if let Some(m) = c.min_quantity {
        if !(MIN_QUANTITY_MIN..=MIN_QUANTITY_MAX).contains(&m) {
            return Err(invalid(
                "conditions.min_quantity",
                "range",
                format!("min_quantity must be {MIN_QUANTITY_MIN}..={MIN_QUANTITY_MAX}"),
            ));
        }
    }
    let mut clients = Vec::with_capacity(c.clients.len());
    for (i, cl) in c.clients.iter().enumerate() {
        let parsed = Client::parse(cl).ok_or_else(|| {
            invalid(
                &format!("conditions.clients[{i}]"),
                "one_of",
                "a client is web, mobile or api",
            )
        })?;
        if !clients.contains(&parsed) {
            clients.push(parsed);
        }
    }
    if c.durations.len() > PROMOTION_DURATIONS_MAX {
        return Err(invalid(
            "conditions.durations",
            "count",
            format!("at most {PROMOTION_DURATIONS_MAX} durations"),
        ));
    }
    let mut durations = Vec::with_capacity(c.durations.len());
    for (i, d) in c.durations.iter().enumerate() {
        let unit = DurationUnit::parse(&d.unit).ok_or_else(|| {
            invalid(
                &format!("conditions.durations[{i}].unit"),
                "one_of",
                "unit must be once, month or year",
            )
        })?;
        if d.duration == 0 || d.duration > 120 {
            return Err(invalid(
                &format!("conditions.durations[{i}].duration"),
                "range",
                "duration must be 1..=120",
            ));
        }
        let parsed = SpecDuration {
            duration: d.duration,
            unit,
        };
        if !durations.contains(&parsed) {
            durations.push(parsed);
        }
    }
    Ok(PromotionFields {
        name: input.name.trim().to_owned(),
        kind,
        starts_at: input.starts_at,
        ends_at: input.ends_at,
        spec_ids: input.spec_ids.clone(),
        conditions: Conditions {
            order_types,
            min_quantity: c.min_quantity,
            clients,
            durations,
            first_purchase_only: c.first_purchase_only,
            real_name_only: c.real_name_only,
        },
    })
}

/// The rules of terms that read the product: each spec exists, and a `reduce` is not larger
/// than the cheapest non-trial spec it applies to (trials are never discounted).
fn check_against_product(
    fields: &PromotionFields,
    product: &ProductState,
) -> Result<(), DomainError> {
    for (i, s) in fields.spec_ids.iter().enumerate() {
        if product.spec(s).is_none() {
            return Err(invalid(
                &format!("spec_ids[{i}]"),
                "unknown",
                format!("the product has no spec {s}"),
            ));
        }
    }
    let PromotionKind::Reduce { reduce } = fields.kind else {
        return Ok(());
    };
    let durations = &fields.conditions.durations;
    let cheapest = product
        .specs
        .iter()
        .filter(|s| !s.trial)
        .filter(|s| fields.spec_ids.is_empty() || fields.spec_ids.contains(&s.id))
        .filter(|s| {
            durations.is_empty()
                || durations.contains(&SpecDuration {
                    duration: s.duration,
                    unit: s.unit,
                })
        })
        .map(|s| s.price)
        .min();
    match cheapest {
        Some(price) if reduce > price => Err(invalid(
            "reduce_cents",
            "exceeds_price",
            format!(
                "reduce_cents {} exceeds the cheapest applicable spec price of {} cents",
                reduce.0, price.0
            ),
        )),
        _ => Ok(()),
    }
}

/// The seller's acting principal: an isv_admin of the product's org. Anyone else does not
/// see the product's promotions (404, tenancy).
fn seller(product: &ProductState, ctx: &Context) -> Result<String, DomainError> {
    match &ctx.actor {
        Actor::Principal {
            id,
            role: Role::IsvAdmin,
            org_id: Some(org),
        } if product.seller_org_id() == Some(org.as_str()) => Ok(id.clone()),
        _ => Err(DomainError::not_found("promotion")),
    }
}

fn existing<'a>(product: &'a ProductState, id: &str) -> Result<&'a Promotion, DomainError> {
    product
        .promotion(id)
        .ok_or_else(|| DomainError::not_found("promotion"))
}

fn not_deleted(p: &Promotion, doing: &str) -> Result<(), DomainError> {
    if p.terms.status == PromotionStatus::Deleted {
        return Err(DomainError::invalid_state(
            "deleted",
            format!("a deleted promotion cannot be {doing}"),
        ));
    }
    Ok(())
}

fn not_delisted(product: &ProductState, doing: &str) -> Result<(), DomainError> {
    if product.status == ProductStatus::Delisted {
        return Err(DomainError::invalid_state(
            "delisted",
            format!("a promotion of a delisted product cannot be {doing}"),
        ));
    }
    Ok(())
}

/// Decides a promotion command on its product's state (the product exists).
pub fn decide(
    product: &ProductState,
    command: &PromotionCommand,
    ctx: &Context,
) -> Result<Vec<ProductEvent>, DomainError> {
    use PromotionCommand as C;
    match command {
        C::Create {
            promotion_id,
            input,
        } => {
            let fields = check_fields(input)?;
            let by = seller(product, ctx)?;
            if product.promotion(promotion_id).is_some() {
                return Err(DomainError::conflict(
                    "already_exists",
                    "promotion already exists",
                ));
            }
            not_delisted(product, "created")?;
            if product.promotions.len() >= PROMOTIONS_PER_PRODUCT_MAX {
                return Err(DomainError::invalid_state(
                    "promotions_full",
                    format!("a product holds at most {PROMOTIONS_PER_PRODUCT_MAX} promotions"),
                ));
            }
            check_against_product(&fields, product)?;
            Ok(vec![ProductEvent::PromotionCreated(PromotionCreated {
                promotion_id: promotion_id.clone(),
                terms: fields,
                created_by: by,
                at: ctx.now,
            })])
        }
        C::Edit {
            promotion_id,
            input,
        } => {
            let fields = check_fields(input)?;
            let by = seller(product, ctx)?;
            let p = existing(product, promotion_id)?;
            not_deleted(p, "edited")?;
            not_delisted(product, "edited")?;
            check_against_product(&fields, product)?;
            Ok(vec![ProductEvent::PromotionEdited(PromotionEdited {
                promotion_id: promotion_id.clone(),
                terms: fields,
                edited_by: by,
                at: ctx.now,
            })])
        }
        C::Publish { promotion_id } => {
            let by = seller(product, ctx)?;
            let p = existing(product, promotion_id)?;
            not_deleted(p, "published")?;
            if p.terms.status == PromotionStatus::Published {
                return Ok(Vec::new());
            }
            not_delisted(product, "published")?;
            Ok(vec![ProductEvent::PromotionPublished(PromotionPublished {
                promotion_id: promotion_id.clone(),
                by,
                at: ctx.now,
            })])
        }
        C::Delete { promotion_id } => {
            let by = seller(product, ctx)?;
            let p = existing(product, promotion_id)?;
            if p.terms.status == PromotionStatus::Deleted {
                return Ok(Vec::new());
            }
            Ok(vec![ProductEvent::PromotionDeleted(PromotionDeleted {
                promotion_id: promotion_id.clone(),
                by,
                at: ctx.now,
            })])
        }
        C::Start {
            promotion_id,
            deadline_id,
        } => {
            let fires = product.promotion(promotion_id).is_some_and(|p| {
                p.terms.status != PromotionStatus::Deleted
                    && !p.started
                    && p.terms.starts_at <= ctx.now
            });
            Ok(fires
                .then(|| {
                    ProductEvent::PromotionStarted(PromotionStarted {
                        promotion_id: promotion_id.clone(),
                        deadline_id: deadline_id.clone(),
                        at: ctx.now,
                    })
                })
                .into_iter()
                .collect())
        }
        C::End {
            promotion_id,
            deadline_id,
        } => {
            let fires = product.promotion(promotion_id).is_some_and(|p| {
                p.terms.status != PromotionStatus::Deleted && !p.ended && p.terms.ends_at <= ctx.now
            });
            Ok(fires
                .then(|| {
                    ProductEvent::PromotionEnded(PromotionEnded {
                        promotion_id: promotion_id.clone(),
                        deadline_id: deadline_id.clone(),
                        at: ctx.now,
                    })
                })
                .into_iter()
                .collect())
        }
    }
}

fn terms_of(id: &str, fields: &PromotionFields, status: PromotionStatus) -> PromotionTerms {
    PromotionTerms {
        id: id.to_owned(),
        name: fields.name.clone(),
        kind: fields.kind,
        starts_at: fields.starts_at,
        ends_at: fields.ends_at,
        spec_ids: fields.spec_ids.clone(),
        conditions: fields.conditions.clone(),
        status,
    }
}

/// Folds a promotion event into the product's promotions (other events leave them).
pub fn evolve(promotions: &mut Vec<Promotion>, event: &ProductEvent) {
    let find = |promotions: &mut Vec<Promotion>, id: &str| -> Option<usize> {
        promotions.iter().position(|p| p.terms.id == id)
    };
    match event {
        ProductEvent::PromotionCreated(e) => promotions.push(Promotion {
            terms: terms_of(&e.promotion_id, &e.terms, PromotionStatus::PrePublished),
            created_by: e.created_by.clone(),
            created_at: e.at,
            updated_at: e.at,
            started: false,
            ended: false,
        }),
        ProductEvent::PromotionEdited(e) => {
            if let Some(i) = find(promotions, &e.promotion_id) {
                let p = &mut promotions[i];
                p.terms = terms_of(&e.promotion_id, &e.terms, p.terms.status);
                p.updated_at = e.at;
                // The edit restarts both window deadlines.
                p.started = false;
                p.ended = false;
            }
        }
        ProductEvent::PromotionPublished(e) => {
            if let Some(i) = find(promotions, &e.promotion_id) {
                promotions[i].terms.status = PromotionStatus::Published;
                promotions[i].updated_at = e.at;
            }
        }
        ProductEvent::PromotionDeleted(e) => {
            if let Some(i) = find(promotions, &e.promotion_id) {
                promotions[i].terms.status = PromotionStatus::Deleted;
                promotions[i].updated_at = e.at;
            }
        }
        ProductEvent::PromotionStarted(e) => {
            if let Some(i) = find(promotions, &e.promotion_id) {
                promotions[i].started = true;
            }
        }
        ProductEvent::PromotionEnded(e) => {
            if let Some(i) = find(promotions, &e.promotion_id) {
                promotions[i].ended = true;
            }
        }
        _ => {}
    }
}

/// The id of a promotion's start or end deadline.
pub fn window_deadline_id(product_id: &str, rule: DeadlineRule, promotion_id: &str) -> String {
    Deadline::id_for(&product_stream(product_id), rule, promotion_id)
}

fn window(product_id: &str, promotion_id: &str, fields: &PromotionFields) -> Vec<DeadlineEffect> {
    [
        (DeadlineRule::PromotionStart, fields.starts_at),
        (DeadlineRule::PromotionEnd, fields.ends_at),
    ]
    .into_iter()
    .map(|(rule, due_at)| {
        DeadlineEffect::Start(Deadline {
            id: window_deadline_id(product_id, rule, promotion_id),
            due_at,
            stream_id: product_stream(product_id),
            rule,
        })
    })
    .collect()
}

fn stop(product_id: &str, rule: DeadlineRule, promotion_id: &str) -> DeadlineEffect {
    DeadlineEffect::Stop {
        id: window_deadline_id(product_id, rule, promotion_id),
    }
}

/// The deadlines a product event starts and stops: a promotion's window.
pub fn deadline_effects(event: &ProductEvent, product_id: &str) -> Vec<DeadlineEffect> {
    match event {
        ProductEvent::PromotionCreated(e) => window(product_id, &e.promotion_id, &e.terms),
        ProductEvent::PromotionEdited(e) => window(product_id, &e.promotion_id, &e.terms),
        ProductEvent::PromotionDeleted(e) => vec![
            stop(product_id, DeadlineRule::PromotionStart, &e.promotion_id),
            stop(product_id, DeadlineRule::PromotionEnd, &e.promotion_id),
        ],
        ProductEvent::PromotionStarted(e) => {
            vec![stop(
                product_id,
                DeadlineRule::PromotionStart,
                &e.promotion_id,
            )]
        }
        ProductEvent::PromotionEnded(e) => {
            vec![stop(
                product_id,
                DeadlineRule::PromotionEnd,
                &e.promotion_id,
            )]
        }
        ProductEvent::ProductCreated(_)
        | ProductEvent::ProductStatusChanged(_)
        | ProductEvent::ProductPriceChanged(_)
        | ProductEvent::SpecVisibilityChanged(_)
        | ProductEvent::DistributionCommissionSet(_)
        | ProductEvent::ProvidersSet(_)
        | ProductEvent::PromotionPublished(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
