//! The audit log through the real binary: what kill -9 loses in each
//! durability mode, what SIGTERM flushes, and the `toolgate audit` commands
//! against the log a real run wrote.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Gateway, start, terminate};
use serde_json::{Value, json};
use tokio::time::Instant;
use toolgate_audit::{Query, Sink, SqliteSink};

async fn recorded_calls(db: &Path) -> usize {
    let sink = SqliteSink::open(db).await.unwrap();
    let q = Query::default();
    let all = sink.query(&q).await.unwrap();
    all.iter()
        .filter(|r| r.record.method == "tools/call")
        .count()
}

/// Four clients call as fast as they can until the gateway is killed with
/// SIGKILL after `run`; returns when each answer arrived and when the kill
/// was sent.
async fn load_then_kill(gw: &mut Gateway, run: Duration) -> (Vec<Instant>, Instant) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mut c = gw.client();
        c.initialize().await;
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match c.try_call_tool("echo", json!({"message": "m"})).await {
                    Ok(r) if r.status == 200 && r.result()["content"].is_array() => {
                        answered.push(Instant::now());
                    }
                    _ => break,
                }
            }
            answered
        }));
    }
    tokio::time::sleep(run).await;
    let killed = Instant::now();
    gw.child.start_kill().unwrap();
    gw.child.wait().await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut answered = Vec::new();
    for t in tasks {
        answered.extend(t.await.unwrap());
    }
    (answered, killed)
}

#[tokio::test]
async fn kill_9_loses_at_most_the_last_batch_interval_and_nothing_when_strict() {
    // Default durability: what was answered in the last batch interval (and
    // the commit after it) may be lost, nothing older.
    let mut gw = start("kill-default", "  batch_interval: 200ms\n").await;
    let (answered, killed) = load_then_kill(&mut gw, Duration::from_millis(1500)).await;
    let recorded = recorded_calls(&gw.db()).await;
    let lost = answered.len().saturating_sub(recorded);
    let recent = answered
        .iter()
        .filter(|t| killed.duration_since(**t) < Duration::from_millis(600))
        .count();
    println!(
        "default: {} answered, {recorded} recorded, {lost} lost; {recent} answered in the last 600 ms",
        answered.len()
    );
    assert!(answered.len() > 50, "the load ran: {}", answered.len());
    assert!(
        lost <= recent,
        "lost {lost}, more than the {recent} answered in the last batch interval"
    );

    // Strict: an answer means a committed record.
    let mut gw = start(
        "kill-strict",
        "  durability: strict\n  batch_interval: 200ms\n",
    )
    .await;
    let (answered, _) = load_then_kill(&mut gw, Duration::from_millis(1500)).await;
    let recorded = recorded_calls(&gw.db()).await;
    println!("strict: {} answered, {recorded} recorded", answered.len());
    assert!(answered.len() > 20, "the load ran: {}", answered.len());
    assert!(
        recorded >= answered.len(),
        "strict lost {} records",
        answered.len() - recorded
    );
}

#[tokio::test]
async fn sigterm_drains_in_flight_calls_and_flushes_the_log() {
    let mut gw = start("sigterm", "  batch_interval: 30s\n").await;
    let mut c = gw.client();
    c.initialize().await;
    for _ in 0..20 {
        c.call_tool("echo", json!({"message": "m"})).await;
    }
    let slow = tokio::spawn(async move {
        c.call_tool("slow", json!({"steps": 2, "delay_ms": 400}))
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    terminate(&mut gw).await;
    let r = slow.await.unwrap();
    assert!(
        r.result()["content"].is_array(),
        "the in-flight call was answered: {r:?}"
    );
    assert_eq!(
        recorded_calls(&gw.db()).await,
        21,
        "every call is in the log"
    );
}

fn toolgate(args: &[&str], config: &Path) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_toolgate"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn audit_commands_read_verify_and_replay_a_real_log() {
    let mut gw = start("cli", "").await;
    let mut c = gw.client();
    c.initialize().await;
    for i in 0..3 {
        c.call_tool("echo", json!({"message": format!("m{i}")}))
            .await;
    }
    c.call_tool("crash", json!({})).await;
    c.call_tool("add", json!({"a": 1, "b": 2})).await;
    terminate(&mut gw).await;
    let cfg = gw.config();

    // tail: a table, filters, JSON lines.
    let (ok, out, err) = toolgate(&["audit", "tail"], &cfg);
    assert!(ok, "{err}");
    assert!(out.lines().next().unwrap().starts_with("SEQ"), "{out}");
    assert!(out.contains("no crashing"), "{out}");
    let (ok, out, _) = toolgate(&["audit", "tail", "--verdict", "deny", "--json"], &cfg);
    assert!(ok);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["target"], "crash");
    assert_eq!(lines[0]["rule"], "/tools/crash");
    let (_, out, _) = toolgate(
        &["audit", "tail", "--tool", "echo", "-n", "2", "--json"],
        &cfg,
    );
    assert_eq!(out.lines().count(), 2, "{out}");

    // export: every record, as JSON lines and as CSV with a header.
    let (ok, jsonl, _) = toolgate(&["audit", "export"], &cfg);
    assert!(ok);
    let total = jsonl.lines().count();
    assert_eq!(total, 5, "{jsonl}");
    let (ok, csv, _) = toolgate(&["audit", "export", "--format", "csv"], &cfg);
    assert!(ok);
    assert_eq!(csv.lines().count(), total + 1);
    assert!(csv.starts_with("seq,time,request_id,grant,"), "{csv}");

    // replay: a stricter candidate policy turns echo into a denial.
    let candidate = gw.dir.join("candidate.json");
    std::fs::write(
        &candidate,
        r#"{"version": "1", "default": "allow", "tools": {"echo": {"action": "deny", "reason": "no more echo"}}}"#,
    )
    .unwrap();
    let (ok, out, err) = toolgate(
        &[
            "audit",
            "replay",
            "--policy",
            candidate.to_str().unwrap(),
            "--verbose",
        ],
        &cfg,
    );
    assert!(ok, "{err}");
    assert!(out.contains("4 decisions would change"), "{out}");
    let line = |target: &str| {
        out.lines()
            .find(|l| l.contains(&format!(" {target} ")) && !l.trim_start().starts_with("seq"))
            .unwrap_or_else(|| panic!("no summary line for {target}: {out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        line("echo").starts_with("3 tester echo allow -> deny"),
        "{out}"
    );
    assert!(
        line("crash").starts_with("1 tester crash deny -> allow"),
        "{out}"
    );

    // verify: intact, then after an edit through SQL, the record is named.
    let (ok, out, err) = toolgate(&["audit", "verify"], &cfg);
    assert!(ok, "{out}{err}");
    let sink = SqliteSink::open(&gw.db()).await.unwrap();
    sqlx_exec(
        &sink,
        "UPDATE audit_log SET verdict = 'allow' WHERE target = 'crash'",
    )
    .await;
    let crash_seq = lines[0]["seq"].as_i64().unwrap();
    let (ok, out, err) = toolgate(&["audit", "verify"], &cfg);
    assert!(!ok, "verify fails on a tampered log: {out}");
    let said = format!("{out}{err}");
    assert!(said.contains(&format!("record {crash_seq}")), "{said}");
    assert!(said.contains("edited"), "{said}");
}

async fn sqlx_exec(sink: &SqliteSink, sql: &'static str) {
    sqlx::query(sql).execute(sink.pool()).await.unwrap();
}
