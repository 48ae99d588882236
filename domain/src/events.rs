//! The registry of every event type, for readers that meet records of any stream (history,
//! exports, the event feed): type name + schema version + payload → JSON.

use crate::codec::{CodecError, JsonValue};
use crate::history::StoredEvent;
use crate::registry::{aggregate_of_type, AGGREGATES};

/// Decodes any known event to JSON; `None` when no aggregate knows the type name.
pub fn decode_json(
    type_name: &str,
    schema_version: u16,
    payload: &[u8],
) -> Option<Result<JsonValue, CodecError>> {
    let aggregate = aggregate_of_type(type_name)?;
    Some((aggregate.decode_json)(&StoredEvent {
        event_type: type_name,
        schema_version,
        payload,
    }))
}

/// Every event type name the registry knows.
pub fn type_names() -> Vec<&'static str> {
    AGGREGATES
        .iter()
        .flat_map(|a| a.event_types.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::EventCodec;
    use crate::platform::{OrgCreated, OrgEvent};

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
