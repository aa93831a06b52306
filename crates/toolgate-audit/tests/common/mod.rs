//! Shared by the integration tests: records, and real databases to tamper with.
#![allow(dead_code, unreachable_pub, reason = "each test binary uses a subset")]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use toolgate_audit::{AuditRecord, PostgresSink, Sink, SqliteSink, StoredRecord, rfc3339};

/// 2026-11-24T12:00:00Z.
pub const BASE_SECS: u64 = 1_795_521_600;

/// The i-th test record: fields vary with i so every filter has something
/// to select; times carry nanoseconds that storage truncates.
pub fn record(i: usize) -> AuditRecord {
    let pick = |options: &[&str]| options[i % options.len()].to_string();
    let arguments = json!({
        "name": "Ådä \u{1F600} \"quoted\"",
        "n": i,
        "ratio": 1.5,
        "big": 1e21,
        // Numbers jsonb would respell (1000000000000000, 0): kept as written.
        "float_int": 1e15,
        "neg_zero": -0.0,
        "nested": {"b": [1, 2, {"z": true}], "a": null},
    });
    AuditRecord {
        time: UNIX_EPOCH + Duration::new(BASE_SECS + i as u64, 123_456_789),
        request_id: format!("boot-{i}"),
        grant: pick(&["ci", "ops"]),
        principal: i.is_multiple_of(4).then(|| "user@example.com".to_string()),
        session: Some(format!("s{}", i % 3)),
        server: pick(&["crm", "crm", "files"]),
        method: "tools/call".into(),
        target: (i % 5 != 4).then(|| pick(&["createLead", "readFile", "deleteLead"])),
        verdict: pick(&["allow", "deny", "rate_limited"]),
        rule: Some(format!("/tools/t{i}")),
        policy_version: Some("v1".into()),
        reason: (i % 2 == 1).then(|| "it's denied".to_string()),
        upstream: "ok".into(),
        rpc_error_code: (i % 3 == 2).then_some(-32_000),
        gateway_micros: 100 + i as u64,
        upstream_micros: 2000,
        argument_keys: vec!["name".into(), "n".into()],
        arguments_sha256: Some(toolgate_audit::arguments_sha256(&arguments)),
        arguments: Some(arguments),
    }
}

pub fn records(range: std::ops::Range<usize>) -> Vec<AuditRecord> {
    range.map(record).collect()
}

pub fn time_of(i: usize) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(BASE_SECS + i as u64)
}

/// A sink on a real database, with a side door for raw SQL.
pub struct Db {
    pub sink: Arc<dyn Sink>,
    pub url: String,
    pool: Pool,
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub async fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let sink = SqliteSink::open(&path).await.unwrap();
    let pool = Pool::Sqlite(sink.pool().clone());
    let url = format!("sqlite://{}", path.display());
    Db {
        sink: Arc::new(sink),
        url,
        pool,
        _guard: Box::new(dir),
    }
}

pub async fn postgres() -> Db {
    let server = toolgate_testdb::postgres().await;
    let sink = PostgresSink::connect(server.url()).await.unwrap();
    let pool = Pool::Postgres(sink.pool().clone());
    let url = server.url().to_string();
    Db {
        sink: Arc::new(sink),
        url,
        pool,
        _guard: Box::new(server),
    }
}

impl Db {
    /// Runs SQL behind the sink's back; the rows it touched.
    pub async fn exec(&self, sql: &str) -> u64 {
        let q = AssertSqlSafe(sql.to_string());
        match &self.pool {
            Pool::Sqlite(p) => sqlx::query(q).execute(p).await.unwrap().rows_affected(),
            Pool::Postgres(p) => sqlx::query(q).execute(p).await.unwrap().rows_affected(),
        }
    }

    /// Empties the log and resets the head, for the next scenario.
    pub async fn reset(&self) {
        self.exec("DELETE FROM audit_log").await;
        let genesis = toolgate_audit::GENESIS_HASH;
        self.exec(&format!(
            "UPDATE audit_chain_head SET seq = 0, hash = '{genesis}'"
        ))
        .await;
    }

    pub async fn all(&self) -> Vec<StoredRecord> {
        self.sink
            .query(&toolgate_audit::Query::default())
            .await
            .unwrap()
    }
}

/// An INSERT of `r` with literal values, valid SQL for both SQLite and
/// PostgreSQL: how a forger with database access adds a row.
pub fn insert_literal(r: &StoredRecord) -> String {
    let text = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let opt = |s: &Option<String>| s.as_deref().map_or("NULL".to_string(), text);
    let rec = &r.record;
    let values = [
        r.seq.to_string(),
        text(&rfc3339::format(rec.time)),
        text(&rec.request_id),
        text(&rec.grant),
        opt(&rec.principal),
        opt(&rec.session),
        text(&rec.server),
        text(&rec.method),
        opt(&rec.target),
        text(&rec.verdict),
        opt(&rec.rule),
        opt(&rec.policy_version),
        opt(&rec.reason),
        text(&rec.upstream),
        rec.rpc_error_code
            .map_or("NULL".to_string(), |c| c.to_string()),
        rec.gateway_micros.to_string(),
        rec.upstream_micros.to_string(),
        text(&toolgate_audit::canonical_json(&json!(rec.argument_keys))),
        opt(&rec.arguments_sha256),
        opt(&rec.arguments.as_ref().map(toolgate_audit::canonical_json)),
        text(&r.prev_hash),
        text(&r.hash),
    ];
    format!(
        "INSERT INTO audit_log (seq, time, request_id, grant_name, principal, session_id, server, \
         method, target, verdict, rule, policy_version, reason, upstream, rpc_error_code, \
         gateway_micros, upstream_micros, argument_keys, arguments_sha256, arguments, prev_hash, \
         hash) VALUES ({})",
        values.join(", ")
    )
}
