//! Where event payloads become readable JSON. The log stores bincode bytes that only the
//! domain's codec registry (with its upcasters) can decode; until that registry exists every
//! payload is shown as base64 only.

/// Decodes one payload into JSON for export and history, or `None` when the type/schema is
/// not known to this build. The domain codec registry plugs in here.
pub fn decode_data(
    _event_type: &str,
    _schema_version: u16,
    _payload: &[u8],
) -> Option<serde_json::Value> {
    None
}
