//! Decoding of event payloads into JSON for exports, through the domain's event registry.

/// The payload as JSON, or `None` when the type is unknown to this build or its payload does
/// not decode (the export then carries only `payload_base64`).
pub fn decode_data(
    type_name: &str,
    schema_version: u16,
    payload: &[u8],
) -> Option<serde_json::Value> {
    domain::events::decode_json(type_name, schema_version, payload).and_then(Result::ok)
}
