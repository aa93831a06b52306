//! Decisions per second, and the latency of one, from one process against a
//! throwaway redis-server (`cargo bench -p toolgate-limits --bench redis`).
//!
//! Concurrent decisions share one multiplexed connection, which pipelines
//! them; each task keeps one decision in flight on a counter of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]

use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use toolgate_limits::{Charge, CounterStore, LimitError, RedisOptions, RedisStore};

/// How long each case runs, after a warm-up of a fifth of that.
const RUN: Duration = Duration::from_secs(3);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let server = toolgate_testdb::redis().await;
    let options = RedisOptions {
        key_prefix: server.key_prefix().into(),
        ..RedisOptions::default()
    };
    let store = Box::leak(Box::new(RedisStore::new(server.url(), options).unwrap()));
    println!("| Charges | Concurrency | Decisions/s | p50 | p99 | Unavailable |");
    println!("|---|---|---|---|---|---|");
    for (name, sliding) in [("1 fixed", false), ("1 fixed + 1 sliding", true)] {
        for concurrency in [1, 16, 64] {
            let r = case(store, concurrency, sliding).await;
            println!(
                "| {name} | {concurrency} | {:.0} | {} | {} | {} |",
                r.per_second,
                show(r.p50),
                show(r.p99),
                r.unavailable
            );
        }
    }
}

fn show(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{} µs", d.as_micros())
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1000.0)
    }
}

struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    unavailable: usize,
}

async fn case(store: &'static RedisStore, concurrency: usize, sliding: bool) -> Figures {
    let warm_until = Instant::now() + RUN / 5;
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            tokio::spawn(async move {
                let charges = charges(task, sliding);
                let mut latencies = Vec::new();
                let mut unavailable = 0;
                while Instant::now() < warm_until {
                    let _ = store.reserve(&charges, SystemTime::UNIX_EPOCH).await;
                }
                let until = warm_until + RUN;
                while Instant::now() < until {
                    let started = Instant::now();
                    match store.reserve(&charges, SystemTime::UNIX_EPOCH).await {
                        Ok(_) => latencies.push(started.elapsed()),
                        Err(LimitError::Unavailable(_)) => unavailable += 1,
                        Err(e) => panic!("{e:?}"),
                    }
                }
                (latencies, unavailable)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut unavailable = 0;
    for t in tasks {
        let (l, u) = t.await.unwrap();
        latencies.extend(l);
        unavailable += u;
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Figures {
        per_second: latencies.len() as f64 / RUN.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        unavailable,
    }
}

/// Counters that never fill: the figures are the cost of deciding.
fn charges(task: usize, sliding: bool) -> Vec<Charge> {
    let mut charges = vec![Charge {
        key: format!("bench:{task}:fixed"),
        max: u64::MAX,
        amount: 1,
        window: Duration::from_secs(60),
        sliding: false,
    }];
    if sliding {
        charges.push(Charge {
            key: format!("bench:{task}:sliding"),
            max: u64::MAX,
            amount: 1,
            window: Duration::from_secs(1),
            sliding: true,
        });
    }
    charges
}
