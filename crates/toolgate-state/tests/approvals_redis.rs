//! The Redis approval store as a fleet uses it: replicas sharing one
//! server, the server going away and coming back, and its key layout.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{decided, decision, ms, noon, pending, redis_options, redis_store, unavailable};
use tokio::time::Instant;
use toolgate_state::{
    ApprovalState, ApprovalStore, RedisApprovalOptions, RedisApprovals, StateError,
};
use toolgate_testdb::RedisServer;

const MINUTE: Duration = Duration::from_secs(60);
const PATIENT: Duration = Duration::from_secs(5);

/// Two replicas on one server. Waiters re-read only every minute, so a
/// prompt wake-up can only come from the other replica's message.
fn replicas(server: &RedisServer) -> (Arc<RedisApprovals>, Arc<RedisApprovals>) {
    let options = RedisApprovalOptions {
        recheck_every: MINUTE,
        ..redis_options(server)
    };
    let a = redis_store(server, options.clone());
    let b = redis_store(server, options);
    (Arc::new(a), Arc::new(b))
}

#[tokio::test]
async fn a_waiter_on_one_replica_wakes_when_another_decides() {
    let server = toolgate_testdb::redis().await;
    let (a, b) = replicas(&server);
    for round in 0..3u64 {
        let id = a.create(pending("crm", ms(0), MINUTE)).await.unwrap();
        let waiter = tokio::spawn({
            let (a, id) = (a.clone(), id.clone());
            async move { a.wait(&id, noon(), MINUTE).await }
        });
        // Let the waiter subscribe and read the state first.
        tokio::time::sleep(ms(200)).await;
        assert!(!waiter.is_finished());

        let started = Instant::now();
        let d = decision(round % 2 == 0, "alice", ms(10));
        b.decide(&id, d.clone()).await.unwrap();
        let state = tokio::time::timeout(PATIENT, waiter)
            .await
            .unwrap()
            .unwrap();
        let took = started.elapsed();
        assert_eq!(decided(state.unwrap()), d);
        assert!(took < ms(500), "round {round}: woke after {took:?}");
    }
}

#[tokio::test]
async fn twenty_deciders_on_two_replicas_one_wins() {
    let server = toolgate_testdb::redis().await;
    let (a, b) = replicas(&server);
    for _ in 0..5 {
        let id = a.create(pending("crm", ms(0), MINUTE)).await.unwrap();
        let tasks: Vec<_> = (0..20u64)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let id = id.clone();
                let d = decision(i % 3 == 0, &format!("person{i}"), ms(100 + i));
                tokio::spawn(async move { store.decide(&id, d).await })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(approval) => winners.push(approval),
                Err(e) => assert_eq!(e, StateError::AlreadyDecided),
            }
        }
        assert_eq!(winners.len(), 1, "{winners:?}");
        assert_eq!(b.get(&id).await.unwrap().state, winners[0].state);
        assert_eq!(a.get(&id).await.unwrap().state, winners[0].state);
    }
}

#[tokio::test]
async fn a_decision_racing_the_expiry_has_one_outcome() {
    let server = toolgate_testdb::redis().await;
    let (a, b) = replicas(&server);
    for _ in 0..5 {
        let id = a.create(pending("crm", ms(0), ms(150))).await.unwrap();
        let waiter = tokio::spawn({
            let (a, id) = (a.clone(), id.clone());
            async move { a.wait(&id, noon(), MINUTE).await }
        });
        tokio::time::sleep(ms(140)).await;
        let decided = b.decide(&id, decision(true, "alice", ms(140))).await;
        let waited = waiter.await.unwrap().unwrap();
        let stored = b.get(&id).await.unwrap().state;
        assert_eq!(waited, stored, "the waiter acts on what is stored");
        match decided {
            Ok(approval) => assert_eq!(approval.state, stored),
            Err(e) => {
                assert_eq!(e, StateError::Expired);
                assert_eq!(stored, ApprovalState::Expired);
            }
        }
    }
}

#[tokio::test]
async fn a_dead_server_fails_fast_and_a_restarted_one_is_used_again() {
    let mut server = toolgate_testdb::redis().await;
    assert_eq!(RedisApprovalOptions::default().timeout, ms(250));
    // A's waiter below can only be woken through its resubscription.
    let options = RedisApprovalOptions {
        recheck_every: MINUTE,
        ..redis_options(&server)
    };
    let (a, b) = (
        redis_store(&server, options.clone()),
        redis_store(&server, options),
    );
    let id = a.create(pending("crm", ms(0), MINUTE)).await.unwrap();
    // Start A's subscription while the server is up.
    assert!(a.wait(&id, noon(), ms(50)).await.unwrap().is_pending());
    let a = Arc::new(a);
    let across = tokio::spawn({
        let (a, id) = (a.clone(), id.clone());
        async move { a.wait(&id, noon(), MINUTE).await }
    });
    tokio::time::sleep(ms(100)).await;

    server.kill();
    let prompt = Duration::from_secs(1);
    for _ in 0..2 {
        let started = Instant::now();
        let reason = unavailable(a.get(&id).await);
        assert!(
            started.elapsed() < prompt,
            "get took {:?}: {reason}",
            started.elapsed()
        );
        let started = Instant::now();
        unavailable(a.create(pending("crm", ms(0), MINUTE)).await);
        unavailable(b.decide(&id, decision(true, "alice", ms(1))).await);
        unavailable(a.wait(&id, noon(), MINUTE).await);
        unavailable(b.list_pending(None, noon()).await);
        assert!(
            started.elapsed() < prompt * 4,
            "took {:?}",
            started.elapsed()
        );
    }

    server.restart().await;
    // Data is gone (no persistence). A waiter from before the outage looks
    // again once its replica has resubscribed, and learns it at once (or,
    // when its connection has not caught up yet, fails closed).
    let lost = tokio::time::timeout(PATIENT, across)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(lost, Err(StateError::NotFound | StateError::Unavailable(_))),
        "{lost:?}"
    );
    // The stores reconnect by themselves.
    let deadline = Instant::now() + Duration::from_secs(10);
    let id = loop {
        match a.create(pending("crm", ms(0), MINUTE)).await {
            Ok(id) => break id,
            Err(e) if Instant::now() < deadline => {
                assert!(matches!(e, StateError::Unavailable(_)), "{e:?}");
                tokio::time::sleep(ms(50)).await;
            }
            Err(e) => panic!("Redis did not come back: {e}"),
        }
    };
    let waiter = tokio::spawn({
        let id = id.clone();
        async move { a.wait(&id, noon(), MINUTE).await }
    });
    tokio::time::sleep(ms(200)).await;
    let d = decision(true, "alice", ms(5));
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = b.decide(&id, d.clone()).await {
        assert!(Instant::now() < deadline, "B did not come back: {e}");
        tokio::time::sleep(ms(50)).await;
    }
    let state = tokio::time::timeout(PATIENT, waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decided(state.unwrap()), d);
}

#[tokio::test]
async fn errors_never_show_the_password() {
    let port = toolgate_testdb::free_port();
    let url = format!("redis://user:hunter2@127.0.0.1:{port}/0");
    let s = RedisApprovals::new(&url, RedisApprovalOptions::default()).unwrap();
    let started = Instant::now();
    let reason = unavailable(
        s.get(&toolgate_state::ApprovalId::parse(&"a".repeat(32)).unwrap())
            .await,
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!reason.contains("hunter2"), "{reason}");
    assert!(!format!("{s:?}").contains("hunter2"));

    let bad = RedisApprovals::new(
        "redis://user:hunter2@[::1/0",
        RedisApprovalOptions::default(),
    );
    let reason = unavailable(bad.map(|_| ()));
    assert!(!reason.contains("hunter2"), "{reason}");
}

#[tokio::test]
async fn keys_stay_under_the_prefix_and_expire_after_retention() {
    let server = toolgate_testdb::redis().await;
    let options = RedisApprovalOptions {
        retention: Duration::from_secs(3600),
        ..redis_options(&server)
    };
    let s = redis_store(&server, options);
    let id = s.create(pending("crm", ms(0), MINUTE)).await.unwrap();

    let client = redis::Client::open(server.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut c)
        .await
        .unwrap();
    keys.sort();
    let prefix = server.key_prefix();
    assert_eq!(
        keys,
        [format!("{prefix}a:{id}"), format!("{prefix}pending")]
    );
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap();
        let expected = (MINUTE + Duration::from_secs(3600)).as_millis() as i64;
        assert!((expected - 5_000..=expected).contains(&ttl), "{key}: {ttl}");
    }
    // The stored record holds hashes and what the caller chose to keep.
    let stored: String = redis::cmd("HGET")
        .arg(format!("{prefix}a:{id}"))
        .arg("pending")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(stored.contains(&"ab".repeat(32)), "{stored}");
}
