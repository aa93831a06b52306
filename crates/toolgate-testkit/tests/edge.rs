//! The HTTP edge: bad input is answered with the right error and the gateway
//! keeps serving; authentication; Host/Origin; sessions; batches; limits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::time::Duration;

use serde_json::{Value, json};
use toolgate_testkit::client::{Client, STATELESS};
use toolgate_testkit::harness::{
    OTHER_TOKEN, TOKEN, TestGateway, UpstreamKind, fixture_bin, one_server_config, start_fixture,
    start_gateway, start_gateway_unready,
};

fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn gateway(
    kind: UpstreamKind,
    extra: &str,
) -> (TestGateway, toolgate_testkit::harness::Fixture) {
    let fixture = start_fixture(kind).await;
    let gw = start_gateway(&one_server_config(kind, &fixture, extra)).await;
    (gw, fixture)
}

async fn session(gw: &TestGateway, version: &str) -> Client {
    let mut c = Client::new(&gw.url("fx"), Some(TOKEN), version);
    let init = c.initialize().await;
    assert_eq!(init.status, 200, "{init:#?}");
    c
}

async fn still_serving(c: &Client) {
    let r = c.call_tool("echo", json!({"message": "still here"})).await;
    assert_eq!(text(r.result()), "Echo: still here");
}

#[tokio::test]
async fn malformed_json_gets_a_parse_error_and_the_session_goes_on() {
    let (gw, _fx) = gateway(UpstreamKind::Stdio, "").await;
    let c = session(&gw, "2025-11-25").await;
    for raw in [
        "{",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":",
        "nul",
        "\u{0}",
    ] {
        let r = c.post_raw(raw.to_owned(), &[]).await;
        assert_eq!(r.status, 400, "{raw:?}");
        assert_eq!(r.error().unwrap()["code"], -32700, "{raw:?}");
        assert_eq!(r.messages[0]["id"], Value::Null);
    }
    let invalid = c
        .post_raw(
            r#"{"jsonrpc":"1.0","id":9,"method":"tools/list"}"#.to_owned(),
            &[],
        )
        .await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.error().unwrap()["code"], -32600);
    assert_eq!(
        invalid.messages[0]["id"], 9,
        "the error answers the request's id"
    );
    still_serving(&c).await;
    gw.stop().await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let (gw, _fx) = gateway(UpstreamKind::Stdio, "").await;
    let c = session(&gw, "2025-11-25").await;
    let huge = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "x".repeat(5 << 20)}}});
    let r = c.post_raw(huge.to_string(), &[]).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.error().unwrap()["code"], -32600);
    assert!(
        r.error().unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("4194304"),
        "{r:?}"
    );
    still_serving(&c).await;
    gw.stop().await;
}

#[tokio::test]
async fn batches_are_refused_from_2025_06_18_on() {
    let (gw, _fx) = gateway(UpstreamKind::HttpSessionful, "").await;
    for version in ["2025-06-18", "2025-11-25"] {
        let c = session(&gw, version).await;
        let batch = json!([
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "a"}}}
        ]);
        let r = c.post(&batch, &[]).await;
        assert_eq!(r.status, 400, "{version}");
        assert_eq!(r.error().unwrap()["code"], -32600, "{version}");
        still_serving(&c).await;
    }
    let stateless = Client::new(&gw.url("fx"), Some(TOKEN), STATELESS);
    let body = json!([stateless.request_body(1, "tools/list", json!({}))]);
    let r = stateless.post(&body, &[("mcp-method", "tools/list")]).await;
    assert_eq!(
        (r.status, r.error().unwrap()["code"].clone()),
        (400, json!(-32600))
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_2025_03_26_batch_is_split_and_never_reaches_the_upstream_as_a_batch() {
    let (gw, _fx) = gateway(UpstreamKind::HttpSessionful, "").await;
    let c = session(&gw, "2025-03-26").await;
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "a"}}},
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "b"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {}},
        {"jsonrpc": "2.0", "id": 4}
    ]);
    let r = c.post(&batch, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(text(&r.response(&json!(1)).unwrap()["result"]), "Echo: a");
    assert_eq!(text(&r.response(&json!(2)).unwrap()["result"]), "Echo: b");
    assert_eq!(
        r.response(&json!(3)).unwrap()["error"]["code"],
        -32600,
        "initialize cannot be batched"
    );
    let invalid = r
        .messages
        .iter()
        .filter(|m| m["error"]["code"] == -32600)
        .count();
    assert_eq!(
        invalid, 2,
        "the malformed element gets its own error: {r:#?}"
    );
    let stats = c.call_tool("stats", json!({})).await;
    let stats: Value = serde_json::from_str(&text(stats.result())).unwrap();
    assert_eq!(stats["batches_received"], 0, "{stats}");
    gw.stop().await;
}

#[tokio::test]
async fn stateless_headers_must_match_the_body() {
    let (gw, _fx) = gateway(UpstreamKind::HttpStateless, "").await;
    let c = Client::new(&gw.url("fx"), Some(TOKEN), STATELESS);
    let body = c.request_body(
        1,
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "x"}}),
    );
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("mcp-name", "delete_everything")], "does not match"),
        (&[("mcp-method", "tools/list")], "does not match"),
        (&[("mcp-protocol-version", "2025-11-25")], ""),
        (&[("mcp-name", "=?base64?not base64?=")], "base64"),
    ];
    for (headers, needle) in cases {
        let r = c.post(&body, headers).await;
        assert_eq!(r.status, 400, "{headers:?}: {r:?}");
        let err = r.error().unwrap();
        assert!(
            err["code"] == -32020 || err["code"] == -32000,
            "{headers:?}: {err}"
        );
        assert!(
            err["message"].as_str().unwrap().contains(needle),
            "{headers:?}: {err}"
        );
    }
    let encoded = c.post(&body, &[("mcp-name", "=?base64?ZWNobw==?=")]).await;
    assert_eq!(
        text(encoded.result()),
        "Echo: x",
        "a base64-encoded name that matches is fine"
    );
    let no_meta = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": STATELESS}}});
    let r = c.post(&no_meta, &[]).await;
    assert_eq!(
        (r.status, r.error().unwrap()["code"].clone()),
        (400, json!(-32602))
    );
    let mut old = c.request_body(3, "tools/list", json!({}));
    old["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let r = c
        .post(&old, &[("mcp-protocol-version", "2099-01-01")])
        .await;
    assert_eq!(
        (r.status, r.error().unwrap()["code"].clone()),
        (400, json!(-32022))
    );
    assert!(
        r.error().unwrap()["data"]["supported"]
            .as_array()
            .unwrap()
            .contains(&json!(STATELESS))
    );
    let unknown = c.request("no/such/method", json!({})).await;
    assert_eq!(
        (unknown.status, unknown.error().unwrap()["code"].clone()),
        (404, json!(-32601))
    );
    gw.stop().await;
}

#[tokio::test]
async fn unknown_sessions_and_other_grants_sessions_get_404() {
    let (gw, _fx) = gateway(UpstreamKind::Stdio, "").await;
    let c = session(&gw, "2025-11-25").await;
    let mut forged = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    forged.session = Some("0".repeat(32));
    assert_eq!(forged.request("tools/list", json!({})).await.status, 404);
    let mut thief = Client::new(&gw.url("fx"), Some(OTHER_TOKEN), "2025-11-25");
    thief.session = c.session.clone();
    let r = thief.request("tools/list", json!({})).await;
    assert_eq!(r.status, 404, "a session belongs to the grant that made it");
    assert_eq!(r.error().unwrap()["code"], -32001);
    let mut none = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    none.session = None;
    let r = none.request("tools/list", json!({})).await;
    assert_eq!(r.status, 400, "a sessionful request needs Mcp-Session-Id");
    still_serving(&c).await;
    gw.stop().await;
}

#[tokio::test]
async fn credentials_are_checked_and_never_forwarded() {
    let extra =
        "    headers: {X-Upstream-Secret: \"${TOOLGATE_TEST_SECRET:-s3cret-from-config}\"}\n";
    let fixture = start_fixture(UpstreamKind::HttpSessionful).await;
    let cfg = one_server_config(UpstreamKind::HttpSessionful, &fixture, extra).replace(
        "grants:\n",
        "  other:\n    command: [\"true\"]\ngrants:\n  - {name: elsewhere, token: elsewhere-token-0123456789, server: other}\n",
    );
    let gw = start_gateway_unready(&cfg).await;
    let mut anon = Client::new(&gw.url("fx"), None, "2025-11-25");
    let r = anon.initialize().await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let mut wrong = Client::new(&gw.url("fx"), Some("not-a-token-0123456789"), "2025-11-25");
    assert_eq!(wrong.initialize().await.status, 401);
    let mut elsewhere = Client::new(
        &gw.url("fx"),
        Some("elsewhere-token-0123456789"),
        "2025-11-25",
    );
    assert_eq!(
        elsewhere.initialize().await.status,
        403,
        "a grant of another server"
    );
    let mut nowhere = Client::new(&format!("{}/mcp/nope", gw.base), Some(TOKEN), "2025-11-25");
    assert_eq!(nowhere.initialize().await.status, 404);
    let c = session(&gw, "2025-11-25").await;
    let seen: Value =
        serde_json::from_str(&text(c.call_tool("whoami", json!({})).await.result())).unwrap();
    assert_eq!(seen["x-upstream-secret"], "s3cret-from-config", "{seen}");
    assert!(
        seen.get("authorization").is_none(),
        "the client's token went upstream: {seen}"
    );
    assert!(
        seen["host"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{seen}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn host_and_origin_are_checked_against_dns_rebinding() {
    let (gw, _fx) = gateway(UpstreamKind::Stdio, "").await;
    let c = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let evil_host = c
        .post(
            &init,
            &[
                ("host", "evil.example.com"),
                ("origin", "http://evil.example.com"),
            ],
        )
        .await;
    assert_eq!(evil_host.status, 403);
    let evil_origin = c
        .post(&init, &[("origin", "http://evil.example.com")])
        .await;
    assert_eq!(evil_origin.status, 403);
    let port = gw.base.rsplit(':').next().unwrap().to_owned();
    let local = c
        .post(
            &init,
            &[
                ("host", &format!("localhost:{port}")),
                ("origin", &format!("http://localhost:{port}")),
            ],
        )
        .await;
    assert_eq!(local.status, 200, "{local:?}");
    gw.stop().await;
}

#[tokio::test]
async fn a_crashing_stdio_upstream_fails_the_call_ends_the_session_and_the_next_one_gets_a_fresh_process()
 {
    let (gw, _fx) = gateway(UpstreamKind::Stdio, "").await;
    let c = session(&gw, "2025-11-25").await;
    let crash = c.call_tool("crash", json!({})).await;
    assert_eq!(crash.status, 200);
    let err = crash.error().unwrap_or_else(|| panic!("{crash:#?}"));
    assert_eq!(err["code"], -32603);
    assert!(err["message"].as_str().unwrap().contains("exited"), "{err}");
    let after = c.request("tools/list", json!({})).await;
    assert_eq!(after.status, 404, "the client is told to re-initialize");
    let fresh = session(&gw, "2025-11-25").await;
    still_serving(&fresh).await;
    gw.stop().await;
}

#[tokio::test]
async fn a_client_resumes_a_broken_stream_with_last_event_id() {
    let (gw, _fx) = gateway(UpstreamKind::Stdio, "").await;
    let c = session(&gw, "2025-11-25").await;
    let params = json!({"name": "slow", "arguments": {"steps": 4, "delay_ms": 150}, "_meta": {"progressToken": "p"}});
    let (_, mut stream) = c.open("tools/call", params).await;
    let first = stream.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(first["params"]["progress"], 1);
    let last = stream.last_event_id.clone().expect("events carry ids");
    stream.close();
    let mut resumed = c.get_stream(Some(&last)).await;
    assert_eq!(resumed.status, 200);
    let (resp, before) = resumed
        .until(Duration::from_secs(10), |m| m.get("result").is_some())
        .await;
    let progress: Vec<u64> = before
        .iter()
        .filter_map(|m| m["params"]["progress"].as_u64())
        .collect();
    assert_eq!(progress, vec![2, 3, 4], "exactly the events after {last}");
    assert_eq!(text(&resp.unwrap()["result"]), "done after 4 steps");
    gw.stop().await;
}

#[tokio::test]
async fn the_gateway_resumes_a_broken_upstream_stream() {
    let (gw, _fx) = gateway(UpstreamKind::HttpSessionful, "").await;
    let c = session(&gw, "2025-11-25").await;
    let params = json!({"name": "drop_stream", "arguments": {"steps": 3, "delay_ms": 50}, "_meta": {"progressToken": 1}});
    let r = c.request("tools/call", params).await;
    let progress: Vec<u64> = r
        .notifications()
        .iter()
        .filter_map(|m| m["params"]["progress"].as_u64())
        .collect();
    assert_eq!(progress, vec![1, 2, 3], "{r:#?}");
    assert_eq!(text(r.result()), "done after 3 steps");
    gw.stop().await;
}

#[tokio::test]
async fn the_get_stream_carries_what_belongs_to_no_request() {
    let (gw, _fx) = gateway(UpstreamKind::HttpSessionful, "").await;
    let c = session(&gw, "2025-11-25").await;
    let mut get = c.get_stream(None).await;
    assert_eq!(get.status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = c.call_tool("notify_list_changed", json!({})).await;
    assert_eq!(text(r.result()), "sent");
    let (note, _) = get
        .until(Duration::from_secs(10), |m| {
            m["method"] == "notifications/tools/list_changed"
        })
        .await;
    assert!(
        note.is_some(),
        "list_changed never arrived on the GET stream"
    );
    gw.stop().await;
}

async fn stats(c: &Client) -> Value {
    let r = c.call_tool("stats", json!({})).await;
    serde_json::from_str::<Value>(&text(r.result())).unwrap()
}

#[tokio::test]
async fn one_upstream_session_per_client_session_not_per_call() {
    let (gw, _fx) = gateway(UpstreamKind::HttpSessionful, "").await;
    let c = session(&gw, "2025-11-25").await;
    let before = stats(&c).await["sessions_created"].as_u64().unwrap();
    for i in 0..20 {
        let r = c.call_tool("echo", json!({"message": i.to_string()})).await;
        assert_eq!(text(r.result()), format!("Echo: {i}"));
    }
    let after = stats(&c).await["sessions_created"].as_u64().unwrap();
    assert_eq!(after, before, "calls opened upstream sessions");
    let stateless = Client::new(&gw.url("fx"), Some(TOKEN), STATELESS);
    for _ in 0..5 {
        still_serving(&stateless).await;
    }
    let shared = stats(&c).await["sessions_created"].as_u64().unwrap();
    assert!(
        shared <= after + 1,
        "stateless calls share one upstream session: {after} -> {shared}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn upstream_timeouts_answer_the_client_and_cancel_upstream() {
    let (gw, _fx) = gateway(UpstreamKind::Stdio, "    timeout: 1s\n").await;
    let c = session(&gw, "2025-11-25").await;
    let r = c
        .call_tool("slow", json!({"steps": 50, "delay_ms": 100}))
        .await;
    let err = r.error().unwrap_or_else(|| panic!("{r:#?}"));
    assert_eq!(err["code"], -32001);
    let cancelled = text(c.call_tool("cancelled_requests", json!({})).await.result());
    assert_ne!(cancelled, "[]", "the upstream was told to stop");
    gw.stop().await;
}

#[tokio::test]
async fn content_type_accept_and_methods_are_checked() {
    let (gw, _fx) = gateway(UpstreamKind::Stdio, "").await;
    let c = session(&gw, "2025-11-25").await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    assert_eq!(
        c.post(&body, &[("content-type", "text/plain")])
            .await
            .status,
        415
    );
    assert_eq!(c.post(&body, &[("accept", "text/html")]).await.status, 406);
    let json_only = c.post(&body, &[("accept", "application/json")]).await;
    assert_eq!((json_only.status, json_only.sse), (200, false));
    let sse_only = c.post(&body, &[("accept", "text/event-stream")]).await;
    assert_eq!((sse_only.status, sse_only.sse), (200, true));
    let put = reqwest::Client::new()
        .put(gw.url("fx"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
    gw.stop().await;
}

/// POSTs to `/mcp/<server>` take the connection's direct route, anything
/// else the router: both must answer the same way.
#[tokio::test]
async fn the_router_answers_posts_the_direct_route_leaves_to_it() {
    let (gw, _fx) = gateway(UpstreamKind::Stdio, "").await;
    // Percent-encoded ("f%78" is "fx"): the router decodes it.
    let mut encoded = Client::new(&format!("{}/mcp/f%78", gw.base), Some(TOKEN), "2025-11-25");
    assert_eq!(encoded.initialize().await.status, 200);
    still_serving(&encoded).await;
    let mut unknown = Client::new(
        &format!("{}/mcp/n%6Fpe", gw.base),
        Some(TOKEN),
        "2025-11-25",
    );
    assert_eq!(unknown.initialize().await.status, 404);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    for path in ["/mcp/fx/", "/mcp/fx/more", "/mcp/"] {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", gw.base))
            .bearer_auth(TOKEN)
            .header("accept", "application/json, text/event-stream")
            .json(&init)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    // The direct route, with a query string, as a client may send.
    let mut plain = Client::new(
        &format!("{}?from=test", gw.url("fx")),
        Some(TOKEN),
        "2025-11-25",
    );
    assert_eq!(plain.initialize().await.status, 200);
    still_serving(&plain).await;
    gw.stop().await;
}

#[tokio::test]
async fn healthz_reports_each_upstream() {
    let cfg = format!(
        "listen: 127.0.0.1:0\nservers:\n  ok:\n    command: [{:?}, \"stdio\"]\n  broken:\n    command: [\"/nonexistent/server\"]\ngrants: []\n",
        fixture_bin().display().to_string()
    );
    let gw = start_gateway_unready(&cfg).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let body = loop {
        let resp = reqwest::get(format!("{}/healthz", gw.base)).await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        if body["servers"]["ok"]["ready"] == true && body["servers"]["broken"]["error"].is_string()
        {
            assert_eq!(status, 503);
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        body["servers"]["broken"]["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/server"),
        "{body}"
    );
    assert_eq!(body["servers"]["ok"]["transport"], "stdio");
}

#[tokio::test]
async fn an_oversized_upstream_message_fails_cleanly() {
    let (gw, _fx) = gateway(UpstreamKind::Stdio, "    max_message_bytes: 64KiB\n").await;
    let c = session(&gw, "2025-11-25").await;
    let r = c.call_tool("big", json!({"bytes": 100_000})).await;
    let err = r.error().unwrap_or_else(|| panic!("{r:#?}"));
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("max_message_bytes"),
        "{err}"
    );
    let after = c.request("tools/list", json!({})).await;
    assert_eq!(
        after.status, 404,
        "the stdio connection is gone: {after:#?}"
    );
    still_serving(&session(&gw, "2025-11-25").await).await;
    gw.stop().await;

    let (gw, _fx) = gateway(
        UpstreamKind::HttpSessionful,
        "    max_message_bytes: 64KiB\n",
    )
    .await;
    let c = session(&gw, "2025-11-25").await;
    let r = c.call_tool("big", json!({"bytes": 100_000})).await;
    assert!(r.error().is_some(), "{r:#?}");
    let ok = c.call_tool("big", json!({"bytes": 1000})).await;
    assert_eq!(
        text(ok.result()).len(),
        1000,
        "one oversized reply does not end an HTTP session"
    );
    gw.stop().await;
}

#[tokio::test]
async fn idle_sessions_expire() {
    let fixture = start_fixture(UpstreamKind::Stdio).await;
    let cfg =
        one_server_config(UpstreamKind::Stdio, &fixture, "") + "sessions:\n  idle_timeout: 1s\n";
    let gw = start_gateway(&cfg).await;
    let c = session(&gw, "2025-11-25").await;
    still_serving(&c).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(c.request("tools/list", json!({})).await.status, 404);
    assert_eq!(gw.gw.sessions.len(), 0);
    gw.stop().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fixture = start_fixture(UpstreamKind::Stdio).await;
    let cfg =
        one_server_config(UpstreamKind::Stdio, &fixture, "") + "http:\n  header_read_timeout: 1s\n";
    let gw = start_gateway(&cfg).await;
    let addr = gw.base.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /mcp/fx HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was not closed");
    let c = session(&gw, "2025-11-25").await;
    still_serving(&c).await;
    gw.stop().await;
}

#[tokio::test]
async fn healthz_follows_an_upstream_that_goes_away_and_comes_back() {
    let (gw, fixture) = gateway(UpstreamKind::HttpSessionful, "").await;
    let url = fixture.url.clone().unwrap();
    let port = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/mcp")
        .to_owned();
    drop(fixture);
    let mut c = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    let r = c.initialize().await;
    assert_eq!(r.status, 200);
    assert!(
        r.error().unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach upstream"),
        "{r:?}"
    );
    let health = reqwest::get(format!("{}/healthz", gw.base)).await.unwrap();
    assert_eq!(health.status(), 503);
    let (_child, _) = toolgate_testkit::harness::spawn_listening(
        &fixture_bin(),
        &["http", "--port", &port, "--mode", "sessionful"],
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while reqwest::get(format!("{}/healthz", gw.base))
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never became healthy again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    still_serving(&session(&gw, "2025-11-25").await).await;
    gw.stop().await;
}

#[tokio::test]
async fn unknown_methods_fields_and_meta_pass_through_untouched() {
    for kind in [UpstreamKind::Stdio, UpstreamKind::HttpSessionful] {
        let (gw, _fx) = gateway(kind, "").await;
        let c = session(&gw, "2025-11-25").await;
        let params = json!({
            "name": "describe",
            "arguments": {"nested": [1, {"y": null, "z": "é"}], "n": 1.5e300},
            "futureField": {"a": [true, false]},
            "_meta": {"vendor.example/trace": "t-1", "progressToken": 9}
        });
        let r = c.request("tools/call", params.clone()).await;
        let seen: Value = serde_json::from_str(&text(r.result())).unwrap();
        assert_eq!(seen["arguments"], params["arguments"], "{kind:?}");
        assert_eq!(seen["futureField"], params["futureField"], "{kind:?}");
        assert_eq!(seen["_meta"]["vendor.example/trace"], "t-1", "{kind:?}");
        // A method the gateway has never heard of goes upstream, which answers.
        let unknown = c
            .request("vendor.example/frobnicate", json!({"x": 1}))
            .await;
        assert_eq!(unknown.status, 200, "{kind:?}");
        assert_eq!(
            unknown.error().unwrap()["code"],
            -32601,
            "the upstream's answer: {unknown:?}"
        );
        gw.stop().await;
    }
}
