//! The products a customer has paid for (ADR 0006), stream `purchases-<customer id>`: what a
//! "first purchase of this product only" promotion is decided on. The payment of an order
//! appends `ProductPurchased` in the same atomic append, the first time only.
//!
//! Invariant: a product appears at most once in a customer's set, with the order that paid
//! for it first.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::decider::{Context, Decider};
use crate::error::DomainError;
use crate::time::Timestamp;

pub fn purchases_stream(customer_id: &str) -> String {
    format!("purchases-{customer_id}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPurchased {
    pub product_id: String,
    pub order_id: String,
    pub at: Timestamp,
}

crate::event_enum! {
    /// Events of a customer's purchases.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum PurchasesEvent {
        ProductPurchased(ProductPurchased) version 1,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchasesState {
    pub products: BTreeSet<String>,
}

impl PurchasesState {
    /// The customer has never paid for `product_id`.
    pub fn first_purchase(&self, product_id: &str) -> bool {
        !self.products.contains(product_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchasesCommand {
    /// An order of `product_id` was paid.
    Record {
        product_id: String,
        order_id: String,
    },
}

#[derive(Debug)]
pub struct Purchases;

impl Decider for Purchases {
    type State = PurchasesState;
    type Command = PurchasesCommand;
    type Event = PurchasesEvent;
    type Error = DomainError;

    fn decide(
        state: &PurchasesState,
        command: &PurchasesCommand,
        ctx: &Context,
    ) -> Result<Vec<PurchasesEvent>, DomainError> {
        let PurchasesCommand::Record {
            product_id,
            order_id,
        } = command;
        if !state.first_purchase(product_id) {
            return Ok(Vec::new());
        }
        Ok(vec![PurchasesEvent::ProductPurchased(ProductPurchased {
            product_id: product_id.clone(),
            order_id: order_id.clone(),
            at: ctx.now,
        })])
    }

    fn evolve(mut state: PurchasesState, event: &PurchasesEvent) -> PurchasesState {
        match event {
            PurchasesEvent::ProductPurchased(e) => {
                state.products.insert(e.product_id.clone());
            }
        }
        state
    }
}
