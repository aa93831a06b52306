//! What a Redis-backed limit decision adds to a `tools/call`, end to end:
//! the same gateway config with `limits: memory` and with `limits: redis://`
//! (a throwaway local redis-server), one client each, calls interleaved so
//! both see the same machine noise. Prints p50/p90/p99 per store and the
//! differences.
//!
//! `cargo bench -p toolgate-testkit --bench limits_overhead` (without
//! `--bench` on the command line, as under `cargo test --all-targets`, it
//! runs a short smoke version).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark")]

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;
use toolgate_testkit::client::Client;
use toolgate_testkit::harness::{
    TOKEN, TestGateway, UpstreamKind, config_with_policy, start_fixture, start_gateway,
};

const POLICY: &str = r#"{"version": "1", "default": "deny", "tools": {"echo": {"limits": [
  {"counter": "echo_rate", "window": "minute", "max": 100000000, "scope": "grant"}]}}}"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn timed_call(c: &Client) -> Duration {
    let started = Instant::now();
    let r = c.call_tool("echo", json!({"message": "m"})).await;
    let took = started.elapsed();
    assert!(
        r.result()["content"].is_array() && r.result()["isError"] != true,
        "{r:?}"
    );
    took
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let calls = if full { 5000 } else { 200 };
    let redis = toolgate_testdb::redis().await;
    let fixture = start_fixture(UpstreamKind::Stdio).await;
    let base = config_with_policy(UpstreamKind::Stdio, &fixture, "", POLICY);
    let memory = start_gateway(&base).await;
    let shared = start_gateway(&format!(
        "{base}limits:\n  store: {}\n  key_prefix: \"{}\"\n",
        redis.url(),
        redis.key_prefix()
    ))
    .await;
    let client = |gw: &TestGateway| Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    let (mut m, mut r) = (client(&memory), client(&shared));
    m.initialize().await;
    r.initialize().await;
    for _ in 0..200 {
        timed_call(&m).await;
        timed_call(&r).await;
    }
    let (mut tm, mut tr) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
    for _ in 0..calls {
        tm.push(timed_call(&m).await);
        tr.push(timed_call(&r).await);
    }
    tm.sort();
    tr.sort();
    println!(
        "tools/call through the gateway, stdio fixture upstream, {calls} calls each, interleaved"
    );
    for (name, t) in [("memory", &tm), ("redis", &tr)] {
        println!(
            "{name:<7} p50 {:>7.1} µs  p90 {:>7.1} µs  p99 {:>7.1} µs",
            micros(percentile(t, 0.5)),
            micros(percentile(t, 0.9)),
            micros(percentile(t, 0.99)),
        );
    }
    for (label, p) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
        println!(
            "redis adds {label} {:>7.1} µs",
            micros(percentile(&tr, p)) - micros(percentile(&tm, p))
        );
    }
    memory.stop().await;
    shared.stop().await;
}
