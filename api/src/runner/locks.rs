//! Per-stream serialisation of commands (API.md §1: a command without `If-Match` never answers
//! `version_conflict`). A command holds the async mutex of every stream it appends to from
//! its load to its durable append, so the next command on those streams decides on the state
//! that append made, and an `Exact` expectation on a held stream cannot fail.
//!
//! Memory stays bounded: a stream's mutex exists only while someone holds or waits for it.
//! Invariant: every clone of an entry's `Arc` is taken under the map's lock and belongs to a
//! [`Ticket`], so "the map's `Arc` is the only other one" seen under the map's lock means
//! nobody holds or waits, and nobody can start to without that lock.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

type StreamMutex = Arc<tokio::sync::Mutex<()>>;

/// The mutexes of the streams some command holds or waits for, by stream id.
#[derive(Default)]
pub struct StreamLocks {
    map: Mutex<HashMap<String, StreamMutex>>,
}

/// The streams one command holds; released on drop.
pub struct Locked<'a> {
    /// Sorted by stream id (the order they were taken in).
    held: Vec<Held<'a>>,
}

/// One held stream. The guard is declared first so that it is dropped before the ticket
/// looks whether anybody else still needs the entry.
struct Held<'a> {
    _guard: OwnedMutexGuard<()>,
    ticket: Ticket<'a>,
}

/// A counted reference to one stream's mutex, taken before waiting: a waiter dropped while it
/// waits (a request whose client went away) still removes an entry nobody else needs.
struct Ticket<'a> {
    locks: &'a StreamLocks,
    stream_id: String,
    mutex: StreamMutex,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut map = self.locks.lock_map();
        // The map's Arc and this one: nobody else holds or waits.
        if Arc::strong_count(&self.mutex) == 2 {
            if let Some(entry) = map.get(&self.stream_id) {
                if Arc::ptr_eq(entry, &self.mutex) {
                    map.remove(&self.stream_id);
                }
            }
        }
    }
}

impl StreamLocks {
    fn lock_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, StreamMutex>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ticket(&self, stream_id: &str) -> Ticket<'_> {
        let mut map = self.lock_map();
        let mutex = Arc::clone(map.entry(stream_id.to_owned()).or_default());
        Ticket {
            locks: self,
            stream_id: stream_id.to_owned(),
            mutex,
        }
    }

    /// Takes the mutex of every stream of `streams`, in sorted order, so that two commands
    /// wanting overlapping sets cannot each hold what the other waits for.
    pub async fn lock(&self, streams: &BTreeSet<String>) -> Locked<'_> {
        let started = domain::clock::monotonic_now();
        let mut held = Vec::with_capacity(streams.len());
        for stream_id in streams {
            let ticket = self.ticket(stream_id);
            let guard = Arc::clone(&ticket.mutex).lock_owned().await;
            held.push(Held {
                _guard: guard,
                ticket,
            });
        }
        metrics::histogram!("marketlog_stream_lock_wait_seconds")
            .record(started.elapsed().as_secs_f64());
        Locked { held }
    }

    /// Streams someone holds or waits for now.
    pub fn len(&self) -> usize {
        self.lock_map().len()
    }

    /// Whether nobody holds or waits for any stream.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Locked<'_> {
    /// Whether every stream of `streams` is held.
    pub fn covers<'s>(&self, mut streams: impl Iterator<Item = &'s str>) -> bool {
        streams.all(|s| {
            self.held
                .binary_search_by(|h| h.ticket.stream_id.as_str().cmp(s))
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::task::Poll;

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Polls `f` once: whether it is still pending.
    async fn pending<F: Future>(f: std::pin::Pin<&mut F>) -> bool {
        let mut f = Some(f);
        std::future::poll_fn(|cx| {
            let pinned = f.take().map(|f| f.poll(cx).is_pending());
            Poll::Ready(pinned.unwrap_or(false))
        })
        .await
    }

    #[tokio::test]
    async fn a_held_stream_makes_the_next_taker_wait_and_the_map_empties_after() {
        let locks = StreamLocks::default();
        let first = locks.lock(&set(&["b", "a"])).await;
        assert!(first.covers(["a", "b"].into_iter()));
        assert!(!first.covers(["a", "c"].into_iter()));
        assert_eq!(locks.len(), 2);
        {
            let only_a = set(&["a"]);
            let mut second = std::pin::pin!(locks.lock(&only_a));
            assert!(pending(second.as_mut()).await);
            drop(first);
            let second = second.await;
            assert!(second.covers(["a"].into_iter()));
            assert_eq!(locks.len(), 1);
        }
        assert!(locks.is_empty());
    }

    #[tokio::test]
    async fn a_waiter_dropped_while_it_waits_leaves_no_entry() {
        let locks = StreamLocks::default();
        let held = locks.lock(&set(&["a"])).await;
        {
            let a_and_z = set(&["a", "z"]);
            let mut gives_up = std::pin::pin!(locks.lock(&a_and_z));
            assert!(pending(gives_up.as_mut()).await);
        }
        assert_eq!(locks.len(), 1);
        drop(held);
        assert!(locks.is_empty());
    }
}
