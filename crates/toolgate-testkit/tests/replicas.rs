//! Several gateway replicas behind a load balancer without affinity: a
//! Streamable HTTP session started on one continues on the others (the
//! session id carries what they need, sealed under the shared key); what
//! is bound to one replica (stdio processes) gets 404 elsewhere, and ids
//! that were tampered with, sealed under another key or shown by another
//! grant get 404 everywhere.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::time::Duration;

use serde_json::{Value, json};
use toolgate_testkit::client::Client;
use toolgate_testkit::harness::{
    Fixture, OTHER_TOKEN, TOKEN, TestGateway, UpstreamKind, one_server_config, start_fixture,
    start_gateway,
};

const KEY: &str = "5f0c6a1e9b2d48c7a3e1f6b08d4c2a7e91b3d5f7092c4e6a8b0d2f4163859a7c";
const OTHER_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const VERSION: &str = "2025-06-18";

fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// One config text, as every replica of a fleet would read it.
fn fleet_config(kind: UpstreamKind, fixture: &Fixture, key: &str, sessions: &str) -> String {
    one_server_config(kind, fixture, "") + &format!("sessions:\n  key: \"{key}\"\n{sessions}")
}

async fn fleet(yaml: &str, n: usize) -> Vec<TestGateway> {
    let mut replicas = Vec::new();
    for _ in 0..n {
        replicas.push(start_gateway(yaml).await);
    }
    replicas
}

async fn stop(replicas: Vec<TestGateway>) {
    for r in replicas {
        r.stop().await;
    }
}

/// A client of `replica` presenting the session `sid`.
fn on(replica: &TestGateway, token: &str, sid: &str) -> Client {
    let mut c = Client::new(&replica.url("fx"), Some(token), VERSION);
    c.session = Some(sid.to_owned());
    c
}

async fn started(replica: &TestGateway) -> (Client, String) {
    let mut c = Client::new(&replica.url("fx"), Some(TOKEN), VERSION);
    let init = c.initialize().await;
    assert_eq!(init.status, 200, "{init:#?}");
    let sid = c.session.clone().unwrap();
    (c, sid)
}

async fn echo(c: &Client, message: &str) {
    let r = c.call_tool("echo", json!({"message": message})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(text(r.result()), format!("Echo: {message}"), "{r:#?}");
}

async fn tool_json(c: &Client, tool: &str) -> Value {
    let r = c.call_tool(tool, json!({})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    serde_json::from_str(&text(r.result())).unwrap()
}

#[tokio::test]
async fn a_streamable_http_session_continues_on_every_replica_until_deleted() {
    let fixture = start_fixture(UpstreamKind::HttpSessionful).await;
    let yaml = fleet_config(UpstreamKind::HttpSessionful, &fixture, KEY, "");
    let replicas = fleet(&yaml, 3).await;
    let (c1, sid) = started(&replicas[0]).await;
    assert!(sid.len() < 200, "{} chars: {sid}", sid.len());
    assert!(
        sid.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{sid}"
    );
    echo(&c1, "from replica 1").await;
    let created = tool_json(&c1, "stats").await["sessions_created"].clone();
    let seen_by_upstream = tool_json(&c1, "whoami").await;
    assert_eq!(seen_by_upstream["mcp-protocol-version"], VERSION);

    let c2 = on(&replicas[1], TOKEN, &sid);
    echo(&c2, "from replica 2").await;
    let list = c2.request("tools/list", json!({})).await;
    assert_eq!(list.status, 200, "{list:#?}");
    let tools = list.result()["tools"].as_array().unwrap();
    assert!(tools.iter().any(|t| t["name"] == "echo"), "{list:#?}");
    assert_eq!(
        tool_json(&c2, "whoami").await,
        seen_by_upstream,
        "replica 2 speaks to the same upstream session with the same revision"
    );
    let c3 = on(&replicas[2], TOKEN, &sid);
    echo(&c3, "from replica 3").await;
    let stats = tool_json(&c3, "stats").await;
    assert_eq!(
        stats["sessions_created"], created,
        "the upstream saw one initialize for this session: {stats}"
    );
    echo(&c1, "back on replica 1").await;
    assert_eq!(replicas[1].gw.sessions.len(), 1, "replica 2 holds it now");

    let deleted = stats["sessions_deleted"].as_u64().unwrap();
    assert_eq!(c3.delete().await, 200);
    let after = c1.request("tools/list", json!({})).await;
    assert_eq!(after.status, 404, "deleted on replica 3: {after:#?}");
    assert_eq!(after.error().unwrap()["code"], -32001);
    assert_eq!(c2.call_tool("echo", json!({})).await.status, 404);
    assert_eq!(c3.request("tools/list", json!({})).await.status, 404);
    assert_eq!(c1.request("tools/list", json!({})).await.status, 404);

    let (fresh, _) = started(&replicas[1]).await;
    let stats = tool_json(&fresh, "stats").await;
    assert_eq!(
        stats["sessions_deleted"].as_u64().unwrap(),
        deleted + 1,
        "the DELETE reached the upstream: {stats}"
    );
    stop(replicas).await;
}

#[tokio::test]
async fn tampered_foreign_and_other_grants_session_ids_get_404() {
    let fixture = start_fixture(UpstreamKind::HttpSessionful).await;
    let yaml = fleet_config(UpstreamKind::HttpSessionful, &fixture, KEY, "");
    let replicas = fleet(&yaml, 2).await;
    let foreign_yaml = fleet_config(UpstreamKind::HttpSessionful, &fixture, OTHER_KEY, "");
    let foreign = start_gateway(&foreign_yaml).await;
    let (c1, sid) = started(&replicas[0]).await;

    let mut tampered = sid.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let truncated = &sid[..sid.len() - 2];
    for replica in &replicas {
        for bad in [tampered.as_str(), truncated, "garbage", &"0".repeat(32)] {
            let r = on(replica, TOKEN, bad)
                .request("tools/list", json!({}))
                .await;
            assert_eq!(r.status, 404, "{bad}: {r:#?}");
            assert_eq!(r.error().unwrap()["code"], -32001);
        }
        let thief = on(replica, OTHER_TOKEN, &sid);
        let r = thief.request("tools/list", json!({})).await;
        assert_eq!(r.status, 404, "a session belongs to its grant: {r:#?}");
        assert_eq!(thief.delete().await, 404, "nor can another grant end it");
    }
    let r = on(&foreign, TOKEN, &sid)
        .request("tools/list", json!({}))
        .await;
    assert_eq!(r.status, 404, "a fleet with another key: {r:#?}");
    let (_, foreign_sid) = started(&foreign).await;
    for replica in &replicas {
        let r = on(replica, TOKEN, &foreign_sid)
            .request("tools/list", json!({}))
            .await;
        assert_eq!(r.status, 404, "a session from another fleet: {r:#?}");
    }
    echo(&c1, "still mine").await;
    echo(&on(&replicas[1], TOKEN, &sid), "and still portable").await;
    foreign.stop().await;
    stop(replicas).await;
}

#[tokio::test]
async fn stdio_sessions_stay_on_the_replica_that_spawned_them() {
    let fixture = start_fixture(UpstreamKind::Stdio).await;
    let yaml = fleet_config(UpstreamKind::Stdio, &fixture, KEY, "");
    let replicas = fleet(&yaml, 2).await;
    let (c1, sid) = started(&replicas[0]).await;
    echo(&c1, "on my process").await;
    let mut c2 = on(&replicas[1], TOKEN, &sid);
    let r = c2.call_tool("echo", json!({"message": "elsewhere"})).await;
    assert_eq!(r.status, 404, "its process lives on replica 1: {r:#?}");
    assert_eq!(replicas[1].gw.sessions.len(), 0);
    c2.session = None;
    let init = c2.initialize().await;
    assert_eq!(init.status, 200, "re-initializing works: {init:#?}");
    echo(&c2, "on a fresh process").await;
    echo(&c1, "the first one goes on").await;
    stop(replicas).await;
}

#[tokio::test]
async fn a_replica_that_lets_go_of_a_session_leaves_it_to_the_others() {
    let fixture = start_fixture(UpstreamKind::HttpSessionful).await;
    let yaml = fleet_config(
        UpstreamKind::HttpSessionful,
        &fixture,
        KEY,
        "  idle_timeout: 1s\n",
    );
    let mut replicas = fleet(&yaml, 3).await;
    let (c1, sid) = started(&replicas[0]).await;
    let before = tool_json(&c1, "stats").await;
    // The client goes on with replica 2 while replica 1's copy idles out.
    let c2 = on(&replicas[1], TOKEN, &sid);
    for i in 0..8 {
        echo(&c2, &format!("busy {i}")).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(replicas[0].gw.sessions.len(), 0, "replica 1 let it go");
    echo(&c1, "replica 1 picks it up again").await;
    // A replica shutting down (a rolling deploy) does not end it either.
    replicas.remove(1).stop().await;
    let c3 = on(&replicas[1], TOKEN, &sid);
    echo(&c3, "after replica 2 stopped").await;
    let after = tool_json(&c3, "stats").await;
    assert_eq!(after["sessions_created"], before["sessions_created"]);
    assert_eq!(
        after["sessions_deleted"], before["sessions_deleted"],
        "idle expiry and shutdown left the upstream session alone: {before} -> {after}"
    );
    assert_eq!(c3.delete().await, 200);
    stop(replicas).await;
}
