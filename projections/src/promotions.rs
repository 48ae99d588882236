//! The promotions read model: every promotion with its product's seller and the product
//! stream's version (a promotion's `If-Match` and `ETag`), and the index promotion id →
//! product that the promotion routes find a promotion's stream with.

use std::collections::BTreeMap;

use domain::product::{ProductEvent, Promotion};
use eventlog::Record;
use serde::{Deserialize, Serialize};

use crate::runtime::{decode, ApplyError, ReadModel};

/// The promotions of one product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPromotions {
    pub seller_org_id: String,
    /// The product stream's version.
    pub version: u64,
    /// In creation order, folded with the product's own `promotion::evolve`.
    pub promotions: Vec<Promotion>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionsState {
    /// Product id → its promotions.
    pub by_product: BTreeMap<String, ProductPromotions>,
    /// Promotion id → its product id (promotion ids are unique across products).
    pub product_of: BTreeMap<String, String>,
}

impl PromotionsState {
    /// A promotion with its product id and its product's promotions entry.
    pub fn get(&self, promotion_id: &str) -> Option<(&str, &ProductPromotions, &Promotion)> {
        let product_id = self.product_of.get(promotion_id)?;
        let product = self.by_product.get(product_id)?;
        let p = product
            .promotions
            .iter()
            .find(|p| p.terms.id == promotion_id)?;
        Some((product_id.as_str(), product, p))
    }
}

/// The promotions model.
#[derive(Debug)]
pub struct Promotions;

impl ReadModel for Promotions {
    const NAME: &'static str = "promotions";
    const VERSION: u32 = 1;
    type State = PromotionsState;

    fn apply(state: &mut PromotionsState, r: &Record) -> Result<(), ApplyError> {
        let Some(id) = r.stream_id.strip_prefix("product-") else {
            return Ok(());
        };
        let e: ProductEvent = decode(r)?;
        let entry = state.by_product.entry(id.to_owned()).or_default();
        entry.version = r.version;
        match &e {
            ProductEvent::ProductCreated(c) => entry.seller_org_id = c.seller_org_id.clone(),
            ProductEvent::PromotionCreated(c) => {
                state
                    .product_of
                    .insert(c.promotion_id.clone(), id.to_owned());
            }
            _ => {}
        }
        domain::promotion::evolve(&mut entry.promotions, &e);
        Ok(())
    }
}
