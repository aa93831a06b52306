//! The writer task: fills a batch, commits it (retrying until it commits),
//! copies it to the JSON-lines stream, and releases its waiters.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};

use super::jsonl::Jsonl;
use super::{JsonlTarget, Msg, State, WriterConfig};
use crate::cooperative::free_in_slices;
use crate::record::{AuditRecord, StoredRecord};
use crate::sink::{AppendError, Sink};

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub(super) struct Task {
    sink: Box<dyn Sink>,
    jsonl: Option<Jsonl>,
    batch_max: usize,
    interval: Duration,
    rx: mpsc::UnboundedReceiver<Msg>,
    state: Arc<State>,
    stopped: watch::Sender<bool>,
}

#[derive(Default)]
struct Batch {
    records: Vec<AuditRecord>,
    /// Durable submitters and flushes, released once the batch commits.
    waiters: Vec<oneshot::Sender<()>>,
    /// Commit now: someone is waiting for it.
    urgent: bool,
}

/// Closes the queue when the task ends, even by panic, so no submitter
/// waits forever for a permit.
struct CloseOnDrop(Arc<State>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.permits.close();
    }
}

impl Task {
    pub(super) fn new(
        sink: Box<dyn Sink>,
        jsonl: Option<JsonlTarget>,
        cfg: WriterConfig,
        rx: mpsc::UnboundedReceiver<Msg>,
        state: Arc<State>,
        stopped: watch::Sender<bool>,
    ) -> Task {
        Task {
            sink,
            jsonl: jsonl.map(Jsonl::new),
            batch_max: cfg.batch_max.max(1),
            interval: cfg.batch_interval,
            rx,
            state,
            stopped,
        }
    }

    /// Runs until shut down, or until every handle is gone; commits
    /// everything it received either way.
    pub(super) async fn run(mut self) {
        let _close = CloseOnDrop(self.state.clone());
        while let Some(first) = self.rx.recv().await {
            let mut batch = Batch::default();
            self.accept(&mut batch, first);
            self.fill(&mut batch).await;
            self.commit(batch).await;
        }
        self.state.permits.close();
        self.stopped.send_replace(true);
    }

    fn accept(&mut self, batch: &mut Batch, msg: Msg) {
        match msg {
            Msg::Record { record, committed } => {
                batch.records.push(record);
                if let Some(waiter) = committed {
                    batch.waiters.push(waiter);
                    batch.urgent = true;
                }
            }
            Msg::Flush(ack) => {
                batch.waiters.push(ack);
                batch.urgent = true;
            }
            Msg::Shutdown => {
                // Refuse new messages; the ones already sent still drain.
                self.rx.close();
                batch.urgent = true;
            }
        }
    }

    /// Takes what is queued into the batch until it is due: full, urgent,
    /// the queue full, its interval over, or every handle gone. Submitters
    /// wake the task only for the first three (see `State::filling`).
    async fn fill(&mut self, batch: &mut Batch) {
        let deadline = sleep_until(Instant::now() + self.interval);
        tokio::pin!(deadline);
        loop {
            self.drain(batch);
            let queue_full = self.state.permits.available_permits() == 0;
            if batch.urgent
                || queue_full
                || batch.records.len() >= self.batch_max
                || self.rx.is_closed()
            {
                return;
            }
            tokio::select! {
                biased;
                () = self.state.ready.notified() => {}
                () = &mut deadline => {
                    self.drain(batch);
                    return;
                }
            }
        }
    }

    /// Whatever is already queued rides along, even in an urgent batch.
    fn drain(&mut self, batch: &mut Batch) {
        while batch.records.len() < self.batch_max {
            match self.rx.try_recv() {
                Ok(msg) => self.accept(batch, msg),
                Err(_) => break,
            }
        }
    }

    async fn commit(&mut self, batch: Batch) {
        let Batch {
            records, waiters, ..
        } = batch;
        // What arrives from here on counts toward the next batch.
        self.state
            .filling
            .fetch_sub(records.len(), Ordering::Relaxed);
        let mut stored = Vec::new();
        if !records.is_empty() {
            let n = records.len();
            stored = append_until_committed(&*self.sink, &self.state, records).await;
            self.copy_to_jsonl(&stored).await;
            self.state.committed.fetch_add(n as u64, Ordering::Relaxed);
            self.state.batches.fetch_add(1, Ordering::Relaxed);
            self.state.depth.fetch_sub(n, Ordering::Relaxed);
            self.state.permits.add_permits(n);
        }
        for waiter in waiters {
            let _ = waiter.send(());
        }
        // Committed and released: what is left is freeing.
        free_in_slices(stored).await;
    }

    async fn copy_to_jsonl(&mut self, stored: &[StoredRecord]) {
        let Some(jsonl) = &mut self.jsonl else { return };
        if jsonl.write(stored).await.is_err() {
            self.state.jsonl_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Retries until the sink takes the batch: losing records is not an option,
/// and the bounded queue turns a long outage into backpressure.
async fn append_until_committed(
    sink: &dyn Sink,
    state: &State,
    mut records: Vec<AuditRecord>,
) -> Vec<StoredRecord> {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match sink.append(records).await {
            Ok(stored) => return stored,
            Err(AppendError {
                error: e,
                records: back,
            }) => {
                records = back;
                state.failed_batches.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    error = %e,
                    sink = sink.kind(),
                    records = records.len(),
                    retry_in_ms = backoff.as_millis() as u64,
                    "audit batch not committed; retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
