//! Golden bytes: the stored encoding of every event type, pinned.
//!
//! Stored bytes are never rewritten (EVENTLOG.md), so a change to a payload struct that alters
//! its bincode encoding — a field added, removed, reordered or retyped, an enum variant
//! inserted before another — would make the log unreadable or, worse, silently misread. Each
//! case below is one representative value with every field set (and, where a type has
//! optional fields, one with them `None`), its type name, schema version and exact payload
//! bytes. The bytes must also decode back to the value, through the aggregate's codec and
//! through the registry that history views and exports use.
//!
//! A new event type fails `every_registered_event_type_has_golden_bytes` until it has a case
//! here; a deliberate schema change bumps the variant's version, adds an upcaster and keeps
//! the old bytes as that upcaster's test, then pins the new ones here.

use std::collections::BTreeSet;
use std::fmt::Debug;

use chrono::NaiveDate;
use domain::calendar::TimeoutUnit;
use domain::codec::{to_payload_bytes, EventCodec};
use domain::coupon::{
    AutoGrantIndexEvent, AutoGrantWindow, CampaignAutoGrantAdded, CampaignCreated, CampaignEvent,
    CampaignVoided, CouponGranted, CouponRedeemed, CouponReleased, CouponStockDrawn, StockEvent,
    StockGrant, Via, WalletEvent,
};
use domain::delivery::capacity::{ProviderLoadEvent, ProviderWorkReleased, ProviderWorkTaken};
use domain::delivery::node::{
    AssignRule, FlowNode, Node, NodeTimeout, NodeType, Notification, NotifyTrigger, Recipient,
    Side, TimeoutAction,
};
use domain::delivery::project::{
    CancelReason, DeliveryCancelled, DeliveryCompleted, DeliveryEvent, DeliveryPaused,
    DeliveryQueued, DeliveryResumed, DeliveryStarted, FileAttached, MessagePosted, NodeCompleted,
    NodeEntered, NodeRejected, NodeTimedOut, NotePosted, OperatorAssigned, OperatorHow, Party,
    ProviderAssigned, ProviderChanged, ProviderHow, QueueReason, QueueRechecked, RequirementForm,
    RequirementSubmitted, WeightPick,
};
use domain::delivery::queue::{DeliveryDequeued, DeliveryEnqueued, DispatchQueueEvent};
use domain::delivery::staff::{
    OrgStaffEvent, StaffAcceptingSet, StaffCreated, StaffEvent, StaffJoined, StaffLeaveEnded,
    StaffLeaveSet, StaffUpdated, StaffWorkReleased, StaffWorkTaken,
};
use domain::delivery::template::{
    TemplateCreated, TemplateEdited, TemplateEvent, TemplatePublished,
};
use domain::events;
use domain::instance::{
    InstanceClosed, InstanceEvent, InstanceExpired, InstanceExtended, InstanceOpened,
    InstanceReleased, InstanceStatus, InstanceUpgraded,
};
use domain::order::{
    Channel, ChannelKind, Client, InvoiceIssued, InvoiceRejected, InvoiceRequested, InvoiceType,
    OrderCompleted, OrderEvent, OrderPaid, OrderPlaced, OrderPriceChanged, OrderType, OrderVoided,
    RefundApproved, RefundInitiator, RefundKind, RefundRejected, RefundRequested, Release,
    ReviewDefaulted, ReviewReplied, ReviewSubmitted, VoidReason,
};
use domain::pageview::{PageView, PageViewsEvent, PageViewsRecorded};
use domain::platform::{
    CalendarEvent, CalendarSet, ClockEvent, OrgCreated, OrgEvent, PrincipalCreated, PrincipalEvent,
    PrincipalRevoked, SimulatedClockAdvanced,
};
use domain::pricing::{
    AppliedCoupon, AppliedPromotion, Conditions, CouponKind, CouponScope, CouponTerms,
    PromotionKind, SpecDuration,
};
use domain::product::{
    DeliveryKind, DistributionCommissionSet, DurationUnit, ProductCreated, ProductEvent,
    ProductPriceChanged, ProductStatus, ProductStatusChanged, PromotionCreated, PromotionDeleted,
    PromotionEdited, PromotionEnded, PromotionPublished, PromotionStarted, ProviderLink,
    ProvidersSet, Spec, SpecVisibilityChanged,
};
use domain::promotion::PromotionFields;
use domain::purchases::{ProductPurchased, PurchasesEvent};
use domain::{Cents, Role, Timestamp};

/// One pinned encoding.
struct Golden<E> {
    event: E,
    type_name: &'static str,
    schema_version: u16,
    payload_hex: &'static str,
}

fn golden<E>(
    type_name: &'static str,
    schema_version: u16,
    event: impl Into<E>,
    payload_hex: &'static str,
) -> Golden<E> {
    Golden {
        event: event.into(),
        type_name,
        schema_version,
        payload_hex,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Checks every case and fails once, listing each mismatch with the bytes actually written,
/// so a deliberate change (with its upcaster) is easy to re-pin and an accidental one is
/// plain to see.
fn assert_pinned<E: EventCodec + PartialEq + Debug>(cases: &[Golden<E>]) {
    let mut mismatches = Vec::new();
    for case in cases {
        let encoded = case.event.encode().expect("a representative value encodes");
        let actual = (
            encoded.type_name,
            encoded.schema_version,
            hex(&encoded.payload),
        );
        let expected = (
            case.type_name,
            case.schema_version,
            case.payload_hex.to_owned(),
        );
        if actual != expected {
            mismatches.push(format!(
                "{}: expected {expected:?}\n{}   actual {actual:?}",
                case.type_name,
                " ".repeat(case.type_name.len())
            ));
            continue;
        }
        let stored = unhex(case.payload_hex);
        let decoded = E::decode_payload(case.type_name, case.schema_version, &stored);
        assert_eq!(
            decoded.as_ref(),
            Ok(&case.event),
            "{}: the golden bytes decode back to the value",
            case.type_name
        );
        let json = events::decode_json(case.type_name, case.schema_version, &stored);
        assert_eq!(
            json,
            Some(Ok(case.event.payload_json())),
            "{}: the registry decodes the golden bytes to the same JSON",
            case.type_name
        );
    }
    assert!(
        mismatches.is_empty(),
        "event encodings changed:\n{}",
        mismatches.join("\n")
    );
}

fn ts(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).expect("a valid timestamp")
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a valid date")
}

// ---------------------------------------------------------------------------------------
// Orders

fn order_placed() -> OrderPlaced {
    OrderPlaced {
        order_id: "ord_01jdq7x3k2".into(),
        order_type: OrderType::Renewal,
        customer_id: "cus_7".into(),
        seller_org_id: "org_s".into(),
        product_id: "prd_1".into(),
        product_code: "MIG".into(),
        product_name: "数据迁移".into(),
        delivery: DeliveryKind::Saas,
        spec_id: "spc_y".into(),
        spec_name: "Yearly".into(),
        duration: 1,
        unit: DurationUnit::Year,
        instance_id: Some("ins_01jdq7x3k2_1".into()),
        quantity: 3,
        unit_price: Cents(199_900),
        original: Cents(599_700),
        payable: Cents(539_730),
        channel: Channel {
            kind: ChannelKind::Distribution,
            reference: Some("dst_42".into()),
        },
        commission_percent: Some(30),
        client: Some(Client::Mobile),
        remark: Some("invoice to HQ".into()),
        placed_at: ts("2026-11-22T09:00:00+08:00"),
        payment_due_at: ts("2026-11-29T09:00:00+08:00"),
        promotion: Some(AppliedPromotion {
            id: "prm_1".into(),
            name: "双十一".into(),
            saving: Cents(50_000),
        }),
        coupon: Some(AppliedCoupon {
            id: "cpn_1".into(),
            campaign_id: "cpc_1".into(),
            saving: Cents(9_970),
        }),
    }
}

/// Schema 1 of `OrderPlaced` (before promotions and coupons): the bytes stay readable, as an
/// order with neither.
#[test]
fn order_placed_v1_bytes_decode_with_no_promotion_and_no_coupon() {
    let without = OrderPlaced {
        promotion: None,
        coupon: None,
        ..order_placed()
    };
    let minimal = OrderPlaced {
        order_type: OrderType::New,
        instance_id: None,
        channel: Channel {
            kind: ChannelKind::OnlineStore,
            reference: None,
        },
        commission_percent: None,
        client: None,
        remark: None,
        ..without.clone()
    };
    for (hex, expected) in [(V1_FULL, without), (V1_MINIMAL, minimal)] {
        let decoded = OrderEvent::decode_payload("OrderPlaced", 1, &unhex(hex));
        assert_eq!(decoded, Ok(OrderEvent::OrderPlaced(expected)));
    }
}

const V1_FULL: &str = "0e6f72645f30316a64713778336b3201056375735f37056f72675f73057072645f31034d49470ce695b0e68daee8bf81e7a7bb01057370635f7906596561726c7901020110696e735f30316a64713778336b325f3103fcb8190600fc284d1200fca47810000201066473745f3432011e0101010d696e766f69636520746f204851fd008841fea5c10c00fd00c808a0bfc20c00";
const V1_MINIMAL: &str = "0e6f72645f30316a64713778336b3200056375735f37056f72675f73057072645f31034d49470ce695b0e68daee8bf81e7a7bb01057370635f7906596561726c7901020003fcb8190600fc284d1200fca47810000000000000fd008841fea5c10c00fd00c808a0bfc20c00";

fn order_cases() -> Vec<Golden<OrderEvent>> {
    vec![
        golden("OrderPlaced", 2, order_placed(), "0e6f72645f30316a64713778336b3201056375735f37056f72675f73057072645f31034d49470ce695b0e68daee8bf81e7a7bb01057370635f7906596561726c7901020110696e735f30316a64713778336b325f3103fcb8190600fc284d1200fca47810000201066473745f3432011e0101010d696e766f69636520746f204851fd008841fea5c10c00fd00c808a0bfc20c00010570726d5f3109e58f8ce58d81e4b880fca0860100010563706e5f31056370635f31fbe44d"),
        golden(
            "OrderPlaced",
            2,
            OrderPlaced {
                order_type: OrderType::New,
                instance_id: None,
                channel: Channel {
                    kind: ChannelKind::OnlineStore,
                    reference: None,
                },
                commission_percent: None,
                client: None,
                remark: None,
                promotion: None,
                coupon: None,
                ..order_placed()
            },
            "0e6f72645f30316a64713778336b3200056375735f37056f72675f73057072645f31034d49470ce695b0e68daee8bf81e7a7bb01057370635f7906596561726c7901020003fcb8190600fc284d1200fca47810000000000000fd008841fea5c10c00fd00c808a0bfc20c000000",
        ),
        golden(
            "OrderPriceChanged",
            1,
            OrderPriceChanged {
                old_payable: Cents(599_700),
                new_payable: Cents(539_730),
                reason: "volume discount".into(),
                changed_by: "prn_s:isv_admin".into(),
                at: ts("2026-11-22T10:30:00+08:00"),
            },
            "fc284d1200fca47810000f766f6c756d6520646973636f756e740f70726e5f733a6973765f61646d696efd0074fc81a8c10c00",
        ),
        golden(
            "OrderPaid",
            1,
            OrderPaid {
                amount: Cents(539_730),
                voucher: Cents(10_000),
                cash: Cents(529_730),
                at: ts("2026-11-23T08:15:00+08:00"),
                completed: true,
            },
            "fca4781000fb204efc842a1000fd00d212f8ccc10c0001",
        ),
        golden(
            "OrderVoided",
            1,
            OrderVoided {
                reason: VoidReason::PaymentTimeout,
                at: ts("2026-11-29T09:00:00+08:00"),
                deadline_id: Some("order-ord_1/order_payment_timeout/placed".into()),
            },
            "01fd00c808a0bfc20c0001286f726465722d6f72645f312f6f726465725f7061796d656e745f74696d656f75742f706c61636564",
        ),
        golden(
            "OrderVoided",
            1,
            OrderVoided {
                reason: VoidReason::CancelledByCustomer,
                at: ts("2026-11-22T11:00:00+08:00"),
                deadline_id: None,
            },
            "00fd00189058a9c10c0000",
        ),
        golden(
            "RefundRequested",
            1,
            RefundRequested {
                refund_id: "rfd_1".into(),
                initiated_by: RefundInitiator::Customer,
                kind: RefundKind::Request,
                amount: Cents(100_000),
                release: Release::Keep,
                keep_reason: Some("data still needed".into()),
                reason: "bought too many".into(),
                requested_by: "cus_7:customer".into(),
                at: ts("2026-11-24T09:00:00+08:00"),
                auto_approve_at: Some(ts("2026-11-27T09:00:00+08:00")),
            },
            "057266645f310000fc400d030001011164617461207374696c6c206e65656465640f626f7567687420746f6f206d616e790e6375735f373a637573746f6d6572fd00089f75f6c10c0001fd0048ab286fc20c00",
        ),
        golden(
            "RefundRequested",
            1,
            RefundRequested {
                refund_id: "rfd_2".into(),
                initiated_by: RefundInitiator::Seller,
                kind: RefundKind::Remaining,
                amount: Cents(439_730),
                release: Release::Immediate,
                keep_reason: None,
                reason: "service discontinued".into(),
                requested_by: "prn_s:isv_admin".into(),
                at: ts("2026-11-25T09:00:00+08:00"),
                auto_approve_at: None,
            },
            "057266645f320102fc646b0d000000147365727669636520646973636f6e74696e7565640f70726e5f733a6973765f61646d696efd00c84db11ec20c0000",
        ),
        golden(
            "RefundApproved",
            1,
            RefundApproved {
                refund_id: "rfd_1".into(),
                amount: Cents(100_000),
                cash: Cents(90_000),
                voucher: Cents(10_000),
                approved_by: "system".into(),
                at: ts("2026-11-27T09:00:00+08:00"),
                automatic: true,
                deadline_id: Some("order-ord_1/refund_auto_approve/rfd_1".into()),
                commission_clawback: Cents(30_000),
                balance_after: Cents(439_730),
                release: Release::Keep,
            },
            "057266645f31fc400d0300fc20bf0200fb204e0673797374656dfd0048ab286fc20c000101256f726465722d6f72645f312f726566756e645f6175746f5f617070726f76652f7266645f31fb60eafc646b0d0001",
        ),
        golden(
            "RefundApproved",
            1,
            RefundApproved {
                refund_id: "rfd_2".into(),
                amount: Cents(439_730),
                cash: Cents(439_730),
                voucher: Cents(0),
                approved_by: "prn_p:platform".into(),
                at: ts("2026-11-25T10:00:00+08:00"),
                automatic: false,
                deadline_id: None,
                commission_clawback: Cents(131_919),
                balance_after: Cents(0),
                release: Release::Immediate,
            },
            "057266645f32fc646b0d00fc646b0d00000e70726e5f703a706c6174666f726dfd0010755e20c20c000000fc9e0604000000",
        ),
        golden(
            "RefundRejected",
            1,
            RefundRejected {
                refund_id: "rfd_3".into(),
                reason: "outside the refund window".into(),
                rejected_by: "prn_s:isv_admin".into(),
                at: ts("2026-11-26T09:00:00+08:00"),
            },
            "057266645f33196f7574736964652074686520726566756e642077696e646f770f70726e5f733a6973765f61646d696efd0088fcec46c20c00",
        ),
        golden(
            "InvoiceRequested",
            1,
            InvoiceRequested {
                invoice_id: "inv_1".into(),
                invoice_type: InvoiceType::SpecialVat,
                title: "Acme Ltd".into(),
                tax_id: "91310000MA1FL0000X".into(),
                address: "1 Century Ave, Shanghai".into(),
                amount: Cents(539_730),
                seller_pays_postage: true,
                at: ts("2026-11-24T09:00:00+08:00"),
            },
            "05696e765f31010841636d65204c74641239313331303030304d4131464c303030305817312043656e74757279204176652c205368616e67686169fca478100001fd00089f75f6c10c00",
        ),
        golden(
            "InvoiceIssued",
            1,
            InvoiceIssued {
                invoice_id: "inv_1".into(),
                tracking: "SF1234567890".into(),
                issued_by: "prn_s:isv_staff".into(),
                at: ts("2026-11-26T15:00:00+08:00"),
            },
            "05696e765f310c5346313233343536373839300f70726e5f733a6973765f7374616666fd0038e8fb50c20c00",
        ),
        golden(
            "InvoiceRejected",
            1,
            InvoiceRejected {
                invoice_id: "inv_2".into(),
                reason: "tax id does not match the title".into(),
                rejected_by: "prn_s:isv_admin".into(),
                at: ts("2026-11-26T16:00:00+08:00"),
            },
            "05696e765f321f74617820696420646f6573206e6f74206d6174636820746865207469746c650f70726e5f733a6973765f61646d696efd00800fa952c20c00",
        ),
        golden(
            "ReviewSubmitted",
            1,
            ReviewSubmitted {
                review_id: "rev_1".into(),
                quality: 5,
                attitude: 4,
                speed: 2,
                comment: "good, but slow".into(),
                at: ts("2026-12-01T09:00:00+08:00"),
            },
            "057265765f310504020e676f6f642c2062757420736c6f77fd0048661710c30c00",
        ),
        golden(
            "ReviewDefaulted",
            1,
            ReviewDefaulted {
                review_id: "rev_2".into(),
                at: ts("2026-12-08T09:00:00+08:00"),
                deadline_id: "order-ord_1/review_default/paid".into(),
            },
            "057265765f32fd00882db929c40c001f6f726465722d6f72645f312f7265766965775f64656661756c742f70616964",
        ),
        golden(
            "ReviewReplied",
            1,
            ReviewReplied {
                review_id: "rev_1".into(),
                text: "thank you, we are on it".into(),
                replied_by: "prn_s:isv_admin".into(),
                at: ts("2026-12-02T09:00:00+08:00"),
            },
            "057265765f31177468616e6b20796f752c20776520617265206f6e2069740f70726e5f733a6973765f61646d696efd0008155338c30c00",
        ),
        golden(
            "OrderCompleted",
            1,
            OrderCompleted {
                delivery_id: "dlv_1".into(),
                at: ts("2026-12-10T18:00:00+08:00"),
            },
            "05646c765f31fd0090ec4689c40c00",
        ),
    ]
}

#[test]
fn order_event_encodings_are_pinned() {
    assert_pinned(&order_cases());
}

// ---------------------------------------------------------------------------------------
// Products

fn product_created() -> ProductCreated {
    ProductCreated {
        product_id: "prd_1".into(),
        seller_org_id: "org_s".into(),
        code: "MIG".into(),
        name: "数据迁移".into(),
        category: "data".into(),
        delivery: DeliveryKind::Manual,
        delivery_days: 10,
        warranty_days: 90,
        flow_template_id: Some("flw_std".into()),
        specs: vec![
            Spec {
                id: "spc_m".into(),
                name: "Monthly".into(),
                duration: 1,
                unit: DurationUnit::Month,
                price: Cents(19_900),
                trial: false,
                hidden: false,
            },
            Spec {
                id: "spc_t".into(),
                name: "Trial".into(),
                duration: 14,
                unit: DurationUnit::Once,
                price: Cents(0),
                trial: true,
                hidden: true,
            },
        ],
    }
}

fn product_cases() -> Vec<Golden<ProductEvent>> {
    vec![
        golden("ProductCreated", 1, product_created(), "057072645f31056f72675f73034d49470ce695b0e68daee8bf81e7a7bb0464617461000a5a0107666c775f73746402057370635f6d074d6f6e74686c790101fb789b0000057370635f7405547269616c0e00000101"),
        golden(
            "ProductCreated",
            1,
            ProductCreated {
                delivery: DeliveryKind::Api,
                flow_template_id: None,
                ..product_created()
            },
            "057072645f31056f72675f73034d49470ce695b0e68daee8bf81e7a7bb0464617461030a5a0002057370635f6d074d6f6e74686c790101fb789b0000057370635f7405547269616c0e00000101",
        ),
        golden(
            "ProductStatusChanged",
            1,
            ProductStatusChanged {
                from: ProductStatus::Listed,
                to: ProductStatus::Hidden,
                reason: Some("pricing under review".into()),
            },
            "0203011470726963696e6720756e64657220726576696577",
        ),
        golden(
            "ProductStatusChanged",
            1,
            ProductStatusChanged {
                from: ProductStatus::Draft,
                to: ProductStatus::UnderReview,
                reason: None,
            },
            "000100",
        ),
        golden(
            "ProductPriceChanged",
            1,
            ProductPriceChanged {
                spec_id: "spc_m".into(),
                old_price: Cents(19_900),
                new_price: Cents(24_900),
                reason: "new features".into(),
            },
            "057370635f6dfb789bfb88c20c6e6577206665617475726573",
        ),
        golden(
            "SpecVisibilityChanged",
            1,
            SpecVisibilityChanged {
                spec_id: "spc_t".into(),
                hidden: true,
            },
            "057370635f7401",
        ),
        golden(
            "DistributionCommissionSet",
            1,
            DistributionCommissionSet {
                commission_percent: 30,
            },
            "1e",
        ),
        golden(
            "ProvidersSet",
            1,
            ProvidersSet {
                providers: vec![
                    ProviderLink {
                        org_id: "org_p1".into(),
                        weight: 3,
                        max_active: 200,
                    },
                    ProviderLink {
                        org_id: "org_p2".into(),
                        weight: 1,
                        max_active: 50,
                    },
                ],
            },
            "02066f72675f703103c8066f72675f70320132",
        ),
        golden(
            "PromotionCreated",
            1,
            PromotionCreated {
                promotion_id: "prm_1".into(),
                terms: promotion_fields(),
                created_by: "prn_s".into(),
                at: ts("2026-11-01T09:00:00+08:00"),
            },
            "0570726d5f3109e58f8ce58d81e4b88001fb5203fd00c05d57dcbf0c00fd00800c9304c00c0002057370635f6d057370635f79020004010202000201010201010570726e5f73fd00c8eb1859be0c00",
        ),
        golden(
            "PromotionEdited",
            1,
            PromotionEdited {
                promotion_id: "prm_1".into(),
                terms: PromotionFields {
                    kind: PromotionKind::Reduce {
                        reduce: Cents(1_000),
                    },
                    spec_ids: vec![],
                    conditions: Conditions::default(),
                    ..promotion_fields()
                },
                edited_by: "prn_s".into(),
                at: ts("2026-11-02T09:00:00+08:00"),
            },
            "0570726d5f3109e58f8ce58d81e4b88000fbd007fd00c05d57dcbf0c00fd00800c9304c00c00000000000000000570726e5f73fd00889a5481be0c00",
        ),
        golden(
            "PromotionPublished",
            1,
            PromotionPublished {
                promotion_id: "prm_1".into(),
                by: "prn_s".into(),
                at: ts("2026-11-03T09:00:00+08:00"),
            },
            "0570726d5f310570726e5f73fd00484990a9be0c00",
        ),
        golden(
            "PromotionDeleted",
            1,
            PromotionDeleted {
                promotion_id: "prm_1".into(),
                by: "prn_s".into(),
                at: ts("2026-11-04T09:00:00+08:00"),
            },
            "0570726d5f310570726e5f73fd0008f8cbd1be0c00",
        ),
        golden(
            "PromotionStarted",
            1,
            PromotionStarted {
                promotion_id: "prm_1".into(),
                deadline_id: "product-prd_1/promotion_start/prm_1".into(),
                at: ts("2026-11-11T00:00:00+08:00"),
            },
            "0570726d5f312370726f647563742d7072645f312f70726f6d6f74696f6e5f73746172742f70726d5f31fd00c05d57dcbf0c00",
        ),
        golden(
            "PromotionEnded",
            1,
            PromotionEnded {
                promotion_id: "prm_1".into(),
                deadline_id: "product-prd_1/promotion_end/prm_1".into(),
                at: ts("2026-11-12T00:00:00+08:00"),
            },
            "0570726d5f312170726f647563742d7072645f312f70726f6d6f74696f6e5f656e642f70726d5f31fd00800c9304c00c00",
        ),
    ]
}

fn promotion_fields() -> PromotionFields {
    PromotionFields {
        name: "双十一".into(),
        kind: PromotionKind::Discount { pay_permille: 850 },
        starts_at: ts("2026-11-11T00:00:00+08:00"),
        ends_at: ts("2026-11-12T00:00:00+08:00"),
        spec_ids: vec!["spc_m".into(), "spc_y".into()],
        conditions: Conditions {
            order_types: vec![OrderType::New, OrderType::Upgrade],
            min_quantity: Some(2),
            clients: vec![Client::Web, Client::Api],
            durations: vec![SpecDuration {
                duration: 1,
                unit: DurationUnit::Year,
            }],
            first_purchase_only: true,
            real_name_only: true,
        },
    }
}

// ---------------------------------------------------------------------------------------
// Purchases

fn purchases_cases() -> Vec<Golden<PurchasesEvent>> {
    vec![golden(
        "ProductPurchased",
        1,
        ProductPurchased {
            product_id: "prd_1".into(),
            order_id: "ord_01jdq7x3k2".into(),
            at: ts("2026-11-22T10:00:00+08:00"),
        },
        "057072645f310e6f72645f30316a64713778336b32fd00d068aba7c10c00",
    )]
}

#[test]
fn purchases_event_encodings_are_pinned() {
    assert_pinned(&purchases_cases());
}

// Page views

fn page_views_cases() -> Vec<Golden<PageViewsEvent>> {
    vec![golden(
        "PageViewsRecorded",
        1,
        PageViewsRecorded {
            batch_id: "pgv_1".into(),
            views: vec![
                PageView {
                    product_id: "prd_1".into(),
                    visitor_id: "v-1".into(),
                    at: ts("2026-11-22T10:00:00+08:00"),
                    dwell_ms: 12_000,
                },
                PageView {
                    product_id: "prd_2".into(),
                    visitor_id: "v-2".into(),
                    at: ts("2026-11-22T10:01:00+08:00"),
                    dwell_ms: 0,
                },
            ],
            recorded_by: "prn_a:analyst".into(),
            at: ts("2026-11-22T10:05:00+08:00"),
        },
        "057067765f3102057072645f3103762d31fd00d068aba7c10c00fbe02e057072645f3203762d32fd00de8fb2a7c10c00000d70726e5f613a616e616c797374fd00162ccfa7c10c00",
    )]
}

#[test]
fn page_views_event_encodings_are_pinned() {
    assert_pinned(&page_views_cases());
}

#[test]
fn product_event_encodings_are_pinned() {
    assert_pinned(&product_cases());
}

// ---------------------------------------------------------------------------------------
// Instances

fn instance_opened() -> InstanceOpened {
    InstanceOpened {
        instance_id: "ins_01jdq7x3k2_1".into(),
        order_id: "ord_01jdq7x3k2".into(),
        product_id: "prd_1".into(),
        seller_org_id: "org_s".into(),
        customer_id: "cus_7".into(),
        spec_id: "spc_m".into(),
        trial: false,
        status: InstanceStatus::Active,
        opened_at: ts("2026-11-23T08:15:00+08:00"),
        expires_at: Some(ts("2026-12-23T08:15:00+08:00")),
    }
}

fn instance_cases() -> Vec<Golden<InstanceEvent>> {
    vec![
        golden("InstanceOpened", 1, instance_opened(), "10696e735f30316a64713778336b325f310e6f72645f30316a64713778336b32057072645f31056f72675f73056375735f37057370635f6d0001fd00d212f8ccc10c0001fd00528df683c60c00"),
        golden(
            "InstanceOpened",
            1,
            InstanceOpened {
                trial: true,
                status: InstanceStatus::Opening,
                expires_at: None,
                ..instance_opened()
            },
            "10696e735f30316a64713778336b325f310e6f72645f30316a64713778336b32057072645f31056f72675f73056375735f37057370635f6d0100fd00d212f8ccc10c0000",
        ),
        golden(
            "InstanceExtended",
            1,
            InstanceExtended {
                order_id: "ord_renewal".into(),
                spec_id: "spc_y".into(),
                trial: false,
                old_expires_at: Some(ts("2026-12-23T08:15:00+08:00")),
                new_expires_at: Some(ts("2027-12-23T08:15:00+08:00")),
                status: InstanceStatus::InService,
            },
            "0b6f72645f72656e6577616c057370635f790001fd00528df683c60c0001fd0012b50ee1ff0c0002",
        ),
        golden(
            "InstanceExtended",
            1,
            InstanceExtended {
                order_id: "ord_conversion".into(),
                spec_id: "spc_m".into(),
                trial: true,
                old_expires_at: None,
                new_expires_at: None,
                status: InstanceStatus::Expired,
            },
            "0e6f72645f636f6e76657273696f6e057370635f6d01000003",
        ),
        golden(
            "InstanceUpgraded",
            1,
            InstanceUpgraded {
                order_id: "ord_upgrade".into(),
                old_spec_id: "spc_m".into(),
                new_spec_id: "spc_y".into(),
            },
            "0b6f72645f75706772616465057370635f6d057370635f79",
        ),
        golden(
            "InstanceExpired",
            1,
            InstanceExpired {
                at: ts("2026-12-23T08:15:00+08:00"),
                deadline_id: "instance-ins_1/instance_expiry/ord_1".into(),
            },
            "fd00528df683c60c0024696e7374616e63652d696e735f312f696e7374616e63655f6578706972792f6f72645f31",
        ),
        golden(
            "InstanceClosed",
            1,
            InstanceClosed {
                at: ts("2026-12-30T08:15:00+08:00"),
                deadline_id: "instance-ins_1/instance_close/ord_1".into(),
            },
            "fd009254989dc70c0023696e7374616e63652d696e735f312f696e7374616e63655f636c6f73652f6f72645f31",
        ),
        golden(
            "InstanceReleased",
            1,
            InstanceReleased {
                at: ts("2026-11-25T10:00:00+08:00"),
                order_id: "ord_01jdq7x3k2".into(),
                refund_id: "rfd_2".into(),
            },
            "fd0010755e20c20c000e6f72645f30316a64713778336b32057266645f32",
        ),
    ]
}

#[test]
fn instance_event_encodings_are_pinned() {
    assert_pinned(&instance_cases());
}

// ---------------------------------------------------------------------------------------
// Platform: organisations, principals, calendar years, the simulated clock

fn org_cases() -> Vec<Golden<OrgEvent>> {
    vec![golden(
        "OrgCreated",
        1,
        OrgCreated {
            org_id: "org_s".into(),
            name: "云迁科技".into(),
        },
        "056f72675f730ce4ba91e8bf81e7a791e68a80",
    )]
}

fn principal_cases() -> Vec<Golden<PrincipalEvent>> {
    vec![
        golden(
            "PrincipalCreated",
            1,
            PrincipalCreated {
                principal_id: "prn_s2".into(),
                role: Role::IsvStaff,
                name: "Li Wei".into(),
                org_id: Some("org_s".into()),
                staff_id: Some("stf_9".into()),
                real_name_verified: true,
                token_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                    .into(),
            },
            "0670726e5f733202064c692057656901056f72675f7301057374665f39014039663836643038313838346337643635396132666561613063353561643031356133626634663162326230623832326364313564366331356230663030613038",
        ),
        golden(
            "PrincipalCreated",
            1,
            PrincipalCreated {
                principal_id: "prn_a".into(),
                role: Role::Auditor,
                name: "Audit".into(),
                org_id: None,
                staff_id: None,
                real_name_verified: false,
                token_sha256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
                    .into(),
            },
            "0570726e5f61040541756469740000004036303330336165323262393938383631626365336232386633336565633162653735386132313363383663393363303736646265396635353863313163373532",
        ),
        golden(
            "PrincipalRevoked",
            1,
            PrincipalRevoked {
                principal_id: "prn_s2".into(),
            },
            "0670726e5f7332",
        ),
    ]
}

fn calendar_cases() -> Vec<Golden<CalendarEvent>> {
    vec![golden(
        "CalendarSet",
        1,
        CalendarSet {
            year: 2026,
            holidays: vec![date("2026-10-01"), date("2026-10-02")],
            workdays: vec![date("2026-10-10")],
        },
        "fbd40f020a323032362d31302d30310a323032362d31302d3032010a323032362d31302d3130",
    )]
}

fn clock_cases() -> Vec<Golden<ClockEvent>> {
    vec![golden(
        "SimulatedClockAdvanced",
        1,
        SimulatedClockAdvanced {
            from: ts("2026-11-22T09:00:00+08:00"),
            to: ts("2026-11-29T09:00:00.000001+08:00"),
        },
        "fd008841fea5c10c00fd02c808a0bfc20c00",
    )]
}

#[test]
fn platform_event_encodings_are_pinned() {
    assert_pinned(&org_cases());
    assert_pinned(&principal_cases());
    assert_pinned(&calendar_cases());
    assert_pinned(&clock_cases());
}

// ---------------------------------------------------------------------------------------
// Coupons

fn campaign_created() -> CampaignCreated {
    CampaignCreated {
        campaign_id: "cpc_01jdq7x3k2".into(),
        seller_org_id: "org_s".into(),
        name: "双十一".into(),
        scope: CouponScope::Products(vec!["prd_1".into(), "prd_2".into()]),
        kind: CouponKind::Threshold {
            threshold: Cents(10_000),
            reduce: Cents(1_500),
        },
        scenarios: vec![OrderType::New, OrderType::Upgrade],
        per_customer_limit: 2,
        valid_from: ts("2026-11-01T00:00:00+08:00"),
        valid_until: ts("2026-12-01T00:00:00+08:00"),
        total_quantity: 1_000,
        show_in_store: true,
        auto_grant: Some(AutoGrantWindow {
            product_ids: vec!["prd_3".into()],
            purchased_from: ts("2026-11-01T00:00:00+08:00"),
            purchased_until: ts("2026-11-12T00:00:00+08:00"),
        }),
        created_by: "prn_s:isv_admin".into(),
        at: ts("2026-10-30T10:00:00+08:00"),
    }
}

fn coupon_terms() -> CouponTerms {
    CouponTerms {
        campaign_id: "cpc_01jdq7x3k2".into(),
        seller_org_id: "org_s".into(),
        scope: CouponScope::Store,
        kind: CouponKind::Discount { pay_permille: 850 },
        scenarios: vec![OrderType::Renewal],
        valid_from: ts("2026-11-01T00:00:00+08:00"),
        valid_until: ts("2026-12-01T00:00:00+08:00"),
    }
}

fn campaign_cases() -> Vec<Golden<CampaignEvent>> {
    vec![
        golden("CampaignCreated", 1, campaign_created(), "0e6370635f30316a64713778336b32056f72675f7309e58f8ce58d81e4b8800102057072645f31057072645f3201fb204efbb80b02000402fd00408a024abe0c00fd00c0040101c30c00fbe803010101057072645f33fd00408a024abe0c00fd00800c9304c00c000f70726e5f733a6973765f61646d696efd0090b54e0abe0c00"),
        golden(
            "CampaignCreated",
            1,
            CampaignCreated {
                scope: CouponScope::Store,
                kind: CouponKind::Discount { pay_permille: 900 },
                show_in_store: false,
                auto_grant: None,
                ..campaign_created()
            },
            "0e6370635f30316a64713778336b32056f72675f7309e58f8ce58d81e4b8800000fb840302000402fd00408a024abe0c00fd00c0040101c30c00fbe80300000f70726e5f733a6973765f61646d696efd0090b54e0abe0c00",
        ),
        golden(
            "CampaignVoided",
            1,
            CampaignVoided {
                by: "prn_s:isv_admin".into(),
                at: ts("2026-11-05T10:00:00+08:00"),
            },
            "0f70726e5f733a6973765f61646d696efd0010ceb4fbbe0c00",
        ),
    ]
}

fn autogrant_cases() -> Vec<Golden<AutoGrantIndexEvent>> {
    vec![golden(
        "CampaignAutoGrantAdded",
        1,
        CampaignAutoGrantAdded {
            campaign_id: "cpc_01jdq7x3k2".into(),
        },
        "0e6370635f30316a64713778336b32",
    )]
}

fn stock_cases() -> Vec<Golden<StockEvent>> {
    let grants = vec![
        StockGrant {
            coupon_id: "cpn_a1".into(),
            customer_id: "cus_7".into(),
        },
        StockGrant {
            coupon_id: "cpn_a2".into(),
            customer_id: "cus_8".into(),
        },
    ];
    let drawn = |via: Via| CouponStockDrawn {
        grants: grants.clone(),
        via,
        at: ts("2026-11-05T10:00:00+08:00"),
    };
    vec![
        golden("CouponStockDrawn", 1, drawn(Via::Claim), "020663706e5f6131056375735f370663706e5f6132056375735f3800fd0010ceb4fbbe0c00"),
        golden(
            "CouponStockDrawn",
            1,
            drawn(Via::Grant {
                by: "prn_s:isv_admin".into(),
            }),
            "020663706e5f6131056375735f370663706e5f6132056375735f38010f70726e5f733a6973765f61646d696efd0010ceb4fbbe0c00",
        ),
        golden(
            "CouponStockDrawn",
            1,
            drawn(Via::AutoGrant {
                order_id: "ord_01jdq7x3k2".into(),
            }),
            "020663706e5f6131056375735f370663706e5f6132056375735f38020e6f72645f30316a64713778336b32fd0010ceb4fbbe0c00",
        ),
    ]
}

fn wallet_cases() -> Vec<Golden<WalletEvent>> {
    vec![
        golden(
            "CouponGranted",
            1,
            CouponGranted {
                coupon_id: "cpn_a1".into(),
                customer_id: "cus_7".into(),
                terms: coupon_terms(),
                via: Via::Claim,
                at: ts("2026-11-05T10:00:00+08:00"),
            },
            "0663706e5f6131056375735f370e6370635f30316a64713778336b32056f72675f730000fb52030101fd00408a024abe0c00fd00c0040101c30c0000fd0010ceb4fbbe0c00",
        ),
        golden(
            "CouponRedeemed",
            1,
            CouponRedeemed {
                coupon_id: "cpn_a1".into(),
                order_id: "ord_01jdq7x3k2".into(),
                saving: Cents(1_500),
                at: ts("2026-11-06T10:00:00+08:00"),
            },
            "0663706e5f61310e6f72645f30316a64713778336b32fbb80bfd00d07cf023bf0c00",
        ),
        golden(
            "CouponReleased",
            1,
            CouponReleased {
                coupon_id: "cpn_a1".into(),
                order_id: "ord_01jdq7x3k2".into(),
                at: ts("2026-11-07T10:00:00+08:00"),
            },
            "0663706e5f61310e6f72645f30316a64713778336b32fd00902b2c4cbf0c00",
        ),
    ]
}

#[test]
fn coupon_event_encodings_are_pinned() {
    assert_pinned(&campaign_cases());
    assert_pinned(&autogrant_cases());
    assert_pinned(&stock_cases());
    assert_pinned(&wallet_cases());
}

// ---------------------------------------------------------------------------------------
// Deliveries

fn delivery_flow() -> Vec<FlowNode> {
    let node = |id: &str, node_type| Node {
        id: id.into(),
        node_type,
        name: id.into(),
        side: None,
        role: None,
        rejectable: false,
        upload_required: false,
        assign_rule: None,
        labels: Vec::new(),
        timeout: None,
        timeout_from_warranty: false,
        children: Vec::new(),
        notifications: Vec::new(),
    };
    vec![
        FlowNode {
            node: node("assign_provider", NodeType::AssignProvider),
            container_id: None,
        },
        FlowNode {
            node: Node {
                side: Some(Side::Provider),
                role: Some("delivery_specialist".into()),
                rejectable: true,
                upload_required: true,
                assign_rule: Some(AssignRule::DepartmentFirst),
                labels: vec!["Start".into()],
                timeout: Some(NodeTimeout {
                    tenths: 25,
                    unit: TimeoutUnit::WorkingDays,
                    action: TimeoutAction::CancelAndRefund,
                }),
                notifications: vec![Notification {
                    recipient: Recipient::Operator,
                    trigger: NotifyTrigger::Entered,
                    template: "{order_id} is yours".into(),
                }],
                ..node("start", NodeType::Generic)
            },
            container_id: Some("box".into()),
        },
    ]
}

fn delivery_cases() -> Vec<Golden<DeliveryEvent>> {
    vec![
        golden(
            "DeliveryStarted",
            1,
            DeliveryStarted {
                delivery_id: "dlv_01jdq7x3k2".into(),
                order_id: "ord_01jdq7x3k2".into(),
                product_id: "prd_1".into(),
                customer_id: "cus_7".into(),
                seller_org_id: "org_s".into(),
                template_id: "tpl_standard_manual".into(),
                flow: delivery_flow(),
                at: ts("2026-11-23T08:15:00+08:00"),
            },
            "0e646c765f30316a64713778336b320e6f72645f30316a64713778336b32057072645f31056375735f37056f72675f731374706c5f7374616e646172645f6d616e75616c020f61737369676e5f70726f7669646572000f61737369676e5f70726f76696465720000000000000000000000057374617274060573746172740100011364656c69766572795f7370656369616c6973740101010101055374617274011900010000010100137b6f726465725f69647d20697320796f7572730103626f78fd00d212f8ccc10c00",
        ),
        golden(
            "ProviderAssigned",
            1,
            ProviderAssigned {
                org_id: "org_p".into(),
                how: ProviderHow::Weighted,
                weight_pick: Some(WeightPick {
                    pick: 7,
                    total_weight: 10,
                }),
            },
            "056f72675f700001070a",
        ),
        golden(
            "ProviderAssigned",
            1,
            ProviderAssigned {
                org_id: "org_p".into(),
                how: ProviderHow::Dispatched,
                weight_pick: None,
            },
            "056f72675f700100",
        ),
        golden(
            "DeliveryQueued",
            1,
            DeliveryQueued {
                node_id: "assign_order".into(),
                reason: QueueReason::StaffCapacityFull,
                since: ts("2026-11-23T08:15:00+08:00"),
            },
            "0c61737369676e5f6f7264657203fd00d212f8ccc10c00",
        ),
        golden(
            "QueueRechecked",
            1,
            QueueRechecked {
                node_id: "assign_order".into(),
                reason: QueueReason::StaffCapacityFull,
                at: ts("2026-11-23T08:15:00+08:00"),
            },
            "0c61737369676e5f6f7264657203fd00d212f8ccc10c00",
        ),
        golden(
            "NodeEntered",
            1,
            NodeEntered {
                node_id: "start".into(),
                index: 3,
                seq: 4,
                at: ts("2026-11-23T08:15:00+08:00"),
                due_at: Some(ts("2026-12-08T08:15:00+08:00")),
            },
            "0573746172740304fd00d212f8ccc10c0001fd0012507728c40c00",
        ),
        golden(
            "NodeEntered",
            1,
            NodeEntered {
                node_id: "submit".into(),
                index: 1,
                seq: 2,
                at: ts("2026-11-23T08:15:00+08:00"),
                due_at: None,
            },
            "067375626d69740102fd00d212f8ccc10c0000",
        ),
        golden(
            "OperatorAssigned",
            1,
            OperatorAssigned {
                node_id: "assign_order".into(),
                role: "delivery_specialist".into(),
                staff_id: "stf_2".into(),
                name: "Li Lei".into(),
                department: "ops".into(),
                how: OperatorHow::Changed,
                previous: Some("stf_1".into()),
                remark: Some("on leave".into()),
            },
            "0c61737369676e5f6f726465721364656c69766572795f7370656369616c697374057374665f32064c69204c6569036f70730401057374665f3101086f6e206c65617665",
        ),
        golden(
            "OperatorAssigned",
            1,
            OperatorAssigned {
                node_id: "claim".into(),
                role: "designer".into(),
                staff_id: "stf_1".into(),
                name: "Han Meimei".into(),
                department: "design".into(),
                how: OperatorHow::Claimed,
                previous: None,
                remark: None,
            },
            "05636c61696d0864657369676e6572057374665f310a48616e204d65696d65690664657369676e020000",
        ),
        golden(
            "RequirementSubmitted",
            1,
            RequirementSubmitted {
                node_id: "submit".into(),
                form: RequirementForm {
                    contact_name: "Zhang San".into(),
                    phone: "+86 138 0000 0000".into(),
                    email: "zs@example.com".into(),
                    address: "1 Road, Hangzhou".into(),
                    description: "a shop\nwith payments".into(),
                    file_ids: vec!["fil_1".into()],
                },
            },
            "067375626d6974095a68616e672053616e112b383620313338203030303020303030300e7a73406578616d706c652e636f6d103120526f61642c2048616e677a686f7514612073686f700a77697468207061796d656e7473010566696c5f31",
        ),
        golden(
            "NodeCompleted",
            1,
            NodeCompleted {
                node_id: "done".into(),
                seq: 5,
                by: Party::Staff("stf_2".into()),
                note: Some("deployed".into()),
                file_ids: vec!["fil_1".into(), "fil_2".into()],
                delivery_info: Some("admin / s3cret".into()),
            },
            "04646f6e650502057374665f3201086465706c6f796564020566696c5f310566696c5f32010e61646d696e202f20733363726574",
        ),
        golden(
            "NodeCompleted",
            1,
            NodeCompleted {
                node_id: "assign_provider".into(),
                seq: 1,
                by: Party::System,
                note: None,
                file_ids: Vec::new(),
                delivery_info: None,
            },
            "0f61737369676e5f70726f76696465720100000000",
        ),
        golden(
            "NodeRejected",
            1,
            NodeRejected {
                node_id: "confirm".into(),
                seq: 6,
                by: Party::Customer("cus_7".into()),
                back_to: "done".into(),
                reason: "the login fails".into(),
            },
            "07636f6e6669726d0601056375735f3704646f6e650f746865206c6f67696e206661696c73",
        ),
        golden(
            "NodeTimedOut",
            1,
            NodeTimedOut {
                node_id: "start".into(),
                seq: 4,
                action: TimeoutAction::Advance,
                due_at: ts("2026-12-08T08:15:00+08:00"),
            },
            "0573746172740400fd0012507728c40c00",
        ),
        golden(
            "DeliveryPaused",
            1,
            DeliveryPaused {
                seq: 4,
                remark: "customer away".into(),
                at: ts("2026-11-24T08:15:00+08:00"),
                remaining_micros: Some(86_400_000_000),
            },
            "040d637573746f6d65722061776179fd0092c133f5c10c0001fd00c0ae3b28000000",
        ),
        golden(
            "DeliveryPaused",
            1,
            DeliveryPaused {
                seq: 4,
                remark: "customer away".into(),
                at: ts("2026-11-24T08:15:00+08:00"),
                remaining_micros: None,
            },
            "040d637573746f6d65722061776179fd0092c133f5c10c0000",
        ),
        golden(
            "DeliveryResumed",
            1,
            DeliveryResumed {
                seq: 4,
                remark: "back".into(),
                at: ts("2026-11-25T08:15:00+08:00"),
                due_at: Some(ts("2026-11-26T08:15:00+08:00")),
            },
            "04046261636bfd0052706f1dc20c0001fd00121fab45c20c00",
        ),
        golden(
            "ProviderChanged",
            1,
            ProviderChanged {
                seq: 4,
                from: Some("org_p".into()),
                to: "org_q".into(),
                remark: "too slow".into(),
            },
            "0401056f72675f70056f72675f7108746f6f20736c6f77",
        ),
        golden(
            "DeliveryCancelled",
            1,
            DeliveryCancelled {
                seq: 4,
                reason: CancelReason::Refunded,
                refund_order: false,
                refund_id: Some("rfd_2".into()),
                remark: None,
                at: ts("2026-11-25T10:00:00+08:00"),
            },
            "04010001057266645f3200fd0010755e20c20c00",
        ),
        golden(
            "DeliveryCancelled",
            1,
            DeliveryCancelled {
                seq: 4,
                reason: CancelReason::PlatformClose,
                refund_order: true,
                refund_id: None,
                remark: Some("fraud".into()),
                at: ts("2026-11-25T10:00:00+08:00"),
            },
            "0400010001056672617564fd0010755e20c20c00",
        ),
        golden(
            "DeliveryCompleted",
            1,
            DeliveryCompleted {
                at: ts("2026-12-20T10:00:00+08:00"),
            },
            "fd00d085320ec60c00",
        ),
        golden(
            "MessagePosted",
            1,
            MessagePosted {
                message_id: "msg_1".into(),
                text: "hello".into(),
                by: Party::Customer("cus_7".into()),
            },
            "056d73675f310568656c6c6f01056375735f37",
        ),
        golden(
            "NotePosted",
            1,
            NotePosted {
                note_id: "nte_1".into(),
                text: "slow customer".into(),
                by: Party::Admin("prn_1".into()),
            },
            "056e74655f310d736c6f7720637573746f6d6572030570726e5f31",
        ),
        golden(
            "FileAttached",
            1,
            FileAttached {
                file_id: "fil_1".into(),
                name: "contract.pdf".into(),
                size: 1_024,
                sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                content_type: "application/pdf".into(),
                node_id: Some("upload".into()),
                by: Party::Staff("stf_1".into()),
            },
            "0566696c5f310c636f6e74726163742e706466fb000440396638366430383138383463376436353961326665616130633535616430313561336266346631623262306238323263643135643663313562306630306130380f6170706c69636174696f6e2f706466010675706c6f616402057374665f31",
        ),
        golden(
            "FileAttached",
            1,
            FileAttached {
                file_id: "fil_2".into(),
                name: "notes.txt".into(),
                size: 5,
                sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                content_type: "text/plain".into(),
                node_id: None,
                by: Party::Customer("cus_7".into()),
            },
            "0566696c5f32096e6f7465732e7478740540396638366430383138383463376436353961326665616130633535616430313561336266346631623262306238323263643135643663313562306630306130380a746578742f706c61696e0001056375735f37",
        ),
    ]
}

#[test]
fn delivery_event_encodings_are_pinned() {
    assert_pinned(&delivery_cases());
}

// ---------------------------------------------------------------------------------------
// Delivery: staff, the org's staff index, provider load

fn staff_cases() -> Vec<Golden<StaffEvent>> {
    vec![
        golden(
            "StaffCreated",
            1,
            StaffCreated {
                staff_id: "stf_9".into(),
                org_id: "org_s".into(),
                principal_id: "prn_s2".into(),
                name: "李伟".into(),
                roles: vec!["designer".into(), "tester".into()],
                department: "交付一部".into(),
                tags: vec!["k8s".into(), "数据库".into()],
                max_active: 12,
            },
            "057374665f39056f72675f730670726e5f733206e69d8ee4bc9f020864657369676e6572067465737465720ce4baa4e4bb98e4b880e983a802036b387309e695b0e68daee5ba930c",
        ),
        golden(
            "StaffUpdated",
            1,
            StaffUpdated {
                max_active: 50,
                tags: vec![],
                accepting: false,
                roles: vec!["provider_admin".into()],
                department: "Ops".into(),
            },
            "320000010e70726f76696465725f61646d696e034f7073",
        ),
        golden(
            "StaffLeaveSet",
            1,
            StaffLeaveSet {
                from: ts("2026-11-23T09:00:00+08:00"),
                to: ts("2026-11-30T09:00:00+08:00"),
            },
            "fd0048f039cec10c00fd0088b7dbe7c20c00",
        ),
        golden("StaffLeaveEnded", 1, StaffLeaveEnded {}, ""),
        golden(
            "StaffAcceptingSet",
            1,
            StaffAcceptingSet { accepting: true },
            "01",
        ),
        golden(
            "StaffWorkTaken",
            1,
            StaffWorkTaken {
                delivery_id: "dlv_01jdq7x3k2".into(),
            },
            "0e646c765f30316a64713778336b32",
        ),
        golden(
            "StaffWorkReleased",
            1,
            StaffWorkReleased {
                delivery_id: "dlv_01jdq7x3k2".into(),
            },
            "0e646c765f30316a64713778336b32",
        ),
    ]
}

fn org_staff_cases() -> Vec<Golden<OrgStaffEvent>> {
    vec![golden(
        "StaffJoined",
        1,
        StaffJoined {
            staff_id: "stf_9".into(),
        },
        "057374665f39",
    )]
}

fn provider_load_cases() -> Vec<Golden<ProviderLoadEvent>> {
    vec![
        golden(
            "ProviderWorkTaken",
            1,
            ProviderWorkTaken {
                org_id: "org_p".into(),
                delivery_id: "dlv_01jdq7x3k2".into(),
            },
            "056f72675f700e646c765f30316a64713778336b32",
        ),
        golden(
            "ProviderWorkReleased",
            1,
            ProviderWorkReleased {
                org_id: "org_p".into(),
                delivery_id: "dlv_01jdq7x3k2".into(),
            },
            "056f72675f700e646c765f30316a64713778336b32",
        ),
    ]
}

fn dispatch_queue_cases() -> Vec<Golden<DispatchQueueEvent>> {
    vec![
        golden(
            "DeliveryEnqueued",
            1,
            DeliveryEnqueued {
                delivery_id: "dlv_01jdq7x3k2".into(),
            },
            "0e646c765f30316a64713778336b32",
        ),
        golden(
            "DeliveryDequeued",
            1,
            DeliveryDequeued {
                delivery_id: "dlv_01jdq7x3k2".into(),
            },
            "0e646c765f30316a64713778336b32",
        ),
    ]
}

#[test]
fn delivery_staff_and_capacity_event_encodings_are_pinned() {
    assert_pinned(&dispatch_queue_cases());
    assert_pinned(&staff_cases());
    assert_pinned(&org_staff_cases());
    assert_pinned(&provider_load_cases());
}

fn template_node(id: &str, node_type: NodeType) -> Node {
    Node {
        id: id.into(),
        node_type,
        name: id.into(),
        side: None,
        role: None,
        rejectable: false,
        upload_required: false,
        assign_rule: None,
        labels: Vec::new(),
        timeout: None,
        timeout_from_warranty: false,
        children: Vec::new(),
        notifications: Vec::new(),
    }
}

/// Nodes with every field set somewhere (a container with a child holding them all).
fn template_nodes() -> Vec<Node> {
    vec![
        template_node("a", NodeType::AssignProvider),
        Node {
            children: vec![Node {
                side: Some(Side::Provider),
                role: Some("developer".into()),
                rejectable: true,
                upload_required: true,
                assign_rule: Some(AssignRule::DepartmentFirst),
                labels: vec!["ok".into()],
                timeout: Some(NodeTimeout {
                    tenths: 25,
                    unit: TimeoutUnit::CalendarDays,
                    action: TimeoutAction::CancelAndRefund,
                }),
                notifications: vec![Notification {
                    recipient: Recipient::Operator,
                    trigger: NotifyTrigger::TimedOut,
                    template: "{node_name} late".into(),
                }],
                ..template_node("g", NodeType::Generic)
            }],
            ..template_node("box", NodeType::Container)
        },
        Node {
            timeout_from_warranty: true,
            ..template_node("end", NodeType::CompleteProject)
        },
    ]
}

fn template_cases() -> Vec<Golden<TemplateEvent>> {
    vec![
        golden(
            "TemplateCreated",
            1,
            TemplateCreated {
                template_id: "tpl_1".into(),
                org_id: "org_s".into(),
                name: "Mine".into(),
                nodes: template_nodes(),
                copied_from: Some("tpl_basic".into()),
            },
            "0574706c5f31056f72675f73044d696e650301610001610000000000000000000003626f780103626f78000000000000000001016706016701000109646576656c6f7065720101010101026f6b011901010000010101107b6e6f64655f6e616d657d206c6174650003656e640703656e6400000000000000010000010974706c5f6261736963",
        ),
        golden(
            "TemplateCreated",
            1,
            TemplateCreated {
                template_id: "tpl_1".into(),
                org_id: "org_s".into(),
                name: "Mine".into(),
                nodes: Vec::new(),
                copied_from: None,
            },
            "0574706c5f31056f72675f73044d696e650000",
        ),
        golden(
            "TemplateEdited",
            1,
            TemplateEdited {
                name: "Edited".into(),
                nodes: vec![template_node("a", NodeType::AssignProvider)],
            },
            "0645646974656401016100016100000000000000000000",
        ),
        golden("TemplatePublished", 1, TemplatePublished {}, ""),
    ]
}

#[test]
fn template_event_encodings_are_pinned() {
    assert_pinned(&template_cases());
}

// ---------------------------------------------------------------------------------------
// Coverage

fn covered<E: EventCodec>(cases: &[Golden<E>]) -> BTreeSet<&'static str> {
    cases.iter().map(|case| case.event.type_name()).collect()
}

fn uncovered<E: EventCodec>(cases: &[Golden<E>]) -> Vec<&'static str> {
    let covered = covered(cases);
    E::TYPE_NAMES
        .iter()
        .copied()
        .filter(|name| !covered.contains(name))
        .collect()
}

/// A new event type, or a new aggregate's event enum registered in `domain::events`, fails
/// here until its golden bytes are pinned above.
#[test]
fn every_registered_event_type_has_golden_bytes() {
    let missing: Vec<&str> = [
        uncovered(&order_cases()),
        uncovered(&product_cases()),
        uncovered(&instance_cases()),
        uncovered(&org_cases()),
        uncovered(&principal_cases()),
        uncovered(&calendar_cases()),
        uncovered(&clock_cases()),
        uncovered(&purchases_cases()),
        uncovered(&campaign_cases()),
        uncovered(&autogrant_cases()),
        uncovered(&stock_cases()),
        uncovered(&wallet_cases()),
        uncovered(&delivery_cases()),
        uncovered(&template_cases()),
        uncovered(&staff_cases()),
        uncovered(&org_staff_cases()),
        uncovered(&provider_load_cases()),
        uncovered(&dispatch_queue_cases()),
        uncovered(&page_views_cases()),
    ]
    .concat();
    assert!(missing.is_empty(), "no golden bytes for {missing:?}");

    let pinned: BTreeSet<&str> = [
        covered(&order_cases()),
        covered(&product_cases()),
        covered(&instance_cases()),
        covered(&org_cases()),
        covered(&principal_cases()),
        covered(&calendar_cases()),
        covered(&clock_cases()),
        covered(&purchases_cases()),
        covered(&campaign_cases()),
        covered(&autogrant_cases()),
        covered(&stock_cases()),
        covered(&wallet_cases()),
        covered(&delivery_cases()),
        covered(&template_cases()),
        covered(&staff_cases()),
        covered(&org_staff_cases()),
        covered(&provider_load_cases()),
        covered(&dispatch_queue_cases()),
        covered(&page_views_cases()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let registered: BTreeSet<&str> = events::type_names().into_iter().collect();
    let unpinned: Vec<&&str> = registered.difference(&pinned).collect();
    assert!(
        unpinned.is_empty(),
        "event types registered in domain::events without golden bytes: {unpinned:?}"
    );
    assert_eq!(
        registered.len(),
        events::type_names().len(),
        "an event type name is registered twice"
    );
}

// ---------------------------------------------------------------------------------------
// Enums stored inside payloads

/// A unit variant is stored as its index in declaration order, so inserting or reordering a
/// variant silently changes what old bytes mean. The exhaustive `match` in each tag function
/// makes a new variant a compile error here, and the list pins every variant's byte.
fn assert_tags<T: serde::Serialize + Copy + Debug>(variants: &[T], tag: fn(T) -> u8) {
    for &variant in variants {
        let bytes = to_payload_bytes("tag", &variant).expect("a unit variant encodes");
        assert_eq!(bytes, vec![tag(variant)], "{variant:?}");
    }
}

#[test]
fn enums_stored_in_payloads_keep_their_variant_indices() {
    assert_tags(
        &[
            OrderType::New,
            OrderType::Renewal,
            OrderType::Trial,
            OrderType::Conversion,
            OrderType::Upgrade,
        ],
        |v| match v {
            OrderType::New => 0,
            OrderType::Renewal => 1,
            OrderType::Trial => 2,
            OrderType::Conversion => 3,
            OrderType::Upgrade => 4,
        },
    );
    assert_tags(&[Client::Web, Client::Mobile, Client::Api], |v| match v {
        Client::Web => 0,
        Client::Mobile => 1,
        Client::Api => 2,
    });
    assert_tags(
        &[
            ChannelKind::OnlineStore,
            ChannelKind::CustomSolution,
            ChannelKind::Distribution,
        ],
        |v| match v {
            ChannelKind::OnlineStore => 0,
            ChannelKind::CustomSolution => 1,
            ChannelKind::Distribution => 2,
        },
    );
    assert_tags(
        &[VoidReason::CancelledByCustomer, VoidReason::PaymentTimeout],
        |v| match v {
            VoidReason::CancelledByCustomer => 0,
            VoidReason::PaymentTimeout => 1,
        },
    );
    assert_tags(
        &[
            RefundInitiator::Customer,
            RefundInitiator::Seller,
            RefundInitiator::System,
        ],
        |v| match v {
            RefundInitiator::Customer => 0,
            RefundInitiator::Seller => 1,
            RefundInitiator::System => 2,
        },
    );
    assert_tags(
        &[RefundKind::Request, RefundKind::Full, RefundKind::Remaining],
        |v| match v {
            RefundKind::Request => 0,
            RefundKind::Full => 1,
            RefundKind::Remaining => 2,
        },
    );
    assert_tags(&[Release::Immediate, Release::Keep], |v| match v {
        Release::Immediate => 0,
        Release::Keep => 1,
    });
    assert_tags(
        &[InvoiceType::Ordinary, InvoiceType::SpecialVat],
        |v| match v {
            InvoiceType::Ordinary => 0,
            InvoiceType::SpecialVat => 1,
        },
    );
    assert_tags(
        &[
            DeliveryKind::Manual,
            DeliveryKind::Saas,
            DeliveryKind::Image,
            DeliveryKind::Api,
        ],
        |v| match v {
            DeliveryKind::Manual => 0,
            DeliveryKind::Saas => 1,
            DeliveryKind::Image => 2,
            DeliveryKind::Api => 3,
        },
    );
    assert_tags(
        &[DurationUnit::Once, DurationUnit::Month, DurationUnit::Year],
        |v| match v {
            DurationUnit::Once => 0,
            DurationUnit::Month => 1,
            DurationUnit::Year => 2,
        },
    );
    assert_tags(
        &[
            ProductStatus::Draft,
            ProductStatus::UnderReview,
            ProductStatus::Listed,
            ProductStatus::Hidden,
            ProductStatus::Delisted,
        ],
        |v| match v {
            ProductStatus::Draft => 0,
            ProductStatus::UnderReview => 1,
            ProductStatus::Listed => 2,
            ProductStatus::Hidden => 3,
            ProductStatus::Delisted => 4,
        },
    );
    assert_tags(
        &[
            InstanceStatus::Opening,
            InstanceStatus::Active,
            InstanceStatus::InService,
            InstanceStatus::Expired,
            InstanceStatus::Closed,
            InstanceStatus::Released,
        ],
        |v| match v {
            InstanceStatus::Opening => 0,
            InstanceStatus::Active => 1,
            InstanceStatus::InService => 2,
            InstanceStatus::Expired => 3,
            InstanceStatus::Closed => 4,
            InstanceStatus::Released => 5,
        },
    );
    assert_tags(
        &[
            ProviderHow::Weighted,
            ProviderHow::Dispatched,
            ProviderHow::Changed,
            ProviderHow::SellerDefault,
        ],
        |v| match v {
            ProviderHow::Weighted => 0,
            ProviderHow::Dispatched => 1,
            ProviderHow::Changed => 2,
            ProviderHow::SellerDefault => 3,
        },
    );
    assert_tags(
        &[
            OperatorHow::RuleProviderFirst,
            OperatorHow::RuleDepartmentFirst,
            OperatorHow::Claimed,
            OperatorHow::Dispatched,
            OperatorHow::Changed,
        ],
        |v| match v {
            OperatorHow::RuleProviderFirst => 0,
            OperatorHow::RuleDepartmentFirst => 1,
            OperatorHow::Claimed => 2,
            OperatorHow::Dispatched => 3,
            OperatorHow::Changed => 4,
        },
    );
    assert_tags(
        &[
            CancelReason::PlatformClose,
            CancelReason::Refunded,
            CancelReason::Timeout,
        ],
        |v| match v {
            CancelReason::PlatformClose => 0,
            CancelReason::Refunded => 1,
            CancelReason::Timeout => 2,
        },
    );
    assert_tags(
        &[
            QueueReason::NoProviderLinked,
            QueueReason::ProviderCapacityFull,
            QueueReason::NoStaffWithRole,
            QueueReason::StaffCapacityFull,
        ],
        |v| match v {
            QueueReason::NoProviderLinked => 0,
            QueueReason::ProviderCapacityFull => 1,
            QueueReason::NoStaffWithRole => 2,
            QueueReason::StaffCapacityFull => 3,
        },
    );
    assert_tags(
        &[
            TimeoutAction::Advance,
            TimeoutAction::CancelAndRefund,
            TimeoutAction::None,
        ],
        |v| match v {
            TimeoutAction::Advance => 0,
            TimeoutAction::CancelAndRefund => 1,
            TimeoutAction::None => 2,
        },
    );
    assert_tags(&NodeType::ALL, |v| match v {
        NodeType::AssignProvider => 0,
        NodeType::Container => 1,
        NodeType::SubmitRequirement => 2,
        NodeType::ClaimOrder => 3,
        NodeType::AssignOrder => 4,
        NodeType::Confirm => 5,
        NodeType::Generic => 6,
        NodeType::CompleteProject => 7,
    });
    assert_tags(
        &[Side::Provider, Side::Customer, Side::System],
        |v| match v {
            Side::Provider => 0,
            Side::Customer => 1,
            Side::System => 2,
        },
    );
    assert_tags(
        &[AssignRule::ProviderFirst, AssignRule::DepartmentFirst],
        |v| match v {
            AssignRule::ProviderFirst => 0,
            AssignRule::DepartmentFirst => 1,
        },
    );
    assert_tags(
        &[
            TimeoutAction::Advance,
            TimeoutAction::CancelAndRefund,
            TimeoutAction::None,
        ],
        |v| match v {
            TimeoutAction::Advance => 0,
            TimeoutAction::CancelAndRefund => 1,
            TimeoutAction::None => 2,
        },
    );
    assert_tags(
        &[TimeoutUnit::WorkingDays, TimeoutUnit::CalendarDays],
        |v| match v {
            TimeoutUnit::WorkingDays => 0,
            TimeoutUnit::CalendarDays => 1,
        },
    );
    assert_tags(
        &[NotifyTrigger::Entered, NotifyTrigger::TimedOut],
        |v| match v {
            NotifyTrigger::Entered => 0,
            NotifyTrigger::TimedOut => 1,
        },
    );
    assert_tags(
        &[
            Recipient::Customer,
            Recipient::Operator,
            Recipient::ProviderAdmin,
            Recipient::Seller,
        ],
        |v| match v {
            Recipient::Customer => 0,
            Recipient::Operator => 1,
            Recipient::ProviderAdmin => 2,
            Recipient::Seller => 3,
        },
    );
    assert_tags(&Role::ALL, |v| match v {
        Role::Platform => 0,
        Role::IsvAdmin => 1,
        Role::IsvStaff => 2,
        Role::Customer => 3,
        Role::Auditor => 4,
        Role::Analyst => 5,
    });
}
