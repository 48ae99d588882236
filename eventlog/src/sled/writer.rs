//! The writer thread: takes queued appends into groups, checks their expectations and
//! idempotency keys, assigns positions and the chain, applies each group to sled as one
//! `Batch`, and hands it to the sync thread or makes it durable itself (see `commit_group`).
//!
//! Invariant: only this thread writes the `log` tree, so positions and the chain are assigned
//! in one place, in commit order.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::syncer::Syncer;
use super::{
    chunk, idempotency_config, keys, Head, IdempotencyEntry, Inner, Job, GROUP_APPENDS_MAX,
    GROUP_EVENTS_MAX, GROUP_STREAMS_MAX, HANDOVER_QUEUE_ENOUGH,
};
use crate::append::{AppendRequest, AppendResult, StreamVersion};
use crate::error::{AppendError, LogError};
use crate::generations::Generations;
use crate::record::{encode_value, Record, RecordBodyRef};

/// The single writer, first half: takes queued appends, checks them, assigns positions and the
/// chain, and applies each group to sled as one `Batch`. It hands an applied group to the
/// [`Syncer`] and, while that one waits for the disk, stages the next group; or, when too few
/// appends wait for that to pay, makes the group durable itself (see `commit_group`).
pub(super) struct Writer {
    pub(super) inner: Arc<Inner>,
    pub(super) next_position: u64,
    pub(super) chain: [u8; 32],
    pub(super) last_recorded_at_micros: i64,
    /// Versions of recently written or checked streams, including the group being staged
    /// (two generations: a group's own entries always survive until it is applied).
    pub(super) versions: Generations<String, u64>,
    /// Rendezvous with the syncer: at most one group is applied and not yet being synced.
    pub(super) to_syncer: Option<std::sync::mpsc::SyncSender<Applied>>,
    pub(super) syncer: Option<JoinHandle<()>>,
    /// The syncer's state: the writer finishes a group itself, once the syncer has finished
    /// every group handed to it, when too few appends wait to overlap (see `commit_group`).
    pub(super) syncer_state: Arc<Mutex<Syncer>>,
    /// Signalled each time the syncer finishes a group.
    pub(super) syncer_done: Arc<Condvar>,
    /// Groups handed to the sync thread so far.
    pub(super) handed: u64,
}

/// A group applied to sled (visible in memory, not yet durable) on its way to the syncer.
pub(super) struct Applied {
    /// Whether the group wrote anything (a group of conflicts only needs no sync of its own:
    /// every group before it was made durable before this one is received).
    pub(super) wrote: bool,
    pub(super) replies: Vec<(Reply, Result<AppendResult, AppendError>)>,
    /// The group's records for the live feed.
    pub(super) records: Vec<Record>,
    /// The version each stream of the group reached.
    pub(super) versions: Vec<(String, u64)>,
    /// The head after this group.
    pub(super) head: Head,
    pub(super) events: u64,
}

/// What one group stages before it is written.
#[derive(Default)]
struct Group {
    batch: sled::Batch,
    idempotency: HashMap<String, IdempotencyEntry>,
    records: Vec<Record>,
    versions: Vec<(String, u64)>,
    /// The chunk being filled: its first position, stored values and their total size.
    chunk_first: u64,
    chunk: Vec<Vec<u8>>,
    chunk_bytes: usize,
    writes: usize,
}

impl Group {
    /// Adds the stored value of the record at `position` to the open chunk, sealing that
    /// chunk first if it is full; answers the first position of the chunk it went into.
    fn add_to_chunk(&mut self, position: u64, value: Vec<u8>) -> u64 {
        if !self.chunk.is_empty()
            && (self.chunk.len() == chunk::RECORDS_MAX
                || self.chunk_bytes + value.len() > chunk::BYTES_TARGET)
        {
            self.seal_chunk();
        }
        if self.chunk.is_empty() {
            self.chunk_first = position;
        }
        self.chunk_bytes += value.len();
        self.chunk.push(value);
        self.chunk_first
    }

    /// Puts the open chunk into the batch. Chunks never span groups.
    fn seal_chunk(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        self.batch.insert(
            &keys::chunk(self.chunk_first)[..],
            chunk::encode(&self.chunk),
        );
        self.chunk.clear();
        self.chunk_bytes = 0;
    }
}

pub(super) type Reply = oneshot::Sender<Result<AppendResult, AppendError>>;

impl Writer {
    pub(super) fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        let mut jobs: Vec<Job> = Vec::with_capacity(GROUP_APPENDS_MAX);
        while let Some(first) = queue.blocking_recv() {
            let mut events = first.request.event_count();
            let mut streams = first.request.streams.len();
            jobs.push(first);
            while jobs.len() < GROUP_APPENDS_MAX
                && events < GROUP_EVENTS_MAX
                && streams < GROUP_STREAMS_MAX
            {
                match queue.try_recv() {
                    Ok(job) => {
                        events += job.request.event_count();
                        streams += job.request.streams.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(&mut jobs, &queue);
        }
        self.stop_syncer();
    }

    /// Lets the syncer finish the groups handed to it and waits for it.
    fn stop_syncer(&mut self) {
        drop(self.to_syncer.take());
        if let Some(h) = self.syncer.take() {
            let _ = h.join();
        }
    }

    fn commit_group(&mut self, jobs: &mut Vec<Job>, queue: &mpsc::Receiver<Job>) {
        // Checked here, where positions are assigned, so no append is made after a finding.
        if self.inner.integrity.borrow().is_some() {
            for job in jobs.drain(..) {
                let refused = self.inner.fenced_error().unwrap_or(LogError::Closed);
                let _ = job.reply.send(Err(refused.into()));
            }
            return;
        }
        if let Some(reason) = self.inner.storage_failure() {
            for job in jobs.drain(..) {
                let _ = job
                    .reply
                    .send(Err(LogError::Unavailable(reason.clone()).into()));
            }
            return;
        }
        let (start_position, start_chain, start_recorded) =
            (self.next_position, self.chain, self.last_recorded_at_micros);
        let mut group = Group::default();
        let mut replies: Vec<(Reply, Result<AppendResult, AppendError>)> =
            Vec::with_capacity(jobs.len());
        for job in jobs.drain(..) {
            let outcome = self.stage(job.request, &mut group);
            replies.push((job.reply, outcome));
        }
        group.seal_chunk();

        let wrote = group.writes > 0;
        if wrote {
            if let Err(e) = self.inner.tree.apply_batch(group.batch) {
                let e = LogError::from(e);
                tracing::error!(error = %e, "event log write failed; refusing further appends");
                self.inner.fail_storage(&e.to_string());
                (self.next_position, self.chain, self.last_recorded_at_micros) =
                    (start_position, start_chain, start_recorded);
                for (reply, _) in replies {
                    let _ = reply.send(Err(LogError::Unavailable(e.to_string()).into()));
                }
                return;
            }
        }
        let applied = Applied {
            wrote,
            replies,
            records: group.records,
            versions: group.versions,
            head: Head {
                position: self.next_position - 1,
                chain: self.chain,
                recorded_at_micros: self.last_recorded_at_micros,
            },
            events: self.next_position - start_position,
        };
        // Overlap pays only when the next group is ready to be as big as this one (or big
        // anyway): then the writer stages and applies it while the syncer waits for the disk.
        // With fewer appends
        // waiting, a hand-over would split the arrivals into small groups (a flush, a
        // `sync_data` and thread switches each) on a machine whose cores the callers need:
        // finish this group here instead, in order, and let the next one grow meanwhile
        // (ADR 0001, "When the writer hands a group over").
        if queue.len() < applied.replies.len().min(HANDOVER_QUEUE_ENOUGH) {
            let Ok(mut syncer) = self.syncer_state.lock() else {
                return self.fail_group(applied, "the event log's sync thread stopped");
            };
            while syncer.finished != self.handed {
                match self.syncer_done.wait(syncer) {
                    Ok(s) => syncer = s,
                    Err(_) => {
                        return self.fail_group(applied, "the event log's sync thread stopped")
                    }
                }
            }
            syncer.finish(applied);
            return;
        }
        let Some(to_syncer) = &self.to_syncer else {
            return;
        };
        self.handed += 1;
        if let Err(std::sync::mpsc::SendError(applied)) = to_syncer.send(applied) {
            self.fail_group(applied, "the event log's sync thread stopped");
        }
    }

    /// The syncer is gone (it panicked): nothing can be made durable any more. Refuses this
    /// group's appends and every later one.
    fn fail_group(&self, applied: Applied, reason: &str) {
        self.inner.fail_storage(reason);
        for (reply, _) in applied.replies {
            let _ = reply.send(Err(LogError::Unavailable(reason.to_string()).into()));
        }
    }

    /// The version of `stream_id` including staged events. A version read from the log is
    /// remembered too: only this thread writes, so it stays true until this thread stages an
    /// event of that stream, which updates it (a stream that appends only guard, as every
    /// order placement guards its product, costs no lookup after the first).
    fn current_version(&mut self, stream_id: &str) -> Result<u64, LogError> {
        if let Some(v) = self.versions.get(stream_id) {
            return Ok(*v);
        }
        let v = self
            .inner
            .stream_version_at_most(stream_id, self.next_position.saturating_sub(1))?;
        self.versions.insert(stream_id.to_owned(), v);
        Ok(v)
    }

    fn stage(
        &mut self,
        request: AppendRequest,
        group: &mut Group,
    ) -> Result<AppendResult, AppendError> {
        if let Some(idem) = &request.idempotency {
            let earlier = match group.idempotency.get(&idem.key) {
                Some(e) => Some((e.fingerprint, e.result.clone())),
                None => self
                    .inner
                    .tree
                    .get(keys::idempotency(&idem.key))
                    .map_err(LogError::from)?
                    .and_then(|v| {
                        bincode::decode_from_slice::<IdempotencyEntry, _>(&v, idempotency_config())
                            .ok()
                            .map(|(e, _)| (e.fingerprint, e.result))
                    }),
            };
            if let Some((fingerprint, mut result)) = earlier {
                if fingerprint != idem.fingerprint {
                    return Err(AppendError::IdempotencyKeyReused);
                }
                result.deduplicated = true;
                return Ok(result);
            }
        }

        let mut currents = Vec::with_capacity(request.streams.len());
        for s in &request.streams {
            let current = self.current_version(&s.stream_id)?;
            if !s.expected.admits(current) {
                return Err(AppendError::Conflict {
                    stream_id: s.stream_id.clone(),
                    expected: s.expected,
                    current,
                });
            }
            currents.push(current);
        }

        let AppendRequest {
            streams: stream_appends,
            meta,
            idempotency,
        } = request;
        let recorded_at = meta.recorded_at_micros.max(self.last_recorded_at_micros);
        self.last_recorded_at_micros = recorded_at;
        let first_position = self.next_position;
        let mut streams = Vec::with_capacity(stream_appends.len());
        for (s, current) in stream_appends.into_iter().zip(currents) {
            let mut version = current;
            let has_events = !s.events.is_empty();
            if current == 0 && has_events {
                self.inner.known.insert(&s.stream_id);
            }
            for e in s.events {
                version += 1;
                let position = self.next_position;
                let (value, crc32c, chain) = encode_value(
                    &RecordBodyRef {
                        position,
                        stream_id: &s.stream_id,
                        version,
                        event_type: &e.event_type,
                        schema_version: e.schema_version,
                        recorded_at_micros: recorded_at,
                        actor: &meta.actor,
                        correlation_id: &meta.correlation_id,
                        causation_id: &meta.causation_id,
                        payload: &e.payload,
                    },
                    &self.chain,
                );
                let chunk_first = group.add_to_chunk(position, value);
                group.batch.insert(
                    keys::stream(&s.stream_id, version),
                    &keys::stream_entry(position, chunk_first)[..],
                );
                group.writes += 1;
                self.chain = chain;
                self.next_position += 1;
                group.records.push(Record {
                    position,
                    stream_id: s.stream_id.clone(),
                    version,
                    event_type: e.event_type,
                    schema_version: e.schema_version,
                    recorded_at_micros: recorded_at,
                    actor: meta.actor.clone(),
                    correlation_id: meta.correlation_id.clone(),
                    causation_id: meta.causation_id.clone(),
                    payload: e.payload,
                    crc32c,
                    chain,
                });
            }
            if has_events {
                // Usually already there (its version was just checked): no new key.
                match self.versions.young_mut(&s.stream_id) {
                    Some(v) => *v = version,
                    None => {
                        self.versions.insert(s.stream_id.clone(), version);
                    }
                }
                group.versions.push((s.stream_id.clone(), version));
            }
            streams.push(StreamVersion {
                stream_id: s.stream_id,
                version,
            });
        }
        let result = AppendResult {
            first_position,
            last_position: self.next_position - 1,
            recorded_at_micros: recorded_at,
            streams,
            deduplicated: false,
        };
        if let Some(idem) = idempotency {
            let entry = IdempotencyEntry {
                fingerprint: idem.fingerprint,
                result: result.clone(),
            };
            let bytes = bincode::encode_to_vec(&entry, idempotency_config()).unwrap_or_default();
            group.batch.insert(keys::idempotency(&idem.key), bytes);
            group.writes += 1;
            group.idempotency.insert(idem.key, entry);
        }
        Ok(result)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Also on unwinding: the syncer finishes what was handed to it and writes the anchor.
        self.stop_syncer();
    }
}
