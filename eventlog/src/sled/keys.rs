//! Key layout of the single `log` tree. One tree, so that one `Batch` commits a whole group
//! atomically (sled batches are per tree).

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_key_splits_into_its_id_and_version_and_nothing_else_does() {
        let key = stream("order-1", 7);
        assert_eq!(split_stream_key(&key), Some((&b"order-1"[..], 7)));
        assert_eq!(split_stream_key(&chunk(7)), None);
        assert_eq!(split_stream_key(b"sorder-2"), None);
        let mut no_separator = key.clone();
        no_separator[8] = b'x';
        assert_eq!(split_stream_key(&no_separator), None);
    }

    #[test]
    fn stream_entries_name_a_chunk_that_can_hold_them() {
        let v = stream_entry(40, 33);
        assert_eq!(parse_stream_entry(&v), Some((40, 33)));
        assert_eq!(parse_stream_entry(&stream_entry(33, 40)), None);
        assert_eq!(parse_stream_entry(&stream_entry(100, 1)), None);
        assert_eq!(parse_stream_entry(&v[..8]), None);
    }
}
