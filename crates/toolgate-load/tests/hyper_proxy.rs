//! The `hyper` peer (the stack's floor) forwards for real: a closed loop
//! through it is answered without an error, its sessions are the
//! fixture's, and an upstream that is gone gets a 502, not a hang.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use toolgate_load::client::caller::open_callers;
use toolgate_load::client::{Conn, Endpoint};
use toolgate_load::fixture;
use toolgate_load::load::{self, Ids};
use toolgate_load::peers::hyper_proxy;

async fn proxy_to(
    upstream: std::net::SocketAddr,
) -> Result<Arc<Endpoint>, Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(hyper_proxy::serve(listener, upstream));
    Ok(Arc::new(Endpoint::parse(
        &format!("http://{addr}/mcp"),
        None,
    )?))
}

#[tokio::test]
async fn a_closed_loop_through_the_proxy_has_no_errors() {
    let (fx, state) = fixture::spawn(([127, 0, 0, 1], 0).into()).await.unwrap();
    let ep = proxy_to(fx).await.unwrap();
    let callers = open_callers(ep, 4, 3).await.unwrap();
    assert_eq!(
        state.session_count(),
        3,
        "the sessions were opened upstream"
    );
    let out = load::closed_loop(callers, Duration::from_millis(500), &Ids::default()).await;
    assert_eq!(out.errors, 0, "{:?}", out.error_samples);
    assert!(out.ok > 0);
}

#[tokio::test]
async fn an_upstream_that_is_gone_gets_a_502() {
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = gone.local_addr().unwrap();
    drop(gone);
    let ep = proxy_to(addr).await.unwrap();
    let mut conn = Conn::connect(&ep).await.unwrap();
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let reply = conn
        .post(&ep, None, Bytes::from_static(call.as_bytes()))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(
        String::from_utf8_lossy(&reply.body).contains("refused"),
        "{:?}",
        reply.body
    );
}
