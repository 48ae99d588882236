//! Records are stored in chunks: consecutive positions written in one group share one sled
//! value, so a group costs one sequential insert per chunk plus one small stream-index insert
//! per event (see ADR 0001). Chunk value =
//! `count (u16 BE) ‖ count × length (u32 BE) ‖ the stored values of the records, in order`.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_and_reject_broken_framing() {
        let values = vec![vec![1u8, 2, 3], vec![], vec![9u8; 300]];
        let c = encode(&values);
        let parts = split(&c).unwrap();
        assert_eq!(parts, values.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert!(split(&c[..c.len() - 1]).is_err(), "truncated");
        let mut longer = c.clone();
        longer.push(0);
        assert!(split(&longer).is_err(), "trailing byte");
        assert!(split(&[0, 0]).is_err(), "empty chunk");
        assert!(split(&[0]).is_err(), "no header");
        let mut huge = c.clone();
        huge[2..6].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(split(&huge).is_err(), "length past the end");
    }
}
