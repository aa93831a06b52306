//! `toolgate stdio`: the gateway as a stdio server, one client, one grant.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use toolgate_testkit::harness::{UpstreamKind, one_server_config, start_fixture, start_gateway};

struct Pipe {
    to_gw: tokio::io::DuplexStream,
    from_gw: tokio::io::Lines<BufReader<tokio::io::DuplexStream>>,
}

impl Pipe {
    async fn send(&mut self, line: &str) {
        self.to_gw.write_all(line.as_bytes()).await.unwrap();
        self.to_gw.write_all(b"\n").await.unwrap();
    }

    async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(10), self.from_gw.next_line())
            .await
            .expect("no answer in time")
            .unwrap()
            .expect("stdout closed");
        assert!(!line.contains('\n'));
        serde_json::from_str(&line).unwrap()
    }

    async fn until_response(&mut self, id: u64) -> (Value, Vec<Value>) {
        let mut before = Vec::new();
        loop {
            let m = self.recv().await;
            if m["id"] == id && m.get("method").is_none() {
                return (m, before);
            }
            before.push(m);
        }
    }
}

#[tokio::test]
async fn a_stdio_client_goes_through_the_same_pipeline() {
    let fixture = start_fixture(UpstreamKind::HttpSessionful).await;
    let gw = start_gateway(&one_server_config(
        UpstreamKind::HttpSessionful,
        &fixture,
        "",
    ))
    .await;
    let server = gw.gw.server("fx").unwrap().clone();
    let principal = gw.gw.auth.by_name("tester").await.unwrap().unwrap();
    let (client_in, gw_in) = tokio::io::duplex(1 << 16);
    let (gw_out, client_out) = tokio::io::duplex(1 << 16);
    let front = tokio::spawn(toolgate_gateway::stdio_front::serve_stdio(
        gw.gw.clone(),
        server,
        principal,
        gw_in,
        gw_out,
    ));
    let mut p = Pipe {
        to_gw: client_in,
        from_gw: BufReader::new(client_out).lines(),
    };

    p.send(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .await;
    assert_eq!(
        p.recv().await["error"]["code"],
        -32600,
        "initialize comes first"
    );
    p.send("{not json").await;
    assert_eq!(p.recv().await["error"]["code"], -32700);
    p.send(r#"{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#).await;
    let init = p.recv().await;
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    p.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
    p.send(r#"[{"jsonrpc":"2.0","id":3,"method":"tools/list"}]"#)
        .await;
    assert_eq!(
        p.recv().await["error"]["code"],
        -32600,
        "no batches in 2025-06-18"
    );
    p.send(r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"slow","arguments":{"steps":2,"delay_ms":10},"_meta":{"progressToken":"t"}}}"#).await;
    let (resp, before) = p.until_response(4).await;
    assert_eq!(resp["result"]["content"][0]["text"], "done after 2 steps");
    let tokens: Vec<&Value> = before
        .iter()
        .map(|m| &m["params"]["progressToken"])
        .collect();
    assert_eq!(tokens, vec![&json!("t"), &json!("t")]);
    let seen_before = gw.gw.sessions.len();
    drop(p);
    tokio::time::timeout(Duration::from_secs(10), front)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        gw.gw.sessions.len(),
        seen_before,
        "stdio sessions are not in the HTTP table"
    );
    gw.stop().await;
}
