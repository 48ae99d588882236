//! The registry of every event type, for readers that meet records of any stream (history,
//! exports, the event feed): type name + schema version + payload → JSON.

use crate::codec::{CodecError, EventCodec, JsonValue};
use crate::instance::InstanceEvent;
use crate::order::OrderEvent;
use crate::platform::{CalendarEvent, ClockEvent, OrgEvent, PrincipalEvent};
use crate::product::ProductEvent;

/// Decodes any known event to JSON; `None` when no aggregate knows the type name.
pub fn decode_json(
    type_name: &str,
    schema_version: u16,
    payload: &[u8],
) -> Option<Result<JsonValue, CodecError>> {
    fn try_decode<E: EventCodec>(
        t: &str,
        v: u16,
        p: &[u8],
    ) -> Option<Result<JsonValue, CodecError>> {
        E::TYPE_NAMES
            .contains(&t)
            .then(|| E::decode_payload(t, v, p).map(|e| e.payload_json()))
    }
    try_decode::<OrgEvent>(type_name, schema_version, payload)
        .or_else(|| try_decode::<PrincipalEvent>(type_name, schema_version, payload))
        .or_else(|| try_decode::<CalendarEvent>(type_name, schema_version, payload))
        .or_else(|| try_decode::<ProductEvent>(type_name, schema_version, payload))
        .or_else(|| try_decode::<OrderEvent>(type_name, schema_version, payload))
        .or_else(|| try_decode::<InstanceEvent>(type_name, schema_version, payload))
        .or_else(|| try_decode::<ClockEvent>(type_name, schema_version, payload))
}

/// Every event type name the registry knows.
pub fn type_names() -> Vec<&'static str> {
    [
        OrgEvent::TYPE_NAMES,
        PrincipalEvent::TYPE_NAMES,
        CalendarEvent::TYPE_NAMES,
        ProductEvent::TYPE_NAMES,
        OrderEvent::TYPE_NAMES,
        InstanceEvent::TYPE_NAMES,
        ClockEvent::TYPE_NAMES,
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::OrgCreated;

    #[test]
    fn known_types_decode_to_json_and_unknown_ones_are_none() {
        let e = OrgEvent::OrgCreated(OrgCreated {
            org_id: "org_1".into(),
            name: "Acme".into(),
        });
        let json = decode_json("OrgCreated", 1, &e.encode_payload().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(json["name"], "Acme");
        assert!(decode_json("NoSuchEvent", 1, b"").is_none());
        assert!(decode_json("OrgCreated", 1, b"\xff").unwrap().is_err());
        assert!(type_names().contains(&"PrincipalRevoked"));
    }
}
