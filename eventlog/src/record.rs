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

/// Records are stored in chunks: consecutive positions written in one group share one sled
/// value, so a group costs one sequential insert per chunk plus one small stream-index insert
/// per event (see ADR 0001). Chunk value =
/// `count (u16 BE) ‖ count × length (u32 BE) ‖ the stored values of the records, in order`.
pub mod chunk {
    /// Most records in one chunk.
    pub const RECORDS_MAX: usize = 32;
    /// A chunk takes more records only while it stays below this size. sled writes any page
    /// over ~128 KiB to a blob file it never fsyncs, and a leaf holds up to 17 values, so
    /// chunks stay far below 128 KiB / 17 (one oversized record still gets a chunk of its
    /// own; the writer fsyncs blob files after every group for that case).
    pub const BYTES_TARGET: usize = 6 * 1024;

    const COUNT_BYTES: usize = 2;
    const LEN_BYTES: usize = 4;

    /// Builds one chunk from stored record values.
    pub fn encode(values: &[Vec<u8>]) -> Vec<u8> {
        let body: usize = values.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(COUNT_BYTES + LEN_BYTES * values.len() + body);
        out.extend_from_slice(&(values.len() as u16).to_be_bytes());
        for v in values {
            out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        }
        for v in values {
            out.extend_from_slice(v);
        }
        out
    }

    /// The stored record values of a chunk, or why its framing is broken.
    pub fn split(chunk: &[u8]) -> Result<Vec<&[u8]>, String> {
        let Some((count, rest)) = chunk.split_first_chunk::<COUNT_BYTES>() else {
            return Err("chunk shorter than its header".into());
        };
        let count = u16::from_be_bytes(*count) as usize;
        if count == 0 || count > RECORDS_MAX {
            return Err(format!("chunk claims {count} records"));
        }
        if rest.len() < count * LEN_BYTES {
            return Err("chunk shorter than its length table".into());
        }
        let (table, mut data) = rest.split_at(count * LEN_BYTES);
        let mut out = Vec::with_capacity(count);
        for len in table.chunks_exact(LEN_BYTES) {
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if len > data.len() {
                return Err("chunk record runs past the end of the chunk".into());
            }
            let (value, tail) = data.split_at(len);
            out.push(value);
            data = tail;
        }
        if !data.is_empty() {
            return Err("trailing bytes after the chunk's records".into());
        }
        Ok(out)
    }
}

/// Key layout of the single `log` tree. One tree, so that one `Batch` commits a whole group
/// atomically (sled batches are per tree).
pub mod keys {
    /// `c ‖ first position BE` → a chunk of consecutive records (see [`super::chunk`]).
    pub const CHUNK: u8 = b'c';
    /// `s ‖ stream id ‖ 0x00 ‖ version BE` → position BE ‖ first position of its chunk BE.
    pub const STREAM: u8 = b's';
    /// `i ‖ idempotency key` → encoded idempotency entry.
    pub const IDEMPOTENCY: u8 = b'i';
    /// `m ‖ name` → metadata (format version).
    pub const META: u8 = b'm';

    pub fn chunk(first_position: u64) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = CHUNK;
        k[1..].copy_from_slice(&first_position.to_be_bytes());
        k
    }

    /// First position encoded in a chunk key.
    pub fn position_of_chunk_key(key: &[u8]) -> Option<u64> {
        if key.len() != 9 || key[0] != CHUNK {
            return None;
        }
        u64_of(&key[1..])
    }

    pub fn stream_prefix(stream_id: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(stream_id.len() + 10);
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

    /// (stream id bytes, version) of a stream index key, or None if `key` is not one
    /// (`s ‖ id ‖ 0x00 ‖ version BE`).
    pub fn split_stream_key(key: &[u8]) -> Option<(&[u8], u64)> {
        let rest = key.strip_prefix(&[STREAM])?;
        let (id_and_separator, version) = rest.split_at_checked(rest.len().checked_sub(8)?)?;
        let (separator, id) = id_and_separator.split_last()?;
        (*separator == 0).then_some((id, u64_of(version)?))
    }

    /// Value of a stream index entry: the record's position and its chunk's first position.
    pub fn stream_entry(position: u64, chunk_first: u64) -> [u8; 16] {
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&position.to_be_bytes());
        v[8..].copy_from_slice(&chunk_first.to_be_bytes());
        v
    }

    /// (position, chunk first position) from a stream index value.
    pub fn parse_stream_entry(value: &[u8]) -> Option<(u64, u64)> {
        if value.len() != 16 {
            return None;
        }
        let (position, chunk_first) = (u64_of(&value[..8])?, u64_of(&value[8..])?);
        (chunk_first <= position && position - chunk_first < super::chunk::RECORDS_MAX as u64)
            .then_some((position, chunk_first))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_key_splits_into_its_id_and_version_and_nothing_else_does() {
        let key = keys::stream("order-1", 7);
        assert_eq!(keys::split_stream_key(&key), Some((&b"order-1"[..], 7)));
        assert_eq!(keys::split_stream_key(&keys::chunk(7)), None);
        assert_eq!(keys::split_stream_key(b"sorder-2"), None);
        let mut no_separator = key.clone();
        no_separator[8] = b'x';
        assert_eq!(keys::split_stream_key(&no_separator), None);
    }

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
    fn chunks_round_trip_and_reject_broken_framing() {
        let values = vec![vec![1u8, 2, 3], vec![], vec![9u8; 300]];
        let c = chunk::encode(&values);
        let split = chunk::split(&c).unwrap();
        assert_eq!(split, values.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert!(chunk::split(&c[..c.len() - 1]).is_err(), "truncated");
        let mut longer = c.clone();
        longer.push(0);
        assert!(chunk::split(&longer).is_err(), "trailing byte");
        assert!(chunk::split(&[0, 0]).is_err(), "empty chunk");
        assert!(chunk::split(&[0]).is_err(), "no header");
        let mut huge = c.clone();
        huge[2..6].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(chunk::split(&huge).is_err(), "length past the end");
    }

    #[test]
    fn stream_entries_name_a_chunk_that_can_hold_them() {
        let v = keys::stream_entry(40, 33);
        assert_eq!(keys::parse_stream_entry(&v), Some((40, 33)));
        assert_eq!(keys::parse_stream_entry(&keys::stream_entry(33, 40)), None);
        assert_eq!(keys::parse_stream_entry(&keys::stream_entry(100, 1)), None);
        assert_eq!(keys::parse_stream_entry(&v[..8]), None);
    }

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
