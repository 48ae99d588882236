//! The record: what one event looks like on disk, and the key layout of the one sled tree.
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
/// Most streams in one append.
pub const APPEND_STREAMS_MAX: usize = 64;
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
    // Encoding into a Vec of plain owned fields cannot fail.
    bincode::encode_to_vec(body, bincode_config()).unwrap_or_default()
}

/// Next chain hash: SHA-256(previous ‖ body).
pub fn chain_next(previous: &[u8; 32], body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(body);
    h.finalize().into()
}

/// Encodes a record for storage, returning the stored value and its chain hash.
pub(crate) fn encode_value(body: &RecordBody, previous_chain: &[u8; 32]) -> (Vec<u8>, [u8; 32]) {
    let mut value = encode_body(body);
    let crc = crc32c::crc32c(&value);
    let chain = chain_next(previous_chain, &value);
    value.extend_from_slice(&crc.to_be_bytes());
    value.extend_from_slice(&chain);
    (value, chain)
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

/// Key layout of the single `log` tree. One tree, so that one `Batch` commits a whole group
/// atomically (sled batches are per tree).
pub(crate) mod keys {
    /// `e ‖ position BE` → stored record value.
    pub const EVENT: u8 = b'e';
    /// `s ‖ stream id ‖ 0x00 ‖ version BE` → position BE.
    pub const STREAM: u8 = b's';
    /// `i ‖ idempotency key` → encoded idempotency entry.
    pub const IDEMPOTENCY: u8 = b'i';
    /// `h ‖ stream id` → (version BE, position BE) of the stream's newest event: a point
    /// lookup for the writer's expectation checks (sled's reverse range scans clone nodes).
    pub const STREAM_HEAD: u8 = b'h';
    /// `m ‖ name` → metadata (format version).
    pub const META: u8 = b'm';

    pub fn stream_head(stream_id: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(stream_id.len() + 1);
        k.push(STREAM_HEAD);
        k.extend_from_slice(stream_id.as_bytes());
        k
    }

    pub fn stream_head_value(version: u64, position: u64) -> [u8; 16] {
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&version.to_be_bytes());
        v[8..].copy_from_slice(&position.to_be_bytes());
        v
    }

    /// (version, position) from a stream-head value.
    pub fn parse_stream_head(value: &[u8]) -> Option<(u64, u64)> {
        if value.len() != 16 {
            return None;
        }
        Some((u64_of(&value[..8])?, u64_of(&value[8..])?))
    }

    pub fn event(position: u64) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = EVENT;
        k[1..].copy_from_slice(&position.to_be_bytes());
        k
    }

    pub fn stream_prefix(stream_id: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(stream_id.len() + 2);
        k.push(STREAM);
        k.extend_from_slice(stream_id.as_bytes());
        k.push(0);
        k
    }

    pub fn stream(stream_id: &str, version: u64) -> Vec<u8> {
        let mut k = stream_prefix(stream_id);
        k.extend_from_slice(&version.to_be_bytes());
        k
    }

    pub fn idempotency(key: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(key.len() + 1);
        k.push(IDEMPOTENCY);
        k.extend_from_slice(key.as_bytes());
        k
    }

    pub fn u64_of(bytes: &[u8]) -> Option<u64> {
        let arr: [u8; 8] = bytes.try_into().ok()?;
        Some(u64::from_be_bytes(arr))
    }

    /// Position encoded in the last 8 bytes of an event key.
    pub fn position_of_event_key(key: &[u8]) -> Option<u64> {
        if key.len() != 9 || key[0] != EVENT {
            return None;
        }
        u64_of(&key[1..])
    }
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

    #[test]
    fn record_value_round_trips_and_checks_its_crc() {
        let (value, chain) = encode_value(&body(), &GENESIS_CHAIN);
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
        let (value, _) = encode_value(&body(), &GENESIS_CHAIN);
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
