//! The background writer: batches records to a sink without dropping any.
//!
//! Records wait in a bounded queue (`WriterConfig::queue` permits). A batch
//! is committed when it holds `batch_max` records, when its oldest record
//! has waited `batch_interval`, when the queue is full (submitters are
//! waiting), or at once when it holds a durable record or a flush. A batch
//! that fails to commit is retried, with backoff, until it commits; its
//! records keep their queue permits meanwhile, so submitters wait
//! (backpressure) instead of records being lost.

mod jsonl;
mod task;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, mpsc, oneshot, watch};

pub use jsonl::JsonlTarget;

use crate::error::AuditError;
use crate::record::AuditRecord;
use crate::sink::Sink;

/// How a caller waits for its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Until it is queued ([`AuditWriter::submit`]).
    Default,
    /// Until it is committed ([`AuditWriter::submit_durable`]).
    Strict,
}

/// The default most records per batch (PostgreSQL's rows per INSERT too).
pub(crate) const DEFAULT_BATCH_MAX: usize = 512;

/// How the writer batches.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Most records in one transaction (default 512: a
    /// batch is linked and written a slice at a time with yields between,
    /// so a larger batch no longer holds the data path, and fewer commits
    /// rewrite fewer pages: a lower p99 at concurrency 1,
    /// docs/benchmarks.md).
    pub batch_max: usize,
    /// Longest a record waits for its batch to fill (default 200 ms): a batch
    /// is committed at least this often while records arrive.
    pub batch_interval: Duration,
    /// Records queued and not yet committed (default 8192); beyond it,
    /// `submit` waits.
    pub queue: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            batch_max: DEFAULT_BATCH_MAX,
            batch_interval: Duration::from_millis(200),
            queue: 8192,
        }
    }
}

/// The writer's counters, for metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriterStats {
    /// Records committed to the sink.
    pub committed: u64,
    /// Batches committed.
    pub batches: u64,
    /// Batch commits that failed (and were retried).
    pub failed_batches: u64,
    /// Batches the JSON-lines stream failed to take (the sink has them).
    pub jsonl_errors: u64,
}

/// The background writer. Clones share one queue and task.
#[derive(Clone)]
pub struct AuditWriter {
    // Declared before `_last_handle`: fields drop in order, so the channel
    // is closed when the last handle's guard wakes the task.
    tx: mpsc::UnboundedSender<Msg>,
    state: Arc<State>,
    stopped: watch::Receiver<bool>,
    _last_handle: Arc<LastHandle>,
}

/// Wakes the task when the last handle is gone, so it commits what it holds
/// at once instead of at the end of its batch interval.
struct LastHandle(Arc<State>);

impl Drop for LastHandle {
    fn drop(&mut self) {
        self.0.ready.notify_one();
    }
}

/// What the task is sent. The channel is unbounded; the semaphore bounds it.
#[allow(
    clippy::large_enum_variant,
    reason = "nearly every message is a record; boxing would only add an allocation"
)]
enum Msg {
    Record {
        record: AuditRecord,
        committed: Option<oneshot::Sender<()>>,
    },
    Flush(oneshot::Sender<()>),
    Shutdown,
}

/// Shared between handles and the task.
struct State {
    /// One permit per record that may be queued; given back on commit.
    permits: Semaphore,
    depth: AtomicUsize,
    /// Records sent since the batch being filled began (those in it and
    /// those still queued). Counted by the submitters, so the task is woken
    /// when a batch is due (this count reaches `due_at`, or a record is
    /// durable) and not for every record: a wake-up per record was a poll
    /// of the task and a timer re-armed, on the thread the data path runs
    /// on. Nothing is committing while a batch fills, so a full queue means
    /// this count is at the queue's size.
    filling: AtomicUsize,
    /// `batch_max`, or the queue's size if smaller: at either the batch is
    /// committed (a full queue means submitters are waiting).
    due_at: usize,
    /// The task waits on this while a batch fills.
    ready: Notify,
    committed: AtomicU64,
    batches: AtomicU64,
    failed_batches: AtomicU64,
    jsonl_errors: AtomicU64,
}

impl AuditWriter {
    /// Starts the writer task (on the current Tokio runtime); records are
    /// batched to `sink` and, if given, written as JSON lines after commit.
    /// Call [`shutdown`](Self::shutdown) before the runtime ends: a task
    /// cancelled with the runtime loses what it had not committed.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start(
        sink: Box<dyn Sink>,
        jsonl: Option<JsonlTarget>,
        cfg: WriterConfig,
    ) -> AuditWriter {
        let state = Arc::new(State {
            permits: Semaphore::new(cfg.queue.max(1)),
            depth: AtomicUsize::new(0),
            filling: AtomicUsize::new(0),
            due_at: cfg.batch_max.max(1).min(cfg.queue.max(1)),
            ready: Notify::new(),
            committed: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            failed_batches: AtomicU64::new(0),
            jsonl_errors: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let (stopped_tx, stopped) = watch::channel(false);
        let task = task::Task::new(sink, jsonl, cfg, rx, state.clone(), stopped_tx);
        tokio::spawn(task.run());
        let last_handle = Arc::new(LastHandle(state.clone()));
        AuditWriter {
            tx,
            state,
            stopped,
            _last_handle: last_handle,
        }
    }

    /// Queues a record; waits while the queue is full (never drops). Errors
    /// only if the writer has stopped.
    pub async fn submit(&self, r: AuditRecord) -> Result<(), AuditError> {
        self.enqueue(r, None).await
    }

    /// Queues a record and waits until its batch is committed to the sink
    /// (its batch is committed at once, not after `batch_interval`).
    pub async fn submit_durable(&self, r: AuditRecord) -> Result<(), AuditError> {
        let (done, committed) = oneshot::channel();
        self.enqueue(r, Some(done)).await?;
        committed.await.map_err(|_| AuditError::Stopped)
    }

    /// [`submit`](Self::submit) or [`submit_durable`](Self::submit_durable).
    pub async fn submit_with(
        &self,
        r: AuditRecord,
        durability: Durability,
    ) -> Result<(), AuditError> {
        match durability {
            Durability::Default => self.submit(r).await,
            Durability::Strict => self.submit_durable(r).await,
        }
    }

    async fn enqueue(
        &self,
        record: AuditRecord,
        committed: Option<oneshot::Sender<()>>,
    ) -> Result<(), AuditError> {
        // The permit travels with the record: the task gives it back on
        // commit. Nothing below can be cancelled half-way.
        let permit = self
            .state
            .permits
            .acquire()
            .await
            .map_err(|_| AuditError::Stopped)?;
        permit.forget();
        self.state.depth.fetch_add(1, Ordering::Relaxed);
        // Counted before it is sent, so the task (which subtracts what it
        // takes) never sees the count go below zero.
        let filling = self.state.filling.fetch_add(1, Ordering::Relaxed) + 1;
        let urgent = committed.is_some();
        if self.tx.send(Msg::Record { record, committed }).is_err() {
            self.state.filling.fetch_sub(1, Ordering::Relaxed);
            self.state.depth.fetch_sub(1, Ordering::Relaxed);
            self.state.permits.add_permits(1);
            return Err(AuditError::Stopped);
        }
        // Exactly at the threshold: the count passes it once per batch.
        if urgent || filling == self.state.due_at {
            self.state.ready.notify_one();
        }
        Ok(())
    }

    /// Records queued and not yet committed.
    pub fn queue_depth(&self) -> usize {
        self.state.depth.load(Ordering::Relaxed)
    }

    /// Counters: committed, batches, failed batches (for metrics).
    pub fn stats(&self) -> WriterStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WriterStats {
            committed: get(&self.state.committed),
            batches: get(&self.state.batches),
            failed_batches: get(&self.state.failed_batches),
            jsonl_errors: get(&self.state.jsonl_errors),
        }
    }

    /// Commits everything queued so far, then returns.
    pub async fn flush(&self) -> Result<(), AuditError> {
        let (ack, flushed) = oneshot::channel();
        self.tx
            .send(Msg::Flush(ack))
            .map_err(|_| AuditError::Stopped)?;
        self.state.ready.notify_one();
        flushed.await.map_err(|_| AuditError::Stopped)
    }

    /// Commits everything queued, stops the task and returns. Later submits
    /// fail with [`AuditError::Stopped`]. While the sink keeps failing this
    /// keeps waiting: bound it with a timeout if needed.
    pub async fn shutdown(&self) {
        let _ = self.tx.send(Msg::Shutdown);
        self.state.ready.notify_one();
        let mut stopped = self.stopped.clone();
        let _ = stopped.wait_for(|s| *s).await;
    }
}
