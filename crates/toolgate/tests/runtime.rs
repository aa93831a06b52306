//! The scheduler the binary picks: the current-thread one for a single
//! worker (one CPU, or `TOKIO_WORKER_THREADS=1`), the multi-thread one
//! otherwise; and a gateway on the single-threaded one does the whole job:
//! policy, audit, graceful shutdown.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use common::{start_with_env, terminate};
use serde_json::json;
use toolgate_audit::{Query, Sink, SqliteSink};

#[tokio::test]
async fn one_worker_runs_the_current_thread_scheduler_through_policy_audit_and_shutdown() {
    let mut gw = start_with_env("rt-one", &[("TOKIO_WORKER_THREADS", "1")]).await;
    let mut c = gw.client();
    c.initialize().await;
    let allowed = c.call_tool("echo", json!({"message": "hello"})).await;
    assert_eq!(
        allowed.result()["content"][0]["text"],
        "Echo: hello",
        "{allowed:?}"
    );
    let denied = c.call_tool("crash", json!({})).await;
    let denial = serde_json::to_string(&denied.result()).unwrap();
    assert!(denial.contains("no crashing"), "{denial}");
    // Many calls at once on the one thread.
    let calls = (0..16).map(|i| c.call_tool("echo", json!({"message": format!("m{i}")})));
    for reply in futures_util::future::join_all(calls).await {
        assert!(reply.result()["content"].is_array(), "{reply:?}");
    }
    terminate(&mut gw).await;

    let log = std::fs::read_to_string(gw.dir.join("gateway.log")).unwrap();
    assert!(log.contains("current-thread scheduler"), "{log}");
    let sink = SqliteSink::open(&gw.db()).await.unwrap();
    let records = sink.query(&Query::default()).await.unwrap();
    let calls: Vec<_> = records
        .iter()
        .filter(|r| r.record.method == "tools/call")
        .map(|r| r.record.verdict.as_str())
        .collect();
    assert_eq!(calls.len(), 18, "{calls:?}");
    assert_eq!(
        calls.iter().filter(|v| **v == "deny").count(),
        1,
        "{calls:?}"
    );
}

#[tokio::test]
async fn more_workers_run_the_multi_thread_scheduler() {
    let mut gw = start_with_env("rt-two", &[("TOKIO_WORKER_THREADS", "2")]).await;
    terminate(&mut gw).await;
    let log = std::fs::read_to_string(gw.dir.join("gateway.log")).unwrap();
    assert!(log.contains("multi-thread scheduler, 2 workers"), "{log}");
}

#[test]
fn a_worker_count_that_is_not_a_positive_integer_is_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_toolgate"))
        .args(["config", "check", "--config", "/nonexistent/toolgate.yaml"])
        .env("TOKIO_WORKER_THREADS", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TOKIO_WORKER_THREADS must be a positive integer"),
        "{err}"
    );
}
