//! Both SQL sinks against real databases: appends and queries, the chain
//! under real tampering through SQL, and migrations.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{Db, insert_literal, record, records, time_of};
use toolgate_audit::{
    ChainProblem, GENESIS_HASH, Query, Sink, SqliteSink, StoredRecord, VerifyReport, open_sink,
    record_hash,
};

async fn appends_and_queries(db: &Db) {
    let mut stored = db.sink.append(records(0..8)).await.unwrap();
    stored.extend(db.sink.append(records(8..20)).await.unwrap());
    assert!(db.sink.append(Vec::new()).await.unwrap().is_empty());

    let seqs: Vec<i64> = stored.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
    assert_eq!(stored[0].prev_hash, GENESIS_HASH);
    assert_eq!(
        stored[8].prev_hash, stored[7].hash,
        "the second append continues the chain"
    );
    assert_eq!(stored[3].record, record(3).normalized());
    // Read back exactly what was hashed: times, JSON numbers, unicode.
    assert_eq!(db.all().await, stored);
    assert_eq!(
        db.sink.verify().await.unwrap(),
        VerifyReport {
            records: 20,
            first_problem: None
        }
    );

    for (query, expected) in queries() {
        let found = db.sink.query(&query).await.unwrap();
        let found: Vec<i64> = found.iter().map(|r| r.seq).collect();
        assert_eq!(found, expected, "{query:?}");
    }
}

/// One append larger than an INSERT statement's 500 rows and not a whole
/// number of the writer's 16-record slices: every record stored once, in
/// order, chained, and the next append continues after it.
async fn appends_a_batch_of_several_statements(db: &Db) {
    let stored = db.sink.append(records(0..1_203)).await.unwrap();
    let next = db.sink.append(records(1_203..1_205)).await.unwrap();
    let seqs: Vec<i64> = stored.iter().chain(&next).map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=1_205).collect::<Vec<_>>());
    assert_eq!(stored[1_000].record, record(1_000).normalized());
    assert_eq!(next[0].prev_hash, stored[1_202].hash);
    let all = db.all().await;
    assert_eq!(all.len(), 1_205);
    assert_eq!(all[..1_203], stored[..]);
    assert_eq!(
        db.sink.verify().await.unwrap(),
        VerifyReport {
            records: 1_205,
            first_problem: None
        }
    );
}

/// Queries over records 0..20 (seq = i + 1), and the seqs they select:
/// grant alternates ci/ops, verdict cycles allow/deny/rate_limited, server
/// is files when i % 3 == 2, target cycles createLead/readFile/deleteLead
/// and is absent when i % 5 == 4; record i's time is 12:00:i.123456.
fn queries() -> Vec<(Query, Vec<i64>)> {
    let q = |f: fn(&mut Query)| {
        let mut q = Query::default();
        f(&mut q);
        q
    };
    vec![
        (
            q(|q| q.grant = Some("ops".into())),
            (2..=20).step_by(2).collect(),
        ),
        (
            q(|q| q.target = Some("createLead".into())),
            vec![1, 4, 7, 13, 16, 19],
        ),
        (
            q(|q| q.verdict = Some("deny".into())),
            vec![2, 5, 8, 11, 14, 17, 20],
        ),
        (
            q(|q| q.server = Some("files".into())),
            vec![3, 6, 9, 12, 15, 18],
        ),
        // 12:00:05 includes record 5 (12:00:05.123456), not record 4.
        (q(|q| q.since = Some(time_of(5))), (6..=20).collect()),
        (q(|q| q.after_seq = Some(17)), vec![18, 19, 20]),
        (q(|q| q.limit = Some(3)), vec![1, 2, 3]),
        (q(|q| q.newest_first = true), (1..=20).rev().collect()),
        (
            q(|q| {
                q.newest_first = true;
                q.limit = Some(2);
                q.verdict = Some("allow".into());
                q.grant = Some("ci".into());
            }),
            vec![19, 13],
        ),
        (q(|q| q.target = Some("nothing".into())), vec![]),
    ]
}

/// Tampering done through SQL on a fresh chain of records 0..20, and the
/// first problem verify must report. `stored` is that chain (it is the same
/// every time: the records and their times are fixed).
fn tamperings(stored: &[StoredRecord]) -> Vec<(&'static str, Vec<String>, Option<ChainProblem>)> {
    // A forger replaces record 7 with one of their own, correctly chained
    // to 6 and hashed: record 8 no longer follows.
    let mut forged = stored[6].clone();
    forged.record.grant = "forger".into();
    forged.hash = record_hash(&forged.prev_hash, 7, &forged.record);
    // An edit of record 5 with its hash recomputed.
    let mut edited = stored[4].record.clone();
    edited.grant = "admin".into();
    let rehash = record_hash(&stored[4].prev_hash, 5, &edited);
    // A forged record appended after the head.
    let mut extra = stored[19].clone();
    (extra.seq, extra.prev_hash) = (21, stored[19].hash.clone());
    extra.hash = record_hash(&extra.prev_hash, 21, &extra.record);
    let sql = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        (
            "edit",
            sql(&["UPDATE audit_log SET verdict = 'allow' WHERE seq = 5"]),
            Some(ChainProblem::Edited { seq: 5 }),
        ),
        (
            "delete",
            sql(&["DELETE FROM audit_log WHERE seq = 7"]),
            Some(ChainProblem::Missing {
                after_seq: 6,
                next_seq: 8,
            }),
        ),
        (
            "replace with a forged record",
            vec![
                "DELETE FROM audit_log WHERE seq = 7".into(),
                insert_literal(&forged),
            ],
            Some(ChainProblem::Broken {
                seq: 8,
                expected_prev_seq: Some(7),
            }),
        ),
        (
            "edit and rehash",
            vec![format!(
                "UPDATE audit_log SET grant_name = 'admin', hash = '{rehash}' WHERE seq = 5"
            )],
            Some(ChainProblem::Broken {
                seq: 6,
                expected_prev_seq: Some(5),
            }),
        ),
        (
            "truncate the tail",
            sql(&["DELETE FROM audit_log WHERE seq >= 19"]),
            Some(ChainProblem::Missing {
                after_seq: 18,
                next_seq: 21,
            }),
        ),
        (
            "append after the head",
            vec![insert_literal(&extra)],
            Some(ChainProblem::Broken {
                seq: 21,
                expected_prev_seq: Some(20),
            }),
        ),
        (
            "delete the first",
            sql(&["DELETE FROM audit_log WHERE seq = 1"]),
            Some(ChainProblem::Missing {
                after_seq: 0,
                next_seq: 2,
            }),
        ),
        // What verify cannot see: a rewrite consistent with the head (see
        // `VerifyReport`). Here, the last record deleted and the head moved.
        (
            "truncate and move the head",
            vec![
                "DELETE FROM audit_log WHERE seq = 20".into(),
                format!(
                    "UPDATE audit_chain_head SET seq = 19, hash = '{}'",
                    stored[18].hash
                ),
            ],
            None,
        ),
    ]
}

async fn detects_tampering(db: &Db) {
    async fn fresh(db: &Db) -> Vec<StoredRecord> {
        db.reset().await;
        let stored = db.sink.append(records(0..20)).await.unwrap();
        assert_eq!(db.sink.verify().await.unwrap().first_problem, None);
        stored
    }
    let stored = fresh(db).await;
    for (name, sqls, expected) in tamperings(&stored) {
        assert_eq!(fresh(db).await, stored);
        for sql in &sqls {
            assert!(db.exec(sql).await > 0, "{name}: {sql} changed nothing");
        }
        assert_eq!(
            db.sink.verify().await.unwrap().first_problem,
            expected,
            "{name}"
        );
    }

    // Appends go on from the head, not from whatever the table holds.
    fresh(db).await;
    db.exec("DELETE FROM audit_log WHERE seq = 20").await;
    let next = db.sink.append(records(20..21)).await.unwrap();
    assert_eq!(next[0].seq, 21);
    let problem = db.sink.verify().await.unwrap().first_problem;
    assert_eq!(
        problem,
        Some(ChainProblem::Missing {
            after_seq: 19,
            next_seq: 21
        })
    );
}

#[tokio::test]
async fn sqlite_appends_and_queries() {
    appends_and_queries(&common::sqlite().await).await;
}

#[tokio::test]
async fn postgres_appends_and_queries() {
    appends_and_queries(&common::postgres().await).await;
}

#[tokio::test]
async fn sqlite_appends_a_batch_of_several_statements() {
    appends_a_batch_of_several_statements(&common::sqlite().await).await;
}

#[tokio::test]
async fn postgres_appends_a_batch_of_several_statements() {
    appends_a_batch_of_several_statements(&common::postgres().await).await;
}

#[tokio::test]
async fn sqlite_detects_tampering() {
    let db = common::sqlite().await;
    detects_tampering(&db).await;
    // A column no writer could produce is an edit, not an error.
    db.reset().await;
    db.sink.append(records(0..5)).await.unwrap();
    db.exec("UPDATE audit_log SET time = 'yesterday' WHERE seq = 3")
        .await;
    assert_eq!(
        db.sink.verify().await.unwrap().first_problem,
        Some(ChainProblem::Edited { seq: 3 })
    );
    db.exec("UPDATE audit_log SET time = '2026-11-24T12:00:03.123456Z', gateway_micros = 'x' WHERE seq = 3").await;
    assert_eq!(
        db.sink.verify().await.unwrap().first_problem,
        Some(ChainProblem::Edited { seq: 3 })
    );
}

#[tokio::test]
async fn postgres_detects_tampering() {
    let db = common::postgres().await;
    detects_tampering(&db).await;
    db.reset().await;
    db.sink.append(records(0..5)).await.unwrap();
    // The hash covers the content, not its spelling...
    db.exec(r#"UPDATE audit_log SET argument_keys = '[ "name", "n" ]' WHERE seq = 2"#)
        .await;
    assert_eq!(db.sink.verify().await.unwrap().first_problem, None);
    // ...and a microsecond is content.
    db.exec("UPDATE audit_log SET time = time + interval '1 microsecond' WHERE seq = 2")
        .await;
    assert_eq!(
        db.sink.verify().await.unwrap().first_problem,
        Some(ChainProblem::Edited { seq: 2 })
    );
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode_with_idempotent_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toolgate.db");
    let cfg = toolgate_audit::SinkConfig::parse("sqlite://toolgate.db", dir.path()).unwrap();
    assert!(!path.exists());
    let first = open_sink(&cfg).await.unwrap();
    assert_eq!(first.kind(), "sqlite");
    assert!(path.exists(), "created on first run");
    first.append(records(0..3)).await.unwrap();

    let again = SqliteSink::open(&path).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(again.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    // The appending connection's own settings: sqlite_writer.rs's tests.
    let migrations: i64 = sqlx::query_scalar("SELECT count(*) FROM toolgate_audit_migrations")
        .fetch_one(again.pool())
        .await
        .unwrap();
    assert_eq!(migrations, 2, "0001 and 0002");
    again.append(records(3..5)).await.unwrap();
    assert_eq!(
        first.verify().await.unwrap(),
        VerifyReport {
            records: 5,
            first_problem: None
        }
    );
}

#[tokio::test]
async fn postgres_migrations_are_idempotent() {
    let db = common::postgres().await;
    db.sink.append(records(0..3)).await.unwrap();
    let cfg = toolgate_audit::SinkConfig::parse(&db.url, std::path::Path::new("/")).unwrap();
    let (a, b) = tokio::join!(open_sink(&cfg), open_sink(&cfg));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.kind(), "postgres");
    b.append(records(3..5)).await.unwrap();
    assert_eq!(
        a.verify().await.unwrap(),
        VerifyReport {
            records: 5,
            first_problem: None
        }
    );
    assert_eq!(db.exec("SELECT 1 FROM toolgate_audit_migrations").await, 1);
}

#[tokio::test]
async fn none_sink_chains_without_keeping() {
    let sink = open_sink(&toolgate_audit::SinkConfig::None).await.unwrap();
    assert_eq!(sink.kind(), "none");
    let stored = sink.append(records(0..3)).await.unwrap();
    assert_eq!(stored[2].seq, 3);
    assert!(sink.query(&Query::default()).await.unwrap().is_empty());
    assert_eq!(sink.verify().await.unwrap().first_problem, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sqlite_pools_on_one_file_make_one_chain() {
    let db = common::sqlite().await;
    let path = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://"));
    let other: std::sync::Arc<dyn Sink> =
        std::sync::Arc::new(SqliteSink::open(&path).await.unwrap());
    let writers = [(db.sink.clone(), 0), (other, 50)].map(|(sink, from)| {
        tokio::spawn(async move {
            for i in from..from + 50 {
                sink.append(records(i * 4..i * 4 + 4)).await.unwrap();
            }
        })
    });
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(
        db.sink.verify().await.unwrap(),
        VerifyReport {
            records: 400,
            first_problem: None
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_opening_a_new_sqlite_file_at_once_both_migrate_it() {
    // Separate pools stand for separate processes: no lock is shared but
    // the file's.
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("audit-{round}.db"));
        let opens = (0..4).map(|_| {
            let path = path.clone();
            tokio::spawn(async move { SqliteSink::open(&path).await })
        });
        for open in opens.collect::<Vec<_>>() {
            let sink = open
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(sink.verify().await.unwrap().first_problem, None);
        }
    }
}
