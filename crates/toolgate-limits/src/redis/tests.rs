//! The Redis store against a real, throwaway redis-server.
//!
//! Most tests fix the script's clock (`reserve_at`) to mirror the memory
//! store's tests exactly; the rest go through [`CounterStore`] on Redis's
//! own clock. Polling loops wait on a real server process (restart, a busy
//! script), which no paused tokio clock can stand in for.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ::redis::aio::MultiplexedConnection;
use toolgate_testdb::RedisServer;

use super::*;
use crate::millis;

const MINUTE: Duration = Duration::from_secs(60);
/// Generous, for tests that are not about timeouts: they share two cores.
const PATIENT: Duration = Duration::from_secs(5);

/// 2026-11-29T12:00:00Z: a minute and hour boundary.
fn noon() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_953_600)
}

fn charge(key: &str, max: u64, amount: u64, window: Duration, sliding: bool) -> Charge {
    Charge {
        key: key.into(),
        max,
        amount,
        window,
        sliding,
    }
}

fn fixed(key: &str, max: u64) -> Charge {
    charge(key, max, 1, MINUTE, false)
}

fn exceeded(r: Result<Reserved, LimitError>) -> Exceeded {
    match r {
        Err(LimitError::Exceeded(e)) => e,
        other => panic!("expected exceeded, got {other:?}"),
    }
}

fn unavailable(r: Result<Reserved, LimitError>) -> String {
    match r {
        Err(LimitError::Unavailable(reason)) => reason,
        other => panic!("expected unavailable, got {other:?}"),
    }
}

fn store_with(server: &RedisServer, timeout: Duration) -> RedisStore {
    let options = RedisOptions {
        key_prefix: server.key_prefix().into(),
        timeout,
    };
    RedisStore::new(server.url(), options).unwrap()
}

fn store(server: &RedisServer) -> RedisStore {
    store_with(server, PATIENT)
}

/// Reserves with the script's clock at `t`.
async fn at(s: &RedisStore, charges: &[Charge], t: SystemTime) -> Result<Reserved, LimitError> {
    s.reserve_at(charges, Some(millis(t))).await
}

async fn raw(server: &RedisServer) -> MultiplexedConnection {
    let client = ::redis::Client::open(server.url()).unwrap();
    // No response timeout: one test holds the server busy on purpose.
    let config = ::redis::AsyncConnectionConfig::new().set_response_timeout(None);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap()
}

/// A fixed window's count, read straight from Redis.
async fn count(server: &RedisServer, key: &str, window_start: SystemTime) -> u64 {
    let name = format!("{}{key}:{}", server.key_prefix(), millis(window_start));
    let value: Option<u64> = ::redis::cmd("GET")
        .arg(name)
        .query_async(&mut raw(server).await)
        .await
        .unwrap();
    value.unwrap_or(0)
}

async fn keys(server: &RedisServer) -> Vec<String> {
    let mut keys: Vec<String> = ::redis::cmd("KEYS")
        .arg(format!("{}*", server.key_prefix()))
        .query_async(&mut raw(server).await)
        .await
        .unwrap();
    keys.sort();
    keys
}

/// Calls `reserve` until it succeeds, for at most ten seconds.
async fn until_reserved(s: &RedisStore, charges: &[Charge]) -> Reserved {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match s.reserve(charges, noon()).await {
            Ok(r) => return r,
            Err(e) if tokio::time::Instant::now() > deadline => {
                panic!("still failing after 10 s: {e:?}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::test]
async fn a_fixed_window_admits_max_then_refuses_until_it_resets() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    let t = noon() + Duration::from_secs(17);
    for _ in 0..30 {
        at(&s, &[fixed("k", 30)], t).await.unwrap();
    }
    let e = exceeded(at(&s, &[fixed("k", 30)], t).await);
    assert_eq!((e.index, e.current, e.max), (0, 30, 30));
    assert_eq!(
        e.resets_at,
        noon() + MINUTE,
        "fixed windows reset at the next UTC minute"
    );
    let just_before = noon() + MINUTE - Duration::from_millis(1);
    assert!(at(&s, &[fixed("k", 30)], just_before).await.is_err());
    let r = at(&s, &[fixed("k", 30)], noon() + MINUTE).await.unwrap();
    assert_eq!(
        r.items,
        [ReservedItem {
            key: "k".into(),
            amount: 1,
            token: millis(noon() + MINUTE),
        }],
        "a fixed window's token is its start"
    );
    assert_eq!(count(&server, "k", noon() + MINUTE).await, 1);
    assert_eq!(count(&server, "k", noon()).await, 30);
}

#[tokio::test]
async fn odd_windows_align_to_the_epoch() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    let w = Duration::from_secs(90);
    let epoch_aligned = SystemTime::UNIX_EPOCH + Duration::from_secs(90 * 20_000_000);
    let late = epoch_aligned + Duration::from_secs(89);
    at(&s, &[charge("k", 1, 1, w, false)], late).await.unwrap();
    let e = exceeded(at(&s, &[charge("k", 1, 1, w, false)], late).await);
    assert_eq!(e.resets_at, epoch_aligned + w);
    at(&s, &[charge("k", 1, 1, w, false)], epoch_aligned + w)
        .await
        .unwrap();
}

#[tokio::test]
async fn reservations_are_all_or_nothing() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    at(&s, &[fixed("b", 1)], noon()).await.unwrap();
    let sliding = charge("c", 5, 1, MINUTE, true);
    let e = exceeded(at(&s, &[fixed("a", 5), sliding.clone(), fixed("b", 1)], noon()).await);
    assert_eq!((e.index, e.current, e.max), (2, 1, 1));
    assert_eq!(
        count(&server, "a", noon()).await,
        0,
        "nothing charged when one counter is full"
    );
    let c = &[charge("c", 1, 1, MINUTE, true)];
    at(&s, c, noon()).await.unwrap();
    assert!(
        at(&s, c, noon()).await.is_err(),
        "the refused request left no sliding entry"
    );
}

#[tokio::test]
async fn release_gives_back_only_within_the_same_window() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    let r = at(&s, &[fixed("k", 2), fixed("k2", 2)], noon())
        .await
        .unwrap();
    assert_eq!(count(&server, "k", noon()).await, 1);
    s.release(r).await;
    assert_eq!(count(&server, "k", noon()).await, 0);
    assert_eq!(count(&server, "k2", noon()).await, 0);
    let old = at(&s, &[fixed("k", 2)], noon() + Duration::from_secs(59))
        .await
        .unwrap();
    at(&s, &[fixed("k", 2)], noon() + MINUTE).await.unwrap();
    s.release(old).await;
    assert_eq!(
        count(&server, "k", noon() + MINUTE).await,
        1,
        "a refund for a past window leaves the new one alone"
    );
}

#[tokio::test]
async fn a_release_after_the_window_expired_charges_nothing() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    let r = at(&s, &[fixed("k", 2)], noon()).await.unwrap();
    let mut conn = raw(&server).await;
    let key = format!("{}k:{}", server.key_prefix(), millis(noon()));
    let _: () = ::redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    s.release(r).await;
    assert!(
        keys(&server).await.is_empty(),
        "the release recreated its window's key"
    );
}

#[tokio::test]
async fn amounts_count_by_weight_and_oversized_amounts_never_fit() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    at(&s, &[charge("k", 10, 7, MINUTE, false)], noon())
        .await
        .unwrap();
    let e = exceeded(at(&s, &[charge("k", 10, 4, MINUTE, false)], noon()).await);
    assert_eq!(e.current, 7);
    at(&s, &[charge("k", 10, 3, MINUTE, false)], noon())
        .await
        .unwrap();
    assert!(
        at(&s, &[charge("big", 10, 11, MINUTE, false)], noon())
            .await
            .is_err()
    );
    let e = exceeded(at(&s, &[charge("big", 10, 11, MINUTE, true)], noon()).await);
    assert_eq!(
        e.resets_at,
        noon() + MINUTE,
        "a sliding charge that never fits: a window from now"
    );
    at(
        &s,
        &[charge("huge", u64::MAX, 1 << 40, MINUTE, false)],
        noon(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn sliding_windows_forget_each_event_exactly_one_window_later() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    let t = |secs: u64| noon() + Duration::from_secs(secs);
    let c = |amount| [charge("k", 3, amount, MINUTE, true)];
    at(&s, &c(1), t(10)).await.unwrap();
    at(&s, &c(1), t(20)).await.unwrap();
    at(&s, &c(1), t(30)).await.unwrap();
    let e = exceeded(at(&s, &c(1), t(40)).await);
    assert_eq!((e.current, e.max), (3, 3));
    assert_eq!(
        e.resets_at,
        t(70),
        "room when the event at :10 leaves the window"
    );
    assert!(
        at(&s, &c(1), t(70) - Duration::from_millis(1))
            .await
            .is_err()
    );
    at(&s, &c(1), t(70)).await.unwrap();
    let e = exceeded(at(&s, &c(2), t(71)).await);
    assert_eq!(
        e.resets_at,
        t(90),
        "two units free up when the :20 and :30 events leave"
    );
}

#[tokio::test]
async fn sliding_resets_walk_past_the_first_batch_of_entries() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    let c = |amount| [charge("k", 200, amount, MINUTE, true)];
    for i in 0..200 {
        at(&s, &c(1), noon() + Duration::from_millis(i))
            .await
            .unwrap();
    }
    let e = exceeded(at(&s, &c(150), noon() + Duration::from_secs(1)).await);
    assert_eq!(
        e.resets_at,
        noon() + Duration::from_millis(149) + MINUTE,
        "150 units free up when the 150th entry leaves"
    );
}

#[tokio::test]
async fn sliding_refunds_remove_their_own_entry() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    let c = charge("k", 2, 1, MINUTE, true);
    let first = at(&s, std::slice::from_ref(&c), noon()).await.unwrap();
    let second = at(
        &s,
        std::slice::from_ref(&c),
        noon() + Duration::from_secs(1),
    )
    .await
    .unwrap();
    assert!(
        second.items[0].token > first.items[0].token,
        "entry ids increase"
    );
    s.release(first).await;
    at(
        &s,
        std::slice::from_ref(&c),
        noon() + Duration::from_secs(2),
    )
    .await
    .unwrap();
    let e = exceeded(at(&s, &[c], noon() + Duration::from_secs(2)).await);
    assert_eq!(e.current, 2);
    assert_eq!(
        e.resets_at,
        noon() + Duration::from_secs(1) + MINUTE,
        "the released entry no longer holds room"
    );
}

#[tokio::test]
async fn a_lost_running_sum_is_counted_again() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    let c = [charge("k", 3, 1, MINUTE, true)];
    at(&s, &c, noon()).await.unwrap();
    at(&s, &c, noon()).await.unwrap();
    let meta = format!("{}k:sliding:meta", server.key_prefix());
    let mut conn = raw(&server).await;
    let _: () = ::redis::cmd("DEL")
        .arg(&meta)
        .query_async(&mut conn)
        .await
        .unwrap();
    at(&s, &c, noon()).await.unwrap();
    let e = exceeded(at(&s, &c, noon()).await);
    assert_eq!(e.current, 3);
}

#[tokio::test]
async fn a_window_change_keeps_the_counts_inside_the_new_window() {
    // Unlike the memory store, which starts afresh: replicas briefly on
    // different policies must not reset each other's counters.
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    let hour = Duration::from_secs(3600);
    at(&s, &[fixed("k", 1)], noon() + Duration::from_secs(10))
        .await
        .unwrap();
    at(
        &s,
        &[charge("k", 2, 1, hour, false)],
        noon() + Duration::from_secs(20),
    )
    .await
    .unwrap();
    let e = exceeded(at(&s, &[charge("k", 2, 1, hour, false)], noon() + MINUTE).await);
    assert_eq!((e.current, e.resets_at), (2, noon() + hour));
    let ttl: i64 = ::redis::cmd("PTTL")
        .arg(format!("{}k:{}", server.key_prefix(), millis(noon())))
        .query_async(&mut raw(&server).await)
        .await
        .unwrap();
    assert!(
        ttl > 10 * 60 * 1000,
        "the key lives as long as its longest window ({ttl} ms)"
    );
}

#[tokio::test]
async fn keys_are_prefixed_and_expire_with_their_window() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    let charges = [
        charge("rate|grant=alice", 5, 1, MINUTE, false),
        charge("burst|grant=alice", 5, 1, Duration::from_secs(10), true),
    ];
    s.reserve(&charges, noon()).await.unwrap();
    let keys = keys(&server).await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    let mut conn = raw(&server).await;
    for key in &keys {
        let ttl: i64 = ::redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let window = if key.contains("burst") {
            10_000
        } else {
            60_000
        };
        assert!(ttl > 0 && ttl <= window + 1000, "{key} expires in {ttl} ms");
    }
}

#[tokio::test]
async fn decisions_run_on_the_servers_clock() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    assert_eq!(s.kind(), "redis");
    // The caller's `now` (here the epoch) is ignored.
    let r = s
        .reserve(&[fixed("k", 1)], SystemTime::UNIX_EPOCH)
        .await
        .unwrap();
    let start = r.items[0].token;
    let jan_2026 = 1_767_225_600_000;
    assert!(
        start > jan_2026 && start % 60_000 == 0,
        "window start {start}"
    );
    let e = exceeded(s.reserve(&[fixed("k", 1)], SystemTime::UNIX_EPOCH).await);
    // Unless the minute turned in between.
    assert!(e.resets_at >= at_millis(start + 60_000));
}

#[tokio::test]
async fn scripts_are_loaded_again_after_a_flush() {
    let server = toolgate_testdb::redis().await;
    let s = store(&server);
    at(&s, &[fixed("k", 5)], noon()).await.unwrap();
    let _: () = ::redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut raw(&server).await)
        .await
        .unwrap();
    let r = at(&s, &[fixed("k", 5)], noon()).await.unwrap();
    s.release(r).await;
    assert_eq!(count(&server, "k", noon()).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_admit_exactly_thirty_of_three_hundred() {
    let server = toolgate_testdb::redis().await;
    let replicas: Vec<Arc<RedisStore>> = (0..3).map(|_| Arc::new(store(&server))).collect();
    // A ten-day window: the test does not straddle two windows.
    let ten_days = Duration::from_secs(10 * 24 * 3600);
    let c = charge("createlead_rate|grant=alice", 30, 1, ten_days, false);
    let barrier = Arc::new(tokio::sync::Barrier::new(300));
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let (s, barrier, c) = (replicas[i % 3].clone(), barrier.clone(), c.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                s.reserve(&[c], noon()).await
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => admitted += 1,
            Err(LimitError::Exceeded(e)) => assert_eq!(e.max, 30),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(admitted, 30);
    let keys = keys(&server).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let total: u64 = ::redis::cmd("GET")
        .arg(&keys[0])
        .query_async(&mut raw(&server).await)
        .await
        .unwrap();
    assert_eq!(total, 30, "refused requests charged nothing");
}

mod outages;
