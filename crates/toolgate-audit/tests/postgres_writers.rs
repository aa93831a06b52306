//! A fleet on one PostgreSQL table: writers in separate pools (as separate
//! gateways would be) extend one linear chain.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::collections::HashSet;

use common::record;
use toolgate_audit::{AuditWriter, PostgresSink, Query, Sink, VerifyReport, WriterConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_writers_in_two_pools_make_one_linear_chain() {
    let server = toolgate_testdb::postgres().await;
    let (a, b) = tokio::join!(
        PostgresSink::connect(server.url()),
        PostgresSink::connect(server.url())
    );
    let cfg = || WriterConfig {
        queue: 64,
        ..WriterConfig::default()
    };
    let writers = [
        AuditWriter::start(Box::new(a.unwrap()), None, cfg()),
        AuditWriter::start(Box::new(b.unwrap()), None, cfg()),
    ];
    let mut tasks = Vec::new();
    for (w, writer) in writers.iter().enumerate() {
        for t in 0..4 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..500 {
                    let n = w * 2000 + t * 500 + i;
                    // Some callers in strict mode, as a mixed fleet would be.
                    if i.is_multiple_of(50) {
                        writer.submit_durable(record(n)).await.unwrap();
                    } else {
                        writer.submit(record(n)).await.unwrap();
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    for w in &writers {
        w.shutdown().await;
    }
    assert_eq!(
        writers[0].stats().committed + writers[1].stats().committed,
        4000
    );

    let reader = PostgresSink::connect(server.url()).await.unwrap();
    assert_eq!(
        reader.verify().await.unwrap(),
        VerifyReport {
            records: 4000,
            first_problem: None
        }
    );
    let all = reader.query(&Query::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=4000).collect::<Vec<_>>()
    );
    let ids: HashSet<String> = all.into_iter().map(|r| r.record.request_id).collect();
    assert_eq!(ids.len(), 4000);
}

#[tokio::test]
async fn durable_submits_are_queryable_on_return() {
    let db = common::postgres().await;
    let cfg = WriterConfig {
        batch_interval: std::time::Duration::from_secs(3600),
        ..WriterConfig::default()
    };
    let writer = AuditWriter::start(Box::new(db.sink.clone()), None, cfg);
    writer.submit(record(0)).await.unwrap();
    assert!(db.all().await.is_empty());
    for i in 1..20 {
        writer.submit_durable(record(i)).await.unwrap();
        let newest = Query {
            newest_first: true,
            limit: Some(1),
            ..Query::default()
        };
        let last = db.sink.query(&newest).await.unwrap();
        assert_eq!(last[0].record.request_id, format!("boot-{i}"));
    }
    writer.shutdown().await;
    assert_eq!(
        db.sink.verify().await.unwrap(),
        VerifyReport {
            records: 20,
            first_problem: None
        }
    );
}
