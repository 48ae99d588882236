//! Subscriptions: catch-up from the log, then live, with no gap and no duplicate.
//!
//! The receiver of live groups is created *before* the first catch-up read, so every group
//! committed after that moment is either read from the log or received live; records are
//! de-duplicated by position. The writer publishes a group only after it is durable and the
//! durable head has moved, so a subscriber never sees an unacknowledgeable record, and a
//! reader that finds a gap in the live feed can always fill it from the log. The live channel
//! is bounded: a slow subscriber lags (it is told how far) and falls back to reading the log;
//! it never holds the writer back.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::error::LogError;
use crate::record::Record;

/// Records read from the log per catch-up step.
pub const CATCH_UP_RECORDS_MAX: usize = 1_024;

/// What a subscription reads from when it is behind.
pub trait RecordSource: Send + Sync + 'static {
    /// Durable records from `from_position`, at most `limit`.
    fn read_from(&self, from_position: u64, limit: usize) -> Result<Vec<Record>, LogError>;
    /// The durable head position.
    fn durable_head(&self) -> u64;
}

/// A subscription from a position.
pub struct Subscription {
    source: Arc<dyn RecordSource>,
    live: broadcast::Receiver<Arc<[Record]>>,
    next: u64,
    /// Records not delivered yet, as (shared group, index of the next record in it): live
    /// groups are shared by every subscriber, never copied per subscriber.
    buffer: VecDeque<(Arc<[Record]>, usize)>,
}

/// Records delivered together, in position order; they share storage with the log's live
/// feed, so a batch costs no copy of its records.
#[derive(Debug, Default)]
pub struct Batch {
    parts: Vec<(Arc<[Record]>, std::ops::Range<usize>)>,
}

impl Batch {
    pub fn iter(&self) -> impl Iterator<Item = &Record> + '_ {
        self.parts
            .iter()
            .flat_map(|(group, range)| &group[range.clone()])
    }
}

impl Subscription {
    /// Builds a subscription delivering every record with position ≥ `from_position`.
    /// `live` must have been subscribed before this call returns to the caller's first read.
    pub fn new(
        source: Arc<dyn RecordSource>,
        live: broadcast::Receiver<Arc<[Record]>>,
        from_position: u64,
    ) -> Subscription {
        Subscription {
            source,
            live,
            next: from_position.max(1),
            buffer: VecDeque::new(),
        }
    }

    /// The position of the next record this subscription will deliver.
    pub fn next_position(&self) -> u64 {
        self.next
    }

    /// Waits for and returns the next record. `Err(Closed)` once the log is closed.
    pub async fn next(&mut self) -> Result<Record, LogError> {
        let batch = self.next_batch(1).await?;
        let record = batch.iter().next().cloned();
        record.ok_or_else(|| LogError::Store("subscription delivered an empty batch".into()))
    }

    /// Waits until at least one record is available and returns up to `max` of them, in order.
    pub async fn next_batch(&mut self, max: usize) -> Result<Batch, LogError> {
        if self.buffer.is_empty() {
            self.fill().await?;
        }
        let mut batch = Batch::default();
        let mut room = max.max(1);
        while room > 0 {
            let Some((group, start)) = self.buffer.front_mut() else {
                break;
            };
            let end = (*start + room).min(group.len());
            // A group (a commit group, or one read of the log) is a run of consecutive
            // positions; anything else is a broken log, never silently skipped.
            let (first, last) = (group[*start].position, group[end - 1].position);
            if first != self.next || last.checked_sub(first) != Some((end - 1 - *start) as u64) {
                return Err(LogError::Corrupt {
                    position: self.next,
                    reason: format!(
                        "subscription expected position {} but the log gave {first}..={last}",
                        self.next
                    ),
                });
            }
            self.next = last + 1;
            batch.parts.push((Arc::clone(group), *start..end));
            room -= end - *start;
            if end == group.len() {
                self.buffer.pop_front();
            } else {
                *start = end;
            }
        }
        Ok(batch)
    }

    /// Puts at least one record into the buffer.
    async fn fill(&mut self) -> Result<(), LogError> {
        loop {
            // Groups already received live come first: a subscriber that is busy when a group
            // is published finds it here instead of reading (and decoding) it from the log.
            match self.live.try_recv() {
                Ok(group) => {
                    if self.take_live(&group) {
                        return Ok(());
                    }
                    continue;
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(broadcast::error::TryRecvError::Empty)
                | Err(broadcast::error::TryRecvError::Closed) => {}
            }
            if self.next <= self.source.durable_head() {
                let records = self.source.read_from(self.next, CATCH_UP_RECORDS_MAX)?;
                if records.first().map(|r| r.position) == Some(self.next) {
                    self.buffer.push_back((Arc::from(records), 0));
                    return Ok(());
                }
                return Err(LogError::Corrupt {
                    position: self.next,
                    reason: "durable record missing from the log".into(),
                });
            }
            match self.live.recv().await {
                Ok(group) => {
                    if self.take_live(&group) {
                        return Ok(());
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => {
                    if self.next <= self.source.durable_head() {
                        continue;
                    }
                    return Err(LogError::Closed);
                }
            }
        }
    }

    /// Buffers the records of a live group from the next position on; false if the group
    /// holds none of them (all delivered already), or starts after a gap (groups were missed:
    /// the caller reads them, and this one again, from the log).
    fn take_live(&mut self, group: &Arc<[Record]>) -> bool {
        let start = match group.first() {
            Some(first) if first.position <= self.next => (self.next - first.position) as usize,
            _ => return false,
        };
        if start >= group.len() {
            return false;
        }
        self.buffer.push_back((Arc::clone(group), start));
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use super::*;

    fn rec(position: u64) -> Record {
        Record {
            position,
            stream_id: format!("order-{position}"),
            version: 1,
            event_type: "Happened".into(),
            schema_version: 1,
            recorded_at_micros: 0,
            actor: "system".into(),
            correlation_id: String::new(),
            causation_id: String::new(),
            payload: Vec::new(),
            crc32c: 0,
            chain: [0; 32],
        }
    }

    /// Records 1..=10, durable up to `head`; counts reads.
    #[derive(Default)]
    struct Source {
        head: AtomicU64,
        reads: AtomicUsize,
    }

    impl RecordSource for Source {
        fn read_from(&self, from_position: u64, limit: usize) -> Result<Vec<Record>, LogError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            Ok((from_position..=head).take(limit).map(rec).collect())
        }
        fn durable_head(&self) -> u64 {
            self.head.load(Ordering::SeqCst)
        }
    }

    fn positions(batch: &Batch) -> Vec<u64> {
        batch.iter().map(|r| r.position).collect()
    }

    /// Returns records 1, 2 and 4: a log with a hole.
    struct Holey;

    impl RecordSource for Holey {
        fn read_from(&self, from_position: u64, _limit: usize) -> Result<Vec<Record>, LogError> {
            Ok([1, 2, 4]
                .into_iter()
                .filter(|p| *p >= from_position)
                .map(rec)
                .collect())
        }
        fn durable_head(&self) -> u64 {
            4
        }
    }

    #[tokio::test]
    async fn a_hole_in_what_the_log_returns_is_an_error_not_a_skipped_record() {
        let (_tx, rx) = broadcast::channel(4);
        let mut sub = Subscription::new(Arc::new(Holey), rx, 1);
        match sub.next_batch(10).await {
            Err(LogError::Corrupt { position: 1, .. }) => {}
            other => panic!("expected a corrupt-log error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_busy_subscriber_takes_published_groups_live_and_reads_only_what_it_missed() {
        let (tx, rx) = broadcast::channel(4);
        let source = Arc::new(Source::default());
        let mut sub = Subscription::new(Arc::clone(&source) as Arc<dyn RecordSource>, rx, 1);
        // Published while the subscriber was busy: the head is already past its position.
        source.head.store(2, Ordering::SeqCst);
        tx.send(Arc::from(vec![rec(1), rec(2)])).unwrap();
        assert_eq!(positions(&sub.next_batch(10).await.unwrap()), [1, 2]);
        assert_eq!(
            source.reads.load(Ordering::SeqCst),
            0,
            "taken from the live feed"
        );
        // Group 3 was missed (never received live): 4 arrives after a gap, so 3 and 4 come
        // from the log, in order, once each.
        source.head.store(4, Ordering::SeqCst);
        tx.send(Arc::from(vec![rec(4)])).unwrap();
        assert_eq!(positions(&sub.next_batch(10).await.unwrap()), [3, 4]);
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
        // A group overlapping what was already delivered gives only the new records.
        source.head.store(6, Ordering::SeqCst);
        tx.send(Arc::from(vec![rec(4), rec(5), rec(6)])).unwrap();
        assert_eq!(positions(&sub.next_batch(10).await.unwrap()), [5, 6]);
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
    }
}
