//! The generator against the fixture over a real loopback socket: a short
//! closed-loop run must check every answer and find no error, and the
//! fixture must keep Streamable HTTP's session rules.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use toolgate_load::client::caller::open_callers;
use toolgate_load::client::{Conn, Endpoint, session};
use toolgate_load::fixture;
use toolgate_load::load::{self, Ids, OpenLoop};

type Started = (Arc<Endpoint>, Arc<fixture::State>);

async fn start() -> Result<Started, Box<dyn std::error::Error>> {
    let (addr, state) = fixture::spawn(([127, 0, 0, 1], 0).into()).await?;
    let ep = Endpoint::parse(&format!("http://{addr}/mcp"), None)?;
    Ok((Arc::new(ep), state))
}

#[tokio::test]
async fn one_second_closed_loop_has_no_errors() {
    let (ep, state) = start().await.unwrap();
    let callers = open_callers(ep, 4, 2).await.unwrap();
    assert_eq!(state.session_count(), 2);
    let out = load::closed_loop(callers, Duration::from_secs(1), &Ids::default()).await;
    assert_eq!(out.errors, 0, "{:?}", out.error_samples);
    assert!(out.ok > 0);
    assert!(out.throughput() > 0.0);
    assert_eq!(out.latencies.count(), out.ok);
}

#[tokio::test]
async fn short_open_loop_has_no_errors() {
    let (ep, _) = start().await.unwrap();
    let callers = open_callers(ep, 4, 4).await.unwrap();
    let cfg = OpenLoop {
        rate: 200.0,
        duration: Duration::from_millis(500),
        grace: Duration::from_secs(5),
        spin: true,
    };
    let out = load::open_loop(callers, cfg, &Ids::default())
        .await
        .unwrap();
    assert_eq!(out.errors, 0, "{:?}", out.error_samples);
    assert_eq!(out.ok, 100);
}

#[tokio::test]
async fn sessions_are_required_and_known() {
    let (ep, _) = start().await.unwrap();
    let mut conn = Conn::connect(&ep).await.unwrap();
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let reply = conn
        .post(&ep, None, Bytes::from_static(call.as_bytes()))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    let mut s = session::open(&mut conn, &ep).await.unwrap();
    assert_eq!(s.protocol, "2025-11-25");
    let reply = conn
        .post(&ep, Some(&s), Bytes::from_static(call.as_bytes()))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    let list: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(list["result"]["tools"].as_array().unwrap().len(), 26);

    s.id = Some(http::HeaderValue::from_static("fx-unknown"));
    let reply = conn
        .post(&ep, Some(&s), Bytes::from_static(call.as_bytes()))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}
