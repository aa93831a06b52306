//! The background writer: backpressure, durability, flush and shutdown,
//! failing sinks, and the JSON-lines stream.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{record, records};
use futures_util::future::BoxFuture;
use serde_json::Value;
use sha2::{Digest, Sha256};
use toolgate_audit::{
    AppendError, AuditError, AuditRecord, AuditWriter, JsonlTarget, MemorySink, Query, Sink,
    StoredRecord, VerifyReport, WriterConfig,
};

fn small_queue(queue: usize) -> WriterConfig {
    WriterConfig {
        queue,
        ..WriterConfig::default()
    }
}

/// Batches are never due by time: only durability, flushes and a full
/// queue commit them.
fn never_by_time() -> WriterConfig {
    WriterConfig {
        batch_interval: Duration::from_secs(3600),
        ..WriterConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_records_from_eight_tasks_through_a_small_queue() {
    let db = common::sqlite().await;
    let writer = AuditWriter::start(Box::new(db.sink.clone()), None, small_queue(64));
    let max_depth = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let monitor = tokio::spawn({
        let (writer, max_depth, done) = (writer.clone(), max_depth.clone(), done.clone());
        async move {
            while !done.load(Ordering::Relaxed) {
                max_depth.fetch_max(writer.queue_depth(), Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }
    });
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for i in 0..1250 {
                    writer.submit(record(t * 1250 + i)).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    writer.flush().await.unwrap();
    done.store(true, Ordering::Relaxed);
    monitor.await.unwrap();

    assert_eq!(writer.queue_depth(), 0);
    let stats = writer.stats();
    assert_eq!((stats.committed, stats.failed_batches), (10_000, 0));
    assert!(stats.batches >= 10_000 / 64, "{stats:?}");
    let depth = max_depth.load(Ordering::Relaxed);
    assert!(depth > 0 && depth <= 64, "queue depth went to {depth}");

    let all = db.all().await;
    let ids: HashSet<String> = all.iter().map(|r| r.record.request_id.clone()).collect();
    assert_eq!(ids, (0..10_000).map(|i| format!("boot-{i}")).collect());
    assert_eq!(
        db.sink.verify().await.unwrap(),
        VerifyReport {
            records: 10_000,
            first_problem: None
        }
    );
    writer.shutdown().await;
}

#[tokio::test]
async fn durable_submits_return_once_queryable_and_flush_commits_the_rest() {
    let db = common::sqlite().await;
    let writer = AuditWriter::start(Box::new(db.sink.clone()), None, never_by_time());

    writer.submit(record(0)).await.unwrap();
    assert_eq!(writer.queue_depth(), 1);
    assert!(
        db.all().await.is_empty(),
        "a default submit waits for its batch"
    );

    writer.submit_durable(record(1)).await.unwrap();
    let ids: Vec<String> = db
        .all()
        .await
        .into_iter()
        .map(|r| r.record.request_id)
        .collect();
    assert_eq!(
        ids,
        ["boot-0", "boot-1"],
        "the durable record's batch took what was queued"
    );
    assert_eq!(writer.queue_depth(), 0);

    writer.submit(record(2)).await.unwrap();
    writer.flush().await.unwrap();
    assert_eq!(db.all().await.len(), 3);
    writer.flush().await.unwrap();

    writer.shutdown().await;
    assert!(matches!(
        writer.submit(record(3)).await,
        Err(AuditError::Stopped)
    ));
    assert!(matches!(
        writer.submit_durable(record(3)).await,
        Err(AuditError::Stopped)
    ));
    assert!(matches!(writer.flush().await, Err(AuditError::Stopped)));
    writer.shutdown().await;
    assert_eq!(writer.stats().committed, 3);
}

#[tokio::test]
async fn shutdown_commits_everything_queued() {
    let db = common::sqlite().await;
    let writer = AuditWriter::start(Box::new(db.sink.clone()), None, never_by_time());
    for r in records(0..300) {
        writer.submit(r).await.unwrap();
    }
    let other = writer.clone();
    tokio::join!(writer.shutdown(), other.shutdown());
    assert_eq!(db.all().await.len(), 300);
    assert_eq!(db.sink.verify().await.unwrap().first_problem, None);
}

/// Waits (real time, at most 10 s) until `sink` holds `n` records. The
/// writers below never commit by time, so a batch that is due but not
/// noticed fails here instead of after its hour.
async fn until_committed(sink: &MemorySink, n: usize) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while sink.records().len() < n {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "{} of {n} records committed",
        sink.records().len()
    );
}

/// Submits the first record, lets the writer start its batch and wait for
/// more, then submits the rest: so the batch is due while the writer waits
/// (records queued before it first runs would be taken in one go).
async fn submit_while_filling(writer: &AuditWriter, records: Vec<toolgate_audit::AuditRecord>) {
    let mut records = records.into_iter();
    writer.submit(records.next().unwrap()).await.unwrap();
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(writer.stats().batches, 0, "nothing is due yet");
    // Bounded: a submit waiting for a permit no commit gives back would
    // otherwise hang the test.
    let submitted = tokio::time::timeout(Duration::from_secs(10), async {
        for r in records {
            writer.submit(r).await.unwrap();
        }
    })
    .await;
    assert!(
        submitted.is_ok(),
        "a submit waited for a full queue that was never committed"
    );
}

#[tokio::test]
async fn a_full_batch_commits_without_waiting_for_its_interval() {
    let sink = Arc::new(MemorySink::new());
    let cfg = WriterConfig {
        batch_max: 8,
        ..never_by_time()
    };
    let writer = AuditWriter::start(Box::new(sink.clone()), None, cfg);
    submit_while_filling(&writer, records(0..20)).await;
    until_committed(&sink, 16).await;
    assert_eq!(writer.queue_depth(), 4, "the third batch is not full");
    assert_eq!(writer.stats().batches, 2);
    writer.shutdown().await;
    assert_eq!(sink.records().len(), 20);
}

#[tokio::test]
async fn a_full_queue_commits_a_batch_below_its_size() {
    let sink = Arc::new(MemorySink::new());
    let writer = AuditWriter::start(Box::new(sink.clone()), None, {
        WriterConfig {
            queue: 4,
            ..never_by_time()
        }
    });
    // The fifth submit waits for a permit: only a commit gives one back.
    submit_while_filling(&writer, records(0..10)).await;
    until_committed(&sink, 8).await;
    writer.shutdown().await;
    assert_eq!(sink.records().len(), 10);
}

#[tokio::test]
async fn dropping_every_handle_commits_what_was_queued() {
    let sink = Arc::new(MemorySink::new());
    let writer = AuditWriter::start(Box::new(sink.clone()), None, never_by_time());
    let other = writer.clone();
    for r in records(0..5) {
        writer.submit(r).await.unwrap();
    }
    drop(writer);
    tokio::task::yield_now().await;
    assert!(sink.records().is_empty(), "a handle is left");
    drop(other);
    until_committed(&sink, 5).await;
}

/// A sink that fails while `down`, and for its first `fail_first` appends.
struct Flaky {
    inner: MemorySink,
    fail_first: AtomicUsize,
    down: AtomicBool,
}

impl Flaky {
    fn new(fail_first: usize) -> Arc<Flaky> {
        let down = AtomicBool::new(false);
        Arc::new(Flaky {
            inner: MemorySink::new(),
            fail_first: AtomicUsize::new(fail_first),
            down,
        })
    }
}

impl Sink for Flaky {
    fn append(
        &self,
        records: Vec<AuditRecord>,
    ) -> BoxFuture<'_, Result<Vec<StoredRecord>, AppendError>> {
        let fail_now = self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if self.down.load(Ordering::SeqCst) || fail_now.is_ok() {
            let e = AuditError::Database {
                during: "appending",
                detail: "injected failure".into(),
            };
            return Box::pin(std::future::ready(Err(AppendError::new(e, records))));
        }
        self.inner.append(records)
    }
    fn query<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, Result<Vec<StoredRecord>, AuditError>> {
        self.inner.query(q)
    }
    fn verify(&self) -> BoxFuture<'_, Result<VerifyReport, AuditError>> {
        self.inner.verify()
    }
    fn kind(&self) -> &'static str {
        "flaky"
    }
}

#[tokio::test(start_paused = true)]
async fn a_sink_that_fails_then_recovers_loses_nothing() {
    let sink = Flaky::new(5);
    let writer = AuditWriter::start(Box::new(sink.clone()), None, small_queue(16));
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for i in 0..125 {
                    writer.submit(record(t * 125 + i)).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    writer.flush().await.unwrap();
    let stats = writer.stats();
    assert_eq!((stats.committed, stats.failed_batches), (500, 5));
    assert_eq!(sink.inner.records().len(), 500);
    assert_eq!(sink.verify().await.unwrap().first_problem, None);
}

#[tokio::test(start_paused = true)]
async fn an_outage_turns_into_backpressure_and_durable_waits() {
    let sink = Flaky::new(0);
    let writer = AuditWriter::start(Box::new(sink.clone()), None, small_queue(16));
    sink.down.store(true, Ordering::SeqCst);

    let durable = tokio::spawn({
        let writer = writer.clone();
        async move { writer.submit_durable(record(0)).await }
    });
    while writer.queue_depth() == 0 {
        tokio::task::yield_now().await;
    }
    for r in records(1..16) {
        writer.submit(r).await.unwrap();
    }
    // The queue is full and the sink down: the next submit waits.
    let blocked = tokio::time::timeout(Duration::from_secs(60), writer.submit(record(99))).await;
    assert!(blocked.is_err(), "submit did not wait for room");
    assert!(
        !durable.is_finished(),
        "a durable submit returned before its commit"
    );
    assert_eq!(writer.queue_depth(), 16);
    assert!(writer.stats().failed_batches > 0);

    sink.down.store(false, Ordering::SeqCst);
    durable.await.unwrap().unwrap();
    writer.submit(record(16)).await.unwrap();
    writer.shutdown().await;
    let ids: Vec<String> = sink
        .inner
        .records()
        .into_iter()
        .map(|r| r.record.request_id)
        .collect();
    assert_eq!(
        ids,
        (0..17).map(|i| format!("boot-{i}")).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn json_lines_carry_seq_and_hashes_anyone_can_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = Arc::new(MemorySink::new());
    let target = JsonlTarget::File(path.clone());
    target.check().await.unwrap();
    let writer = AuditWriter::start(
        Box::new(sink.clone()),
        Some(target),
        WriterConfig::default(),
    );
    for r in records(0..5) {
        writer.submit(r).await.unwrap();
    }
    writer.flush().await.unwrap();
    writer.submit_durable(record(5)).await.unwrap();
    writer.shutdown().await;

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<StoredRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, sink.records());
    // Without the crate: hash = sha256(prev_hash "\n" canonical(line less the hashes)).
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        let obj = v.as_object_mut().unwrap();
        let hash = obj.remove("hash").unwrap();
        let prev = obj.remove("prev_hash").unwrap();
        let input = format!(
            "{}\n{}",
            prev.as_str().unwrap(),
            toolgate_audit::canonical_json(&v)
        );
        assert_eq!(
            hex::encode(Sha256::digest(input.as_bytes())),
            hash.as_str().unwrap()
        );
    }
    assert_eq!(writer.stats().jsonl_errors, 0);
}

#[tokio::test]
async fn a_broken_json_lines_target_does_not_stop_the_log() {
    let target = JsonlTarget::File("/nonexistent-dir/audit.jsonl".into());
    assert!(matches!(target.check().await, Err(AuditError::Io { .. })));
    let sink = Arc::new(MemorySink::new());
    let writer = AuditWriter::start(
        Box::new(sink.clone()),
        Some(target),
        WriterConfig::default(),
    );
    writer.submit_durable(record(0)).await.unwrap();
    writer.shutdown().await;
    assert_eq!(sink.records().len(), 1);
    assert_eq!(writer.stats().jsonl_errors, 1);
}
