//! The audit phase through the gateway: what a record holds, what it never
//! holds, strict durability, and both SQL sinks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use toolgate_audit::{
    Query, Sink, SinkConfig, SqliteSink, StoredRecord, arguments_sha256, open_sink,
};
use toolgate_testkit::client::Client;
use toolgate_testkit::harness::{
    OTHER_TOKEN, TOKEN, TestGateway, UpstreamKind, config_with_policy, start_fixture, start_gateway,
};

const POLICY: &str = r#"{
  "version": "1",
  "default": "deny",
  "hide": ["stats"],
  "tools": {
    "echo": {"limits": [{"counter": "echo_rate", "window": "minute", "max": 2, "scope": "grant"}]},
    "test_error_handling": {},
    "slow": {},
    "add": {"deny_if": [{"path": "args.a", "op": "gt", "value": 100}], "on_deny": "a is too big"}
  }
}"#;

fn temp_db(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "toolgate-audit-{name}-{:x}.db",
        rand::random::<u64>()
    ))
}

async fn gateway(audit: &str) -> TestGateway {
    let fixture = start_fixture(UpstreamKind::Stdio).await;
    let cfg = config_with_policy(UpstreamKind::Stdio, &fixture, "", POLICY);
    start_gateway(&format!("{cfg}audit:\n{audit}")).await
}

/// One of each decision: allowed, limited, denied by a condition, denied by
/// default, a hidden-tool probe, a tool error, from two grants.
async fn exercise(gw: &TestGateway) {
    let mut c = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    c.initialize().await;
    let args = json!({"message": "the secret plan", "password": "hunter2", "nested": {"api_token": "t0k"}});
    for _ in 0..3 {
        c.call_tool("echo", args.clone()).await;
    }
    let r = c.call_tool("add", json!({"a": 500, "b": 1})).await;
    assert_eq!(r.result()["isError"], true, "{r:?}");
    c.call_tool("crash", json!({})).await;
    c.call_tool("stats", json!({})).await;
    c.call_tool("test_error_handling", json!({})).await;
    let mut other = Client::new(&gw.url("fx"), Some(OTHER_TOKEN), "2025-06-18");
    other.initialize().await;
    other.call_tool("echo", json!({"message": "hi"})).await;
}

fn calls(all: &[StoredRecord]) -> Vec<&StoredRecord> {
    all.iter()
        .filter(|r| r.record.method == "tools/call")
        .collect()
}

#[tokio::test]
async fn every_decision_is_recorded_with_keys_and_hash_but_no_values() {
    let db = temp_db("values");
    let gw = gateway(&format!("  sink: \"sqlite://{}\"\n", db.display())).await;
    exercise(&gw).await;
    gw.stop().await;

    let sink = SqliteSink::open(&db).await.unwrap();
    let all = sink.query(&Query::default()).await.unwrap();
    let calls = calls(&all);
    let summary: Vec<(&str, &str, &str, &str)> = calls
        .iter()
        .map(|s| {
            let r = &s.record;
            (
                r.grant.as_str(),
                r.target.as_deref().unwrap(),
                r.verdict.as_str(),
                r.upstream.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("tester", "echo", "allow", "ok"),
            ("tester", "echo", "allow", "ok"),
            ("tester", "echo", "rate_limited", "not_forwarded"),
            ("tester", "add", "deny", "not_forwarded"),
            ("tester", "crash", "deny", "not_forwarded"),
            ("tester", "stats", "hide", "not_forwarded"),
            ("tester", "test_error_handling", "allow", "tool_error"),
            ("other", "echo", "allow", "ok"),
        ]
    );
    let rules: Vec<Option<&str>> = calls.iter().map(|s| s.record.rule.as_deref()).collect();
    assert_eq!(rules[2], Some("/tools/echo/limits/echo_rate"));
    assert!(
        rules[3].unwrap().starts_with("/tools/add/deny_if"),
        "{rules:?}"
    );
    assert_eq!(calls[3].record.reason.as_deref(), Some("a is too big"));

    let echo = &calls[0].record;
    assert!(
        echo.policy_version
            .as_deref()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        echo.session.is_some(),
        "a sessionful client's session is recorded"
    );
    assert_eq!(echo.server, "fx");
    assert_eq!(
        echo.argument_keys,
        ["message", "password", "nested"],
        "in the order sent"
    );
    let sent = json!({"message": "the secret plan", "password": "hunter2", "nested": {"api_token": "t0k"}});
    assert_eq!(
        echo.arguments_sha256.as_deref(),
        Some(arguments_sha256(&sent).as_str())
    );
    assert_eq!(
        echo.arguments, None,
        "values are not kept unless capture_args is on"
    );
    assert!(
        echo.upstream_micros > 0 && echo.gateway_micros > 0,
        "{echo:?}"
    );
    let ids: std::collections::HashSet<&str> =
        all.iter().map(|s| s.record.request_id.as_str()).collect();
    assert_eq!(ids.len(), all.len(), "request ids are unique");

    let report = sink.verify().await.unwrap();
    assert_eq!(report.first_problem, None);
    assert_eq!(report.records, all.len() as u64);
    drop(sink);
    // Not in the table, not in the WAL, not anywhere in the files.
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(bytes) = std::fs::read(&path) {
            let text = String::from_utf8_lossy(&bytes);
            for secret in ["the secret plan", "hunter2", "t0k", TOKEN, OTHER_TOKEN] {
                assert!(
                    !text.contains(secret),
                    "{secret:?} found in {}",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test]
async fn captured_arguments_are_redacted_by_key() {
    let db = temp_db("capture");
    let gw = gateway(&format!(
        "  sink: \"sqlite://{}\"\n  capture_args: true\n",
        db.display()
    ))
    .await;
    exercise(&gw).await;
    gw.stop().await;
    let sink = SqliteSink::open(&db).await.unwrap();
    let all = sink.query(&Query::default()).await.unwrap();
    let echo = &calls(&all)[0].record;
    assert_eq!(
        echo.arguments,
        Some(
            json!({"message": "the secret plan", "password": "[REDACTED]", "nested": {"api_token": "[REDACTED]"}})
        )
    );
    // The hash is of what was sent, not of the redacted copy.
    let sent = json!({"message": "the secret plan", "password": "hunter2", "nested": {"api_token": "t0k"}});
    assert_eq!(
        echo.arguments_sha256.as_deref(),
        Some(arguments_sha256(&sent).as_str())
    );
}

/// Reads the log from another connection while the gateway runs.
async fn committed_calls(db: &std::path::Path) -> usize {
    let sink = SqliteSink::open(db).await.unwrap();
    let all = sink.query(&Query::default()).await.unwrap();
    calls(&all).len()
}

#[tokio::test]
async fn strict_durability_answers_after_the_record_is_committed() {
    // A long batch interval: in the default mode the record is still queued
    // when the answer arrives; in strict mode it is already on disk.
    for (durability, committed_on_answer) in [("default", 0), ("strict", 1)] {
        let db = temp_db(durability);
        let gw = gateway(&format!(
            "  sink: \"sqlite://{}\"\n  durability: {durability}\n  batch_interval: 10s\n",
            db.display()
        ))
        .await;
        let mut c = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
        c.initialize().await;
        let r = c.call_tool("echo", json!({"message": "m"})).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            committed_calls(&db).await,
            committed_on_answer,
            "{durability}"
        );
        gw.stop().await;
        assert_eq!(
            committed_calls(&db).await,
            1,
            "{durability}: flushed on shutdown"
        );
    }
}

#[tokio::test]
async fn postgres_sink_records_and_verifies() {
    let pg = toolgate_testdb::postgres().await;
    let gw = gateway(&format!("  sink: {:?}\n", pg.url())).await;
    exercise(&gw).await;
    gw.stop().await;

    let sink = open_sink(&SinkConfig::parse(pg.url(), std::path::Path::new("/")).unwrap())
        .await
        .unwrap();
    let all = sink.query(&Query::default()).await.unwrap();
    let verdicts: Vec<&str> = calls(&all)
        .iter()
        .map(|s| s.record.verdict.as_str())
        .collect();
    assert_eq!(
        verdicts,
        [
            "allow",
            "allow",
            "rate_limited",
            "deny",
            "deny",
            "hide",
            "allow",
            "allow"
        ]
    );
    assert_eq!(sink.verify().await.unwrap().first_problem, None);
    assert_eq!(sink.kind(), "postgres");
}

#[tokio::test]
async fn shutdown_waits_for_in_flight_calls_and_records_them() {
    let db = temp_db("drain");
    let gw = gateway(&format!(
        "  sink: \"sqlite://{}\"\n  batch_interval: 10s\n",
        db.display()
    ))
    .await;
    let mut c = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    c.initialize().await;
    let call = tokio::spawn(async move {
        c.call_tool("slow", json!({"steps": 3, "delay_ms": 300}))
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.stop().await;
    let r = call.await.unwrap();
    assert_eq!(r.status, 200);
    assert!(
        r.result()["content"].is_array(),
        "the in-flight call finished: {r:?}"
    );
    let sink = SqliteSink::open(&db).await.unwrap();
    let all = sink.query(&Query::default()).await.unwrap();
    let slow = calls(&all);
    assert_eq!(slow.len(), 1);
    assert_eq!(
        (
            slow[0].record.verdict.as_str(),
            slow[0].record.upstream.as_str()
        ),
        ("allow", "ok")
    );
    assert!(
        slow[0].record.upstream_micros >= 800_000,
        "{:?}",
        slow[0].record
    );
}

/// Sends a JSON-only `tools/call` on `c`'s session over a socket of its own,
/// then hangs up before the answer.
async fn call_and_hang_up(gw: &TestGateway, c: &Client, tool: &str, args: serde_json::Value) {
    use tokio::io::AsyncWriteExt;
    let body = c
        .request_body(
            c.next_id(),
            "tools/call",
            json!({"name": tool, "arguments": args}),
        )
        .to_string();
    let addr = gw.base.trim_start_matches("http://");
    let head = format!(
        "POST /mcp/fx HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\naccept: application/json\r\n\
         mcp-session-id: {}\r\nmcp-protocol-version: 2025-11-25\r\n\
         content-length: {}\r\n\r\n",
        c.session.as_deref().unwrap(),
        body.len()
    );
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(body.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    drop(socket);
}

/// The record of the one `slow` call, once it is committed (10 s at most).
async fn recorded_slow_call(db: &std::path::Path) -> toolgate_audit::AuditRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let sink = SqliteSink::open(db).await.unwrap();
        let all = sink.query(&Query::default()).await.unwrap();
        let slow: Vec<_> = calls(&all)
            .into_iter()
            .filter(|r| r.record.target.as_deref() == Some("slow"))
            .collect();
        assert!(slow.len() <= 1, "{slow:?}");
        if let Some(s) = slow.first() {
            return s.record.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the call was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_call_whose_client_hangs_up_runs_to_its_end_and_is_recorded() {
    // A sessionful client's dropped connection is not a cancellation (the
    // spec: it may resume; the gateway answers JSON calls in the handler's
    // own task, which the hang-up drops): the call goes on upstream, and
    // its record says how it really ended.
    for kind in [UpstreamKind::Stdio, UpstreamKind::HttpSessionful] {
        let db = temp_db("hang-up");
        let fixture = start_fixture(kind).await;
        let policy = POLICY.replace("\"slow\": {},", "\"slow\": {}, \"cancelled_requests\": {},");
        let cfg = config_with_policy(kind, &fixture, "", &policy);
        let gw = start_gateway(&format!(
            "{cfg}audit:\n  sink: \"sqlite://{}\"\n",
            db.display()
        ))
        .await;
        let mut c = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
        c.initialize().await;
        call_and_hang_up(&gw, &c, "slow", json!({"steps": 4, "delay_ms": 100})).await;
        // The call runs about 400 ms upstream; its record shows when it
        // ended (committed within the batch interval after that).
        let slow = recorded_slow_call(&db).await;
        assert_eq!(
            (slow.verdict.as_str(), slow.upstream.as_str()),
            ("allow", "ok"),
            "{kind:?}"
        );
        let cancelled = c.call_tool("cancelled_requests", json!({})).await;
        assert_eq!(
            cancelled.result()["content"][0]["text"],
            "[]",
            "{kind:?}: the upstream was told to stop"
        );
        gw.stop().await;
    }
}
