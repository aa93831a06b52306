//! Edge limits, each answered with a clear error while the gateway keeps
//! serving: connections (503), requests in flight per grant (429), a slow
//! request body (408), idle keep-alive connections (closed). Body size
//! (413) and upstream message size are in `edge.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use toolgate_testkit::client::Client;
use toolgate_testkit::harness::{
    OTHER_TOKEN, TOKEN, TestGateway, UpstreamKind, one_server_config, start_fixture, start_gateway,
};

async fn gateway(http: &str) -> TestGateway {
    let fixture = start_fixture(UpstreamKind::Stdio).await;
    let yaml = one_server_config(UpstreamKind::Stdio, &fixture, "");
    start_gateway(&format!("{yaml}http:\n{http}")).await
}

async fn works(gw: &TestGateway, token: &str) {
    let mut c = Client::new(&gw.url("fx"), Some(token), "2025-11-25");
    c.initialize().await;
    let r = c.call_tool("echo", json!({"message": "ok"})).await;
    assert_eq!(r.result()["content"][0]["text"], "Echo: ok", "{r:?}");
}

fn addr(gw: &TestGateway) -> String {
    gw.base.trim_start_matches("http://").to_owned()
}

/// Reads until the peer closes (or `limit` passes); returns what came.
async fn read_all(s: &mut TcpStream, limit: Duration) -> String {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(limit, s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn connections_beyond_the_limit_get_503_and_the_rest_are_served() {
    let gw = gateway("  max_connections: 2\n  header_read_timeout: 5s\n").await;
    let held = [
        TcpStream::connect(addr(&gw)).await.unwrap(),
        TcpStream::connect(addr(&gw)).await.unwrap(),
    ];
    // Let the gateway accept both before the third arrives.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(addr(&gw)).await.unwrap();
    let answer = read_all(&mut third, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("too many connections (limit 2)"),
        "{answer}"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    works(&gw, TOKEN).await;
    let metrics = reqwest::get(format!("{}/metrics", gw.admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("too_many_connections"), "{metrics}");
    gw.stop().await;
}

#[tokio::test]
async fn one_grant_cannot_take_more_than_its_share_of_requests_in_flight() {
    let gw = gateway("  max_inflight_per_grant: 2\n").await;
    let mut c = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    c.initialize().await;
    let slow = json!({"steps": 4, "delay_ms": 100});
    let replies = join_all((0..3).map(|_| c.try_call_tool("slow", slow.clone()))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.as_ref().unwrap().status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        2,
        "{statuses:?}"
    );
    let refused = replies
        .iter()
        .map(|r| r.as_ref().unwrap())
        .find(|r| r.status == 429)
        .unwrap();
    let msg = refused.error().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.contains("too many requests in flight"), "{msg}");
    // Meanwhile another grant is served, and afterwards this one again.
    let (mine, ()) = tokio::join!(
        c.try_call_tool("slow", slow.clone()),
        works(&gw, OTHER_TOKEN)
    );
    assert_eq!(mine.unwrap().status, 200);
    works(&gw, TOKEN).await;
    gw.stop().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408() {
    let gw = gateway("  body_read_timeout: 1s\n").await;
    let mut s = TcpStream::connect(addr(&gw)).await.unwrap();
    let head = format!(
        "POST /mcp/fx HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: 100\r\n\r\n{{\"jsonrpc\":"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let answer = read_all(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(4));
    works(&gw, TOKEN).await;
    gw.stop().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let gw = gateway("  header_read_timeout: 1s\n").await;
    let mut s = TcpStream::connect(addr(&gw)).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut first = vec![0u8; 4096];
    let n = s.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    // Nothing more is sent: the gateway closes the connection.
    let started = Instant::now();
    let rest = read_all(&mut s, Duration::from_secs(5)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "closed after {waited:?}: {rest:?}"
    );
    works(&gw, TOKEN).await;
    gw.stop().await;
}

#[tokio::test]
async fn sessions_beyond_the_limit_are_refused_until_one_ends() {
    let fixture = start_fixture(UpstreamKind::Stdio).await;
    let yaml = one_server_config(UpstreamKind::Stdio, &fixture, "");
    let gw = start_gateway(&format!("{yaml}sessions:\n  max_sessions: 2\n")).await;
    let mut first = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    first.initialize().await;
    let mut second = Client::new(&gw.url("fx"), Some(OTHER_TOKEN), "2025-11-25");
    second.initialize().await;
    let mut third = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    let refused = third.initialize().await;
    let err = refused.error().unwrap_or_else(|| panic!("{refused:?}"));
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("too many open sessions (limit 2)"),
        "{err}"
    );
    assert_eq!(first.delete().await, 200);
    let mut fourth = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    fourth.initialize().await;
    let r = fourth.call_tool("echo", json!({"message": "ok"})).await;
    assert_eq!(r.result()["content"][0]["text"], "Echo: ok");
    gw.stop().await;
}
