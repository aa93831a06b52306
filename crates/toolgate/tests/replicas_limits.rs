//! Limits shared by several gateway processes through one real Redis:
//! exact under concurrency, unaffected by a replica dying, and failing as
//! configured while Redis is down, then recovering without a restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::time::Duration;

use common::{Gateway, start_with_policy, terminate};
use futures_util::future::join_all;
use serde_json::json;
use tokio::time::Instant;
use toolgate_audit::{Query, Sink, SqliteSink};
use toolgate_testdb::RedisServer;
use toolgate_testkit::client::Reply;

/// `echo` may be called `max` times a day per grant; `add` has no limit.
fn policy(max: u32) -> String {
    format!(
        r#"{{"version": "1", "default": "deny", "tools": {{
            "echo": {{"limits": [{{"counter": "echo_daily", "window": "day", "max": {max}, "scope": "grant"}}]}},
            "add": {{}}
        }}}}"#
    )
}

fn limits(redis: &RedisServer, unavailable: &str) -> String {
    format!(
        // 300 calls at once from one grant: above the default in-flight
        // limit per grant, which is not what these tests are about.
        "limits:\n  store: {}\n  key_prefix: \"{}\"\n  timeout: 50ms\nlimits_unavailable: {unavailable}\nhttp:\n  max_inflight_per_grant: 1000\n",
        redis.url(),
        redis.key_prefix()
    )
}

async fn replicas(n: usize, name: &str, policy: &str, extra: &str) -> Vec<Gateway> {
    let mut all = Vec::new();
    for i in 0..n {
        all.push(start_with_policy(&format!("{name}-{i}"), policy, extra).await);
    }
    all
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Admitted,
    Limited,
    Unavailable,
    Other(String),
}

fn outcome(r: &Reply) -> Outcome {
    let result = r.result();
    if result["isError"] != true {
        return Outcome::Admitted;
    }
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    if text.contains("Rate limit reached") {
        Outcome::Limited
    } else if text.contains("limits cannot be checked") {
        Outcome::Unavailable
    } else {
        Outcome::Other(text.to_owned())
    }
}

#[tokio::test]
async fn three_replicas_admit_exactly_the_limit_under_300_concurrent_calls() {
    let redis = toolgate_testdb::redis().await;
    let gws = replicas(3, "exact", &policy(30), &limits(&redis, "deny")).await;
    let mut clients = Vec::new();
    for gw in &gws {
        let mut c = gw.client();
        c.initialize().await;
        clients.push(c);
    }
    let calls = (0..300).map(|i| {
        let c = &clients[i % 3];
        async move { outcome(&c.call_tool("echo", json!({"message": i.to_string()})).await) }
    });
    let outcomes = join_all(calls).await;
    let admitted = outcomes.iter().filter(|o| **o == Outcome::Admitted).count();
    let limited = outcomes.iter().filter(|o| **o == Outcome::Limited).count();
    assert_eq!((admitted, limited), (30, 270), "{outcomes:?}");
    // Each replica admitted some: the count really is shared.
    for (i, c) in clients.iter().enumerate() {
        let r = c.call_tool("echo", json!({"message": "more"})).await;
        assert_eq!(outcome(&r), Outcome::Limited, "replica {i}");
    }
}

#[tokio::test]
async fn a_replica_killed_mid_run_leaves_the_others_serving_and_the_count_right() {
    let redis = toolgate_testdb::redis().await;
    let mut gws = replicas(3, "kill", &policy(60), &limits(&redis, "deny")).await;
    let mut clients = Vec::new();
    for gw in &gws {
        let mut c = gw.client();
        c.initialize().await;
        clients.push(c);
    }
    // 12 calls through each, then replica 0 dies with calls in flight.
    let first = join_all(
        (0..36).map(|i| clients[i % 3].call_tool("echo", json!({"message": i.to_string()}))),
    )
    .await;
    assert!(first.iter().all(|r| outcome(r) == Outcome::Admitted));
    let doomed = clients.remove(0);
    let in_flight = tokio::spawn(async move {
        let calls = (0..4).map(|i| doomed.try_call_tool("echo", json!({"message": i.to_string()})));
        join_all(calls).await
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    gws[0].child.start_kill().unwrap();
    gws[0].child.wait().await.unwrap();
    let lost_answers = in_flight.await.unwrap();
    let admitted_on_dead = lost_answers
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| outcome(r) == Outcome::Admitted))
        .count();

    // The others go on: the rest of the 60, and not one more.
    let rest = join_all(
        (0..60).map(|i| clients[i % 2].call_tool("echo", json!({"message": i.to_string()}))),
    )
    .await;
    let admitted_rest = rest
        .iter()
        .filter(|r| outcome(r) == Outcome::Admitted)
        .count();
    let limited_rest = rest
        .iter()
        .filter(|r| outcome(r) == Outcome::Limited)
        .count();
    assert_eq!(admitted_rest + limited_rest, 60, "every call answered");
    // Calls reserved on the dead replica stay counted (they may have run
    // upstream): between 0 and 4 of the 60 are gone with it.
    let total = 36 + admitted_on_dead + admitted_rest;
    assert!(
        (56..=60).contains(&total),
        "admitted {total} of 60 ({admitted_on_dead} on the dead replica, {admitted_rest} after)"
    );
    assert!(
        admitted_rest >= 20,
        "the survivors kept admitting: {admitted_rest}"
    );
    for c in &clients {
        let r = c.call_tool("echo", json!({"message": "more"})).await;
        assert_eq!(outcome(&r), Outcome::Limited);
    }
}

/// Calls `echo` through `c` until `want` comes back (at most 15 s).
async fn until(c: &toolgate_testkit::client::Client, want: Outcome) -> Duration {
    let started = Instant::now();
    loop {
        let r = c.call_tool("echo", json!({"message": "probe"})).await;
        if outcome(&r) == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never got {want:?}: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn redis_restarted_mid_run_applies_the_fail_mode_then_service_resumes() {
    let mut redis = toolgate_testdb::redis().await;
    let mut deny = start_with_policy("redis-deny", &policy(1000), &limits(&redis, "deny")).await;
    let mut allow = start_with_policy("redis-allow", &policy(1000), &limits(&redis, "allow")).await;
    let (mut d, mut a) = (deny.client(), allow.client());
    d.initialize().await;
    a.initialize().await;
    assert_eq!(
        outcome(&d.call_tool("echo", json!({"message": "1"})).await),
        Outcome::Admitted
    );
    assert_eq!(
        outcome(&a.call_tool("echo", json!({"message": "1"})).await),
        Outcome::Admitted
    );

    redis.kill();
    let took = until(&d, Outcome::Unavailable).await;
    assert!(took < Duration::from_secs(2), "refused promptly: {took:?}");
    let r = d.call_tool("echo", json!({"message": "2"})).await;
    let text = r.result()["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("counter store unavailable"), "{text}");
    assert!(
        !text.contains(redis.url()),
        "no connection details to the agent: {text}"
    );
    // A tool without limits does not need the store.
    let r = d.call_tool("add", json!({"a": 1, "b": 2})).await;
    assert_eq!(outcome(&r), Outcome::Admitted);
    // limits_unavailable: allow lets calls through, uncounted.
    assert_eq!(
        outcome(&a.call_tool("echo", json!({"message": "2"})).await),
        Outcome::Admitted
    );

    redis.restart().await;
    until(&d, Outcome::Admitted).await;
    assert_eq!(
        outcome(&a.call_tool("echo", json!({"message": "3"})).await),
        Outcome::Admitted
    );

    terminate(&mut deny).await;
    terminate(&mut allow).await;
    let verdicts = |gw: &Gateway| {
        let db = gw.db();
        async move {
            let sink = SqliteSink::open(&db).await.unwrap();
            let all = sink.query(&Query::default()).await.unwrap();
            all.into_iter()
                .filter(|s| s.record.target.as_deref() == Some("echo"))
                .map(|s| (s.record.verdict, s.record.reason))
                .collect::<Vec<_>>()
        }
    };
    let denied = verdicts(&deny).await;
    assert!(
        denied.iter().any(|(v, _)| v == "limits_unavailable"),
        "the refusal is audited: {denied:?}"
    );
    let allowed = verdicts(&allow).await;
    let unchecked = allowed
        .iter()
        .filter(|(v, reason)| {
            v == "allow"
                && reason
                    .as_deref()
                    .is_some_and(|r| r.contains("limits not checked"))
        })
        .count();
    // The call made while Redis was down (and any made while the
    // connection was coming back) went through uncounted, and says so.
    assert!(
        unchecked >= 1,
        "the uncounted call is audited as such: {allowed:?}"
    );
}
