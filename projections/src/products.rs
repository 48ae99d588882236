//! The product catalogue read model: every product as its read endpoint shows it.

use std::collections::BTreeMap;

use domain::product::{Product, ProductEvent, ProductState};
use domain::{Decider, Timestamp};
use eventlog::Record;
use serde::{Deserialize, Serialize};

use crate::runtime::{decode, ApplyError, ReadModel};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRow {
    pub id: String,
    pub state: ProductState,
    pub version: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductsState {
    pub by_id: BTreeMap<String, ProductRow>,
}

/// The catalogue model: the product decider's own `evolve`, kept per product.
#[derive(Debug)]
pub struct Products;

impl ReadModel for Products {
    const NAME: &'static str = "products";
    const VERSION: u32 = 2;
    type State = ProductsState;

    fn apply(state: &mut ProductsState, r: &Record) -> Result<(), ApplyError> {
        let Some(id) = r.stream_id.strip_prefix("product-") else {
            return Ok(());
        };
        let e: ProductEvent = decode(r)?;
        let at = Timestamp::from_micros(r.recorded_at_micros);
        let row = state
            .by_id
            .entry(id.to_owned())
            .or_insert_with(|| ProductRow {
                id: id.to_owned(),
                state: ProductState::default(),
                version: 0,
                created_at: at,
                updated_at: at,
            });
        row.state = Product::evolve(std::mem::take(&mut row.state), &e);
        row.version = r.version;
        row.updated_at = at;
        Ok(())
    }
}
