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
                    let Some(first) = group.first().map(|r| r.position) else {
                        continue;
                    };
                    if first > self.next {
                        continue; // missed groups: the loop reads them from the log
                    }
                    let before = self.buffer.len();
                    self.buffer
                        .extend(group.iter().filter(|r| r.position >= self.next).cloned());
                    if self.buffer.len() > before {
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
}
