//! The checks at open: the head from the log's last chunk, and the log against its head
//! anchor. What they find opens the log fenced rather than failing the open.

use super::reads::{chunk_key_position, split_chunk};
use super::{keys, Head, Inner};
use crate::anchor::Anchor;
use crate::error::LogError;
use crate::integrity::{Finding, FoundBy};
use crate::record::{decode_value, GENESIS_CHAIN};

/// The head of the log from its last chunk. A tail that cannot be read is damage: the error
/// comes with the head of what can still be read (the records before that chunk).
pub(super) fn tail_head(tree: &sled::Tree) -> Result<Head, (Head, LogError)> {
    let empty = Head {
        position: 0,
        chain: GENESIS_CHAIN,
        recorded_at_micros: i64::MIN,
    };
    let Some(kv) = tree
        .range(keys::chunk(0)..=keys::chunk(u64::MAX))
        .next_back()
    else {
        return Ok(empty);
    };
    let (k, v) = kv.map_err(|e| (empty, LogError::from(e)))?;
    let first = chunk_key_position(&k).map_err(|e| (empty, e))?;
    let before = Head {
        position: first.saturating_sub(1),
        ..empty
    };
    let values = split_chunk(first, &v).map_err(|e| (before, e))?;
    // `split_chunk` refuses an empty chunk, so there is a last record.
    let position = first + values.len() as u64 - 1;
    let r = decode_value(position, values[values.len() - 1]).map_err(|e| (before, e))?;
    Ok(Head {
        position,
        chain: r.chain,
        recorded_at_micros: r.recorded_at_micros,
    })
}

/// A finding of the checks at open.
pub(super) fn open_finding(e: LogError) -> Finding {
    match e {
        LogError::Corrupt { position, reason } => Finding {
            position,
            reason,
            found_by: FoundBy::Open,
        },
        other => Finding {
            position: 0,
            reason: other.to_string(),
            found_by: FoundBy::Open,
        },
    }
}

/// Checks the log against its head anchor: the log must reach the anchor's position and have
/// the same chain hash there.
pub(super) fn check_anchor(inner: &Inner, head: u64, a: &Anchor) -> Result<(), LogError> {
    if a.position == 0 {
        // Written before the first event: nothing to compare but the genesis hash.
        if a.chain != GENESIS_CHAIN {
            return Err(LogError::Corrupt {
                position: 0,
                reason: "the head anchor at position 0 does not hold the genesis chain hash".into(),
            });
        }
        return Ok(());
    }
    if head < a.position {
        return Err(LogError::Corrupt {
            position: head + 1,
            reason: format!(
                "the log ends at position {head} but the head anchor says {} was durable: the log was cut short or rolled back",
                a.position
            ),
        });
    }
    let mut found = None;
    inner.scan(a.position, 1, |position, value| {
        found = Some((position, value.to_vec()));
        Ok(())
    })?;
    let value = match found {
        Some((position, value)) if position == a.position => value,
        _ => {
            return Err(LogError::Corrupt {
                position: a.position,
                reason: "record named by the head anchor is missing".into(),
            })
        }
    };
    let r = decode_value(a.position, &value)?;
    if r.chain != a.chain {
        return Err(LogError::Corrupt {
            position: a.position,
            reason: "chain hash differs from the head anchor: the log was rewritten".into(),
        });
    }
    Ok(())
}
