//! Replaying one stream for auditors: every event decoded, and the aggregate's state after it,
//! folded with the aggregate's own `evolve` (one source of truth for state, STYLE.md §2).

use serde::Serialize;

use crate::codec::{CodecError, EventCodec, JsonValue};
use crate::decider::Decider;

/// One stored event as the replay needs it.
#[derive(Debug, Clone, Copy)]
pub struct StoredEvent<'a> {
    pub event_type: &'a str,
    pub schema_version: u16,
    pub payload: &'a [u8],
}

/// An event's data and the state after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub data: JsonValue,
    pub state: JsonValue,
}

/// Replays `events` with `D`'s own `evolve`.
pub fn fold<D>(events: &[StoredEvent<'_>]) -> Result<Vec<Step>, CodecError>
where
    D: Decider,
    D::Event: EventCodec,
    D::State: Serialize,
{
    let mut state = D::State::default();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let event = D::Event::decode_payload(e.event_type, e.schema_version, e.payload)?;
        state = D::evolve(state, &event);
        out.push(Step {
            data: event.payload_json(),
            state: serde_json::to_value(&state).unwrap_or(JsonValue::Null),
        });
    }
    Ok(out)
}

/// Replays the events of `stream_id` (in version order) with the aggregate registered for
/// its kind. `None` when no aggregate owns that kind of stream.
pub fn replay(
    stream_id: &str,
    events: &[StoredEvent<'_>],
) -> Option<Result<Vec<Step>, CodecError>> {
    crate::registry::aggregate_of(stream_id).map(|a| (a.replay)(events))
}

/// The state of `stream_id`'s aggregate before its first event, as JSON (what the first
/// event's state is compared with). `None` when no aggregate owns that kind of stream.
pub fn initial_state(stream_id: &str) -> Option<JsonValue> {
    crate::registry::aggregate_of(stream_id).map(|a| (a.initial_json)())
}

/// The stream id an auditor means: a bare id (`ord_…`) is its aggregate's stream; anything
/// else is taken as a stream id.
pub fn stream_for(id_or_stream: &str) -> String {
    crate::registry::stream_for(id_or_stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{OrgCreated, OrgEvent};

    #[test]
    fn replay_folds_with_the_aggregate_evolve_and_names_order_ids() {
        let e = OrgEvent::OrgCreated(OrgCreated {
            org_id: "org_1".into(),
            name: "Acme".into(),
        });
        let bytes = e.encode_payload().unwrap();
        let steps = replay(
            "org-org_1",
            &[StoredEvent {
                event_type: "OrgCreated",
                schema_version: 1,
                payload: &bytes,
            }],
        )
        .unwrap()
        .unwrap();
        assert_eq!(steps[0].state["name"], "Acme");
        assert_eq!(steps[0].state["exists"], true);
        assert!(replay("nothing-x", &[]).is_none());
        assert_eq!(initial_state("org-org_1").unwrap()["exists"], false);
        assert!(initial_state("nothing-x").is_none());
        assert_eq!(stream_for("ord_01abc"), "order-ord_01abc");
        assert_eq!(stream_for("order-ord_01abc"), "order-ord_01abc");
    }
}
