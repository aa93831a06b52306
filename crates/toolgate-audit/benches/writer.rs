//! What the audit writer costs, into SQLite and into PostgreSQL (a throwaway
//! local cluster with default durability settings):
//! - sustained records/second through `AuditWriter` with default batching,
//!   8 tasks submitting as fast as they can, and the CPU time the process
//!   spent per record meanwhile (every thread: the submitters, the writer
//!   task, the database driver; for PostgreSQL not the server's);
//! - the latency `submit` adds to a call in default mode;
//! - the latency of `submit_durable` (strict mode), one caller at a time and
//!   8 callers at once (their records share commits).
//!
//! `cargo bench -p toolgate-audit --bench writer` (without `--bench`, as
//! under `cargo test --all-targets`, it runs a small smoke version).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use toolgate_audit::{AuditWriter, PostgresSink, Sink, SqliteSink, WriterConfig};
use toolgate_load::procfs;

mod common;
use common::record;

const TASKS: usize = 8;

/// Records per second offered in the paced run: a busy gateway, well below
/// what the sinks sustain.
const PACED_RATE: u64 = 5000;

struct Sizes {
    throughput: usize,
    durable: usize,
    paced_secs: u64,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full {
        Sizes {
            throughput: 200_000,
            durable: 2000,
            paced_secs: 3,
        }
    } else {
        Sizes {
            throughput: 2000,
            durable: 50,
            paced_secs: 1,
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    bench("sqlite", &sizes, || async {
        boxed(SqliteSink::open(&path).await.unwrap())
    })
    .await;
    let pg = toolgate_testdb::postgres().await;
    bench("postgres", &sizes, || async {
        boxed(PostgresSink::connect(pg.url()).await.unwrap())
    })
    .await;
}

/// User + system time of this process so far, in clock ticks.
fn own_cpu_ticks() -> u64 {
    procfs::cpu_ticks(std::process::id()).unwrap().total()
}

fn boxed(s: impl Sink + 'static) -> Box<dyn Sink> {
    Box::new(s)
}

async fn bench<F, Fut>(name: &str, sizes: &Sizes, sink: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Box<dyn Sink>>,
{
    let show = |label: &str, text: String| println!("{name:8} {label:<18} {text}");
    let writer = AuditWriter::start(sink().await, None, WriterConfig::default());
    let cpu_before = own_cpu_ticks();
    let (elapsed, mut submit) = throughput(&writer, sizes.throughput).await;
    let cpu_ticks = own_cpu_ticks() - cpu_before;
    writer.shutdown().await;
    let rate = sizes.throughput as f64 / elapsed.as_secs_f64();
    let batches = writer.stats().batches;
    let cpu_micros = cpu_ticks as f64 * 1e6 / procfs::ticks_per_second() as f64;
    show(
        "throughput",
        format!(
            "{rate:.0} records/s, {:.1} µs CPU/record ({} in {elapsed:.2?}, {batches} batches)",
            cpu_micros / sizes.throughput as f64,
            sizes.throughput
        ),
    );
    show("submit, flat out", summary(&mut submit));

    let writer = AuditWriter::start(sink().await, None, WriterConfig::default());
    show(
        &format!("submit, {PACED_RATE}/s"),
        summary(&mut paced(&writer, sizes.paced_secs).await),
    );
    writer.shutdown().await;

    let writer = AuditWriter::start(sink().await, None, WriterConfig::default());
    show(
        "durable, 1 task",
        summary(&mut durable(&writer, 1, sizes.durable).await),
    );
    let label = format!("durable, {TASKS} tasks");
    show(
        &label,
        summary(&mut durable(&writer, TASKS, sizes.durable).await),
    );
    writer.shutdown().await;
}

/// `n` strict-mode submits from `tasks` tasks; each one's latency.
async fn durable(writer: &AuditWriter, tasks: usize, n: usize) -> Vec<Duration> {
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let writer = writer.clone();
            let n = n / tasks;
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(n);
                for i in 0..n {
                    let start = Instant::now();
                    writer.submit_durable(record(t * n + i)).await.unwrap();
                    lat.push(start.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await.unwrap());
    }
    latencies
}

/// Submits `n` records from [`TASKS`] tasks; the time until all are
/// committed, and each `submit`'s latency.
async fn throughput(writer: &AuditWriter, n: usize) -> (Duration, Vec<Duration>) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(n / TASKS);
                for i in 0..n / TASKS {
                    let s = Instant::now();
                    writer.submit(record(t * n + i)).await.unwrap();
                    lat.push(s.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    writer.flush().await.unwrap();
    (start.elapsed(), latencies)
}

/// Submits at [`PACED_RATE`] from [`TASKS`] tasks for `secs`; each
/// `submit`'s latency (what default mode adds to a call).
async fn paced(writer: &AuditWriter, secs: u64) -> Vec<Duration> {
    let per_task = Duration::from_micros(1_000_000 * TASKS as u64 / PACED_RATE);
    let n = (PACED_RATE * secs) as usize / TASKS;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(per_task);
                let mut lat = Vec::with_capacity(n);
                for i in 0..n {
                    tick.tick().await;
                    let s = Instant::now();
                    writer.submit(record(t * n + i)).await.unwrap();
                    lat.push(s.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    latencies
}

fn summary(lat: &mut [Duration]) -> String {
    lat.sort();
    let at = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    format!(
        "median {:>9.1?}  p99 {:>9.1?}  (n = {})",
        at(0.5),
        at(0.99),
        lat.len()
    )
}
