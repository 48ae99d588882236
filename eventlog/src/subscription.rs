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
    buffer: VecDeque<Record>,
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
        loop {
            if let Some(r) = self.pop() {
                return Ok(r);
            }
            self.fill().await?;
        }
    }

    /// Waits until at least one record is available and returns up to `max` of them, in order.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<Record>, LogError> {
        if self.buffer.is_empty() {
            self.fill().await?;
        }
        let mut out = Vec::with_capacity(self.buffer.len().min(max.max(1)));
        while out.len() < max.max(1) {
            match self.pop() {
                Some(r) => out.push(r),
                None => break,
            }
        }
        Ok(out)
    }

    fn pop(&mut self) -> Option<Record> {
        let r = self.buffer.pop_front()?;
        assert_eq!(r.position, self.next, "subscription delivered out of order");
        self.next = r.position + 1;
        Some(r)
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
                    self.buffer.extend(records);
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
    fn take_live(&mut self, group: &[Record]) -> bool {
        match group.first() {
            Some(first) if first.position <= self.next => {}
            _ => return false,
        }
        let before = self.buffer.len();
        self.buffer
            .extend(group.iter().filter(|r| r.position >= self.next).cloned());
        self.buffer.len() > before
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

    fn positions(records: &[Record]) -> Vec<u64> {
        records.iter().map(|r| r.position).collect()
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
