//! The record: what one event looks like on disk (the key layout of the sled `log` tree is
//! in `sled::keys`, its chunk framing in `sled::chunk`).
//!
//! Stored value of a record = `body ‖ crc32c(body) (4 bytes BE) ‖ chain (32 bytes)` where
//! `body` is the bincode encoding of [`RecordBody`] and
//! `chain(n) = SHA-256(chain(n-1) ‖ body(n))`, `chain(0)` = 32 zero bytes.
//!
//! Architecture invariant: these bytes are written once and never rewritten; every reader
//! decodes through [`decode_value`], which checks the CRC.

use bincode::{Decode, Encode};
use sha2::{Digest, Sha256};

use crate::error::LogError;

/// Longest stream id, in bytes (`[a-z0-9_-]` only).
pub const STREAM_ID_BYTES_MAX: usize = 128;
/// Largest event payload.
pub const PAYLOAD_BYTES_MAX: usize = 64 * 1024;
/// Most events in one append (all streams together).
pub const APPEND_EVENTS_MAX: usize = 1_000;
/// Most streams in one append (events or expectations): as many as it may hold events, so
/// a batch coupon grant — the stock, up to 500 wallets and the campaign it guards — is one
/// atomic append (ADR 0006).
pub const APPEND_STREAMS_MAX: usize = 1_000;
/// Longest event type name.
pub const EVENT_TYPE_BYTES_MAX: usize = 128;
/// Longest actor, correlation or causation id.
pub const META_FIELD_BYTES_MAX: usize = 256;
/// Longest idempotency key (the API prefixes the principal id to the client's ≤128 chars).
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 320;

const CRC_BYTES: usize = 4;
const CHAIN_BYTES: usize = 32;

/// The chain hash before the first record.
pub const GENESIS_CHAIN: [u8; 32] = [0u8; 32];

/// One event as stored: everything but the checksum and chain hash.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct RecordBody {
    pub position: u64,
    pub stream_id: String,
    pub version: u64,
    pub event_type: String,
    pub schema_version: u16,
    pub recorded_at_micros: i64,
    pub actor: String,
    pub correlation_id: String,
    pub causation_id: String,
    pub payload: Vec<u8>,
}

/// A decoded record as readers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub position: u64,
    pub stream_id: String,
    pub version: u64,
    pub event_type: String,
    pub schema_version: u16,
    pub recorded_at_micros: i64,
    pub actor: String,
    pub correlation_id: String,
    pub causation_id: String,
    pub payload: Vec<u8>,
    pub crc32c: u32,
    pub chain: [u8; 32],
}

impl Record {
    /// The stored body bytes, re-encoded (bincode is deterministic, so these equal the bytes
    /// that were hashed).
    pub fn body_bytes(&self) -> Vec<u8> {
        encode_body(&RecordBody {
            position: self.position,
            stream_id: self.stream_id.clone(),
            version: self.version,
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            recorded_at_micros: self.recorded_at_micros,
            actor: self.actor.clone(),
            correlation_id: self.correlation_id.clone(),
            causation_id: self.causation_id.clone(),
            payload: self.payload.clone(),
        })
    }

    /// The stream kind: the part of the stream id before the first `-` (`order`, `campaign`, …).
    pub fn stream_kind(&self) -> &str {
        stream_kind(&self.stream_id)
    }
}

/// The part of a stream id before the first `-`.
pub fn stream_kind(stream_id: &str) -> &str {
    stream_id.split('-').next().unwrap_or(stream_id)
}

/// Pinned encoding of the body: bincode 2 standard (little endian, varint integers). The
/// golden-bytes test below fails if this ever changes.
/// Decoding is limited to [`RECORD_BYTES_MAX`] so a corrupt length prefix cannot make it
/// allocate without bound (the limit changes no encoded byte).
fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<RECORD_BYTES_MAX>()
}

/// Largest encoded record body: the payload limit plus room for the envelope.
pub const RECORD_BYTES_MAX: usize = PAYLOAD_BYTES_MAX + 4 * 1024;

pub(crate) fn encode_body(body: &RecordBody) -> Vec<u8> {
    encode_body_ref(&RecordBodyRef {
        position: body.position,
        stream_id: &body.stream_id,
        version: body.version,
        event_type: &body.event_type,
        schema_version: body.schema_version,
        recorded_at_micros: body.recorded_at_micros,
        actor: &body.actor,
        correlation_id: &body.correlation_id,
        causation_id: &body.causation_id,
        payload: &body.payload,
    })
}

/// [`RecordBody`] borrowed, so the writer encodes without copying the request. bincode
/// encodes `&str` like `String` and `&[u8]` like `Vec<u8>`, so the bytes are the same (the
/// golden-bytes test pins both).
#[derive(Encode)]
pub(crate) struct RecordBodyRef<'a> {
    pub position: u64,
    pub stream_id: &'a str,
    pub version: u64,
    pub event_type: &'a str,
    pub schema_version: u16,
    pub recorded_at_micros: i64,
    pub actor: &'a str,
    pub correlation_id: &'a str,
    pub causation_id: &'a str,
    pub payload: &'a [u8],
}

pub(crate) fn encode_body_ref(body: &RecordBodyRef<'_>) -> Vec<u8> {
    encode_body_into(body, 0)
}

/// Encodes into a buffer sized for the body plus `spare` bytes, so the writer appends the
/// trailer without reallocating.
fn encode_body_into(body: &RecordBodyRef<'_>, spare: usize) -> Vec<u8> {
    // Fixed-width fields and length prefixes take at most 64 bytes in varint encoding.
    let size = 64
        + body.stream_id.len()
        + body.event_type.len()
        + body.actor.len()
        + body.correlation_id.len()
        + body.causation_id.len()
        + body.payload.len();
    let mut out = Vec::with_capacity(size + spare);
    // Encoding plain fields into a Vec cannot fail.
    let _ = bincode::encode_into_std_write(body, &mut out, bincode_config());
    out
}

/// Next chain hash: SHA-256(previous ‖ body).
pub fn chain_next(previous: &[u8; 32], body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(body);
    h.finalize().into()
}

/// Encodes a record for storage, returning the stored value, its CRC and its chain hash.
pub(crate) fn encode_value(
    body: &RecordBodyRef<'_>,
    previous_chain: &[u8; 32],
) -> (Vec<u8>, u32, [u8; 32]) {
    let mut value = encode_body_into(body, CRC_BYTES + CHAIN_BYTES);
    let crc = crc32c::crc32c(&value);
    let chain = chain_next(previous_chain, &value);
    value.extend_from_slice(&crc.to_be_bytes());
    value.extend_from_slice(&chain);
    (value, crc, chain)
}

/// Splits a stored value into (body bytes, crc, chain) without checking anything.
pub fn split_value(value: &[u8]) -> Option<(&[u8], u32, [u8; 32])> {
    if value.len() < CRC_BYTES + CHAIN_BYTES {
        return None;
    }
    let (body, rest) = value.split_at(value.len() - CRC_BYTES - CHAIN_BYTES);
    let crc = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let mut chain = [0u8; 32];
    chain.copy_from_slice(&rest[CRC_BYTES..]);
    Some((body, crc, chain))
}

/// Decodes and checks one stored value found under `position`.
pub fn decode_value(position: u64, value: &[u8]) -> Result<Record, LogError> {
    let corrupt = |reason: String| LogError::Corrupt { position, reason };
    let (body_bytes, crc, chain) =
        split_value(value).ok_or_else(|| corrupt("record shorter than its trailer".into()))?;
    let actual = crc32c::crc32c(body_bytes);
    if actual != crc {
        return Err(corrupt(format!(
            "checksum mismatch (stored {crc:08x}, computed {actual:08x})"
        )));
    }
    let (body, used): (RecordBody, usize) =
        bincode::decode_from_slice(body_bytes, bincode_config())
            .map_err(|e| corrupt(format!("undecodable body: {e}")))?;
    if used != body_bytes.len() {
        return Err(corrupt("trailing bytes after the body".into()));
    }
    if body.position != position {
        return Err(corrupt(format!(
            "record says position {} but is stored at {position}",
            body.position
        )));
    }
    Ok(Record {
        position: body.position,
        stream_id: body.stream_id,
        version: body.version,
        event_type: body.event_type,
        schema_version: body.schema_version,
        recorded_at_micros: body.recorded_at_micros,
        actor: body.actor,
        correlation_id: body.correlation_id,
        causation_id: body.causation_id,
        payload: body.payload,
        crc32c: crc,
        chain,
    })
}

/// Checks a stream id: 1..=128 bytes of `[a-z0-9_-]`.
pub fn validate_stream_id(stream_id: &str) -> Result<(), String> {
    if stream_id.is_empty() || stream_id.len() > STREAM_ID_BYTES_MAX {
        return Err(format!(
            "stream id must be 1..={STREAM_ID_BYTES_MAX} bytes, got {}",
            stream_id.len()
        ));
    }
    if !stream_id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(format!("stream id {stream_id:?} may hold only [a-z0-9_-]"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> RecordBody {
        RecordBody {
            position: 7,
            stream_id: "order-ord_1".into(),
            version: 2,
            event_type: "OrderPaid".into(),
            schema_version: 1,
            recorded_at_micros: 1_795_000_000_000_000,
            actor: "cus_1:customer".into(),
            correlation_id: "cor_1".into(),
            causation_id: "req_1".into(),
            payload: vec![1, 2, 3],
        }
    }

    fn encode(b: &RecordBody) -> (Vec<u8>, [u8; 32]) {
        let body_bytes = encode_body(b);
        let chain = chain_next(&GENESIS_CHAIN, &body_bytes);
        let (value, crc, chain_ref) = encode_value(
            &RecordBodyRef {
                position: b.position,
                stream_id: &b.stream_id,
                version: b.version,
                event_type: &b.event_type,
                schema_version: b.schema_version,
                recorded_at_micros: b.recorded_at_micros,
                actor: &b.actor,
                correlation_id: &b.correlation_id,
                causation_id: &b.causation_id,
                payload: &b.payload,
            },
            &GENESIS_CHAIN,
        );
        assert_eq!(chain, chain_ref, "borrowed and owned encodings agree");
        assert_eq!(split_value(&value).unwrap().0, body_bytes);
        assert_eq!(split_value(&value).unwrap().1, crc);
        (value, chain)
    }

    #[test]
    fn record_value_round_trips_and_checks_its_crc() {
        let (value, chain) = encode(&body());
        let rec = decode_value(7, &value).unwrap();
        assert_eq!(rec.chain, chain);
        assert_eq!(rec.body_bytes(), split_value(&value).unwrap().0);
        let mut bad = value.clone();
        bad[10] ^= 0x01;
        assert!(matches!(
            decode_value(7, &bad),
            Err(LogError::Corrupt { position: 7, .. })
        ));
        assert!(matches!(
            decode_value(8, &value),
            Err(LogError::Corrupt { position: 8, .. })
        ));
        assert!(decode_value(7, &value[..10]).is_err());
    }

    /// Pins the on-disk layout: a change of field order, integer encoding or trailer fails
    /// here before it can make old data dirs unreadable.
    #[test]
    fn record_encoding_is_pinned_by_golden_bytes() {
        let (value, _) = encode(&body());
        assert_eq!(hex::encode(&value), GOLDEN_RECORD_HEX);
    }

    const GOLDEN_RECORD_HEX: &str = "070b6f726465722d6f72645f3102094f726465725061696401fd0060be0216c10c000e6375735f313a637573746f6d657205636f725f31057265715f3103010203821434b6824591ce345524da4db67a00188881142a2171b262780c00cf74c08cab3bc6af";

    #[test]
    fn stream_ids_are_restricted() {
        assert!(validate_stream_id("order-ord_01abc").is_ok());
        assert!(validate_stream_id("").is_err());
        assert!(validate_stream_id("Order").is_err());
        assert!(validate_stream_id("a b").is_err());
        assert!(validate_stream_id(&"a".repeat(129)).is_err());
        assert_eq!(stream_kind("order-ord_1"), "order");
    }
}
