//! Order commands that touch more than the order's stream, shared by the HTTP handlers, the
//! deadline scheduler and the benchmark so that there is one way through for each:
//! placement (guarded by the product's and the instance's versions), payment (opening,
//! extending or upgrading instances atomically with the payment), and refund approval
//! (releasing the order's instances atomically when the refund releases immediately).

use domain::codec::EventCodec;
use domain::instance::{
    instance_stream, instances_of, on_payment, Instance, InstanceEvent, InstanceReleased,
};
use domain::order::{order_stream, Order, OrderCommand, OrderState, PlaceOrder, Release};
use domain::product::{product_stream, Product};
use eventlog::{Expected, NewEvent, StreamAppend};

use crate::error::ApiError;
use crate::runner::{CommandMeta, Executed, Runner};

/// What a customer asks to order.
#[derive(Debug, Clone)]
pub struct PlaceInput {
    pub order_id: String,
    pub customer_id: String,
    pub product_id: String,
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

fn encode(events: &[InstanceEvent]) -> Result<Vec<NewEvent>, ApiError> {
    events
        .iter()
        .map(|e| {
            let enc = e
                .encode()
                .map_err(|err| ApiError::internal("encoding an instance event", err))?;
            Ok(NewEvent {
                event_type: enc.type_name.to_owned(),
                schema_version: enc.schema_version,
                payload: enc.payload,
            })
        })
        .collect()
}

fn valid_stream(stream: String) -> Option<String> {
    eventlog::validate_stream_id(&stream)
        .is_ok()
        .then_some(stream)
}

/// Places an order: the decision uses the product (and instance) as of their versions, and
/// the append checks they are still so.
pub async fn place_order(
    runner: &Runner,
    meta: &CommandMeta,
    input: &PlaceInput,
) -> Result<Executed<OrderState>, ApiError> {
    runner
        .execute_planned::<Order, _>(meta, &order_stream(&input.order_id), || {
            let unknown_product = || {
                ApiError::validation(
                    "product_id",
                    "unknown",
                    format!("product {} does not exist", input.product_id),
                )
            };
            let pstream =
                valid_stream(product_stream(&input.product_id)).ok_or_else(unknown_product)?;
            let product = runner.load::<Product>(&pstream, u64::MAX)?;
            if product.state.created.is_none()
                || product.state.status == domain::product::ProductStatus::Draft
            {
                return Err(unknown_product());
            }
            let mut guards = vec![StreamAppend {
                stream_id: pstream,
                expected: Expected::Exact(product.version),
                events: Vec::new(),
            }];
            let instance = match input
                .instance_id
                .as_deref()
                .and_then(|i| valid_stream(instance_stream(i)))
            {
                Some(istream) => {
                    let l = runner.load::<Instance>(&istream, u64::MAX)?;
                    guards.push(StreamAppend {
                        stream_id: istream,
                        expected: Expected::Exact(l.version),
                        events: Vec::new(),
                    });
                    Some(l.state)
                }
                None => None,
            };
            let cmd = OrderCommand::Place(Box::new(PlaceOrder {
                order_id: input.order_id.clone(),
                customer_id: input.customer_id.clone(),
                product_id: input.product_id.clone(),
                product: product.state,
                instance,
                spec_id: input.spec_id.clone(),
                quantity: input.quantity,
                order_type: input.order_type.clone(),
                instance_id: input.instance_id.clone(),
                coupon_id: input.coupon_id.clone(),
                client: input.client.clone(),
                channel_kind: input.channel_kind.clone(),
                channel_ref: input.channel_ref.clone(),
                remark: input.remark.clone(),
            }));
            Ok((cmd, guards))
        })
        .await
}

/// Pays an order; its instances open (new, trial) or change (renewal, conversion, upgrade)
/// in the same atomic append.
pub async fn pay_order(
    runner: &Runner,
    meta: &CommandMeta,
    order_id: &str,
    amount_cents: i64,
    voucher_cents: i64,
) -> Result<Executed<OrderState>, ApiError> {
    let stream = order_stream(order_id);
    runner
        .execute_planned::<Order, _>(meta, &stream, || {
            let cmd = OrderCommand::Pay {
                amount_cents,
                voucher_cents,
            };
            let order = runner.load::<Order>(&stream, u64::MAX)?.state;
            let Some(placed) = &order.placed else {
                return Ok((cmd, Vec::new()));
            };
            let product = runner
                .load::<Product>(&product_stream(&placed.product_id), u64::MAX)?
                .state;
            // The spec as ordered (its duration); prices come from the order itself.
            let Some(spec) = product.spec(&placed.spec_id).cloned() else {
                return Ok((cmd, Vec::new()));
            };
            let (instance, version) = match &placed.instance_id {
                Some(id) => {
                    let l = runner.load::<Instance>(&instance_stream(id), u64::MAX)?;
                    (Some(l.state), l.version)
                }
                None => (None, 0),
            };
            let now = runner.clock.now();
            let mut others = Vec::new();
            for (id, event) in on_payment(&order, &spec, instance.as_ref(), now, runner.tz) {
                let expected = if placed.instance_id.as_deref() == Some(id.as_str()) {
                    Expected::Exact(version)
                } else {
                    Expected::NoStream
                };
                others.push(StreamAppend {
                    stream_id: instance_stream(&id),
                    expected,
                    events: encode(&[event])?,
                });
            }
            Ok((cmd, others))
        })
        .await
}

/// Runs a refund decision (approve, reject, auto-approve); an approval of a refund that
/// releases immediately also releases the order's live instances, atomically.
pub async fn decide_refund(
    runner: &Runner,
    meta: &CommandMeta,
    order_id: &str,
    cmd: OrderCommand,
) -> Result<Executed<OrderState>, ApiError> {
    let stream = order_stream(order_id);
    runner
        .execute_planned::<Order, _>(meta, &stream, || {
            let refund_id = match &cmd {
                OrderCommand::ApproveRefund { refund_id, .. }
                | OrderCommand::AutoApproveRefund { refund_id, .. } => refund_id,
                _ => return Ok((cmd.clone(), Vec::new())),
            };
            let order = runner.load::<Order>(&stream, u64::MAX)?.state;
            let releases = order
                .refund(refund_id)
                .is_some_and(|r| r.release == Release::Immediate);
            let mut others = Vec::new();
            if releases {
                let now = runner.clock.now();
                for id in instances_of(&order) {
                    let l = runner.load::<Instance>(&instance_stream(&id), u64::MAX)?;
                    if l.state.opened.is_none() || !l.state.usable() {
                        continue;
                    }
                    let e = InstanceEvent::InstanceReleased(InstanceReleased {
                        at: now,
                        order_id: order_id.to_owned(),
                        refund_id: refund_id.clone(),
                    });
                    others.push(StreamAppend {
                        stream_id: instance_stream(&id),
                        expected: Expected::Exact(l.version),
                        events: encode(&[e])?,
                    });
                }
            }
            Ok((cmd.clone(), others))
        })
        .await
}
