//! Who is calling, as the upstream sees it: the configured credentials
//! (`headers`, from literals and `${file:…}`) on every request the gateway
//! makes, and never the client's own token.
//!
//! A recording relay sits between the gateway and the fixture, so every
//! request is seen — `initialize`, calls, the GET stream, `DELETE`, the
//! legacy SSE stream and its POSTs — not only those a tool can report.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, Method};
use parking_lot::Mutex;
use serde_json::{Value, json};
use toolgate_testkit::client::Client;
use toolgate_testkit::harness::{
    OTHER_TOKEN, TOKEN, UpstreamKind, fixture_bin, policy_file, start_fixture, start_gateway,
};

const UPSTREAM_AUTH: &str = "Bearer upstream-secret";
const API_KEY: &str = "api-key-from-a-file-0123";
const ENV_SECRET: &str = "env-secret-from-a-file-4567";

/// One request the upstream received.
#[derive(Debug)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: String,
}

/// A relay to the fixture that records every request.
struct Relay {
    upstream: String,
    client: reqwest::Client,
    seen: Mutex<Vec<Seen>>,
}

async fn record_and_forward(State(relay): State<Arc<Relay>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20).await.unwrap();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    relay.seen.lock().push(Seen {
        method: parts.method.clone(),
        path: path.to_owned(),
        headers: parts.headers.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let mut out = relay
        .client
        .request(parts.method, format!("{}{path}", relay.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if ![HOST, CONTENT_LENGTH, CONNECTION, TRANSFER_ENCODING].contains(name) {
            out = out.header(name, value);
        }
    }
    let resp = match out.send().await {
        Ok(r) => r,
        Err(e) => return (http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let mut back = Response::builder().status(resp.status());
    for (name, value) in resp.headers() {
        if ![CONTENT_LENGTH, CONNECTION, TRANSFER_ENCODING].contains(name) {
            back = back.header(name, value);
        }
    }
    // Streamed, so SSE events pass as they come.
    back.body(Body::from_stream(resp.bytes_stream())).unwrap()
}

/// Starts a relay to `upstream` (`http://host:port`); returns it and its
/// own `http://host:port`.
async fn start_relay(upstream: &str) -> (Arc<Relay>, String) {
    let relay = Arc::new(Relay {
        upstream: upstream.to_owned(),
        client: reqwest::Client::new(),
        seen: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .fallback(record_and_forward)
        .with_state(relay.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (relay, format!("http://{addr}"))
}

/// Secret files in a fresh directory, removed on drop.
struct Secrets(PathBuf);

impl Secrets {
    fn new() -> Secrets {
        let dir = std::env::temp_dir().join(format!("toolgate-creds-{:x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        // A trailing newline, as `echo` writes: it must not reach the header.
        std::fs::write(dir.join("api-key"), format!("{API_KEY}\n")).unwrap();
        std::fs::write(dir.join("env-secret"), format!("{ENV_SECRET}\r\n")).unwrap();
        Secrets(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Secrets {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A gateway with server `fx` (`kind`, through the relay at `url`) holding
/// the upstream credentials, and server `local` (the fixture over stdio)
/// with a secret in its environment; grant `tester` (TOKEN) reaches `fx`,
/// grant `other` (OTHER_TOKEN) reaches `local`.
fn config(kind: UpstreamKind, url: &str, secrets: &Secrets) -> String {
    let transport = match kind {
        UpstreamKind::Sse => "    transport: sse\n",
        _ => "",
    };
    let policy = policy_file(
        &format!("creds-{:x}", rand::random::<u64>()),
        r#"{"version": "1", "default": "allow"}"#,
    );
    format!(
        "listen: 127.0.0.1:0
servers:
  fx:
    url: {url:?}
{transport}    headers:
      Authorization: {UPSTREAM_AUTH:?}
      X-Api-Key: \"${{file:{key}}}\"
  local:
    command: [{bin:?}, \"stdio\"]
    env: {{FX_SECRET: \"${{file:{env}}}\"}}
grants:
  - {{name: tester, token: {TOKEN}, server: fx, policy: p}}
  - {{name: other, token: {OTHER_TOKEN}, server: local, policy: p}}
policies:
  p: {policy:?}
",
        key = secrets.file("api-key"),
        env = secrets.file("env-secret"),
        bin = fixture_bin().display().to_string(),
        policy = policy.display().to_string(),
    )
}

fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until the relay has seen a request with `method` (the gateway
/// sends some in the background).
async fn wait_for(relay: &Relay, method: Method) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !relay.seen.lock().iter().any(|s| s.method == method) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the upstream never got a {method}: {:#?}",
            relay.seen.lock()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every request carried the configured credentials, once, and nothing of
/// the client's token (in any header or body).
fn assert_credentials(seen: &[Seen]) {
    assert!(!seen.is_empty());
    for s in seen {
        let values = |name: &str| -> Vec<&str> {
            s.headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect()
        };
        let what = format!("{} {}", s.method, s.path);
        assert_eq!(values("authorization"), [UPSTREAM_AUTH], "{what}");
        assert_eq!(values("x-api-key"), [API_KEY], "{what}");
        for (name, value) in &s.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert!(
                !value.contains(TOKEN),
                "{what}: the client's token went upstream in {name}"
            );
        }
        assert!(!s.body.contains(TOKEN), "{what}: token in the body");
    }
}

/// The calls a client makes, through the gateway, on `fx`.
async fn exercise(gw_url: &str, kind: UpstreamKind) {
    let mut c = Client::new(gw_url, Some(TOKEN), "2025-11-25");
    let init = c.initialize().await;
    assert_eq!(init.status, 200, "{init:#?}");
    let r = c.call_tool("echo", json!({"message": "hi"})).await;
    assert_eq!(text(r.result()), "Echo: hi");
    if kind == UpstreamKind::HttpSessionful {
        // The fixture's own view agrees with the relay's.
        let whoami = c.call_tool("whoami", json!({})).await;
        let seen: Value = serde_json::from_str(&text(whoami.result())).unwrap();
        assert_eq!(seen["authorization"], UPSTREAM_AUTH, "{seen}");
    }
    let stream = c.get_stream(None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.close();
    let deleted = c.delete().await;
    assert!((200..300).contains(&deleted), "DELETE: {deleted}");
}

async fn check(kind: UpstreamKind) {
    let fixture = start_fixture(kind).await;
    let fixture_url = fixture.url.clone().unwrap();
    let (origin, path) = fixture_url.split_at(
        fixture_url
            .find("/mcp")
            .or(fixture_url.find("/sse"))
            .unwrap(),
    );
    let (relay, relay_base) = start_relay(origin).await;
    let secrets = Secrets::new();
    let gw = start_gateway(&config(kind, &format!("{relay_base}{path}"), &secrets)).await;
    exercise(&gw.url("fx"), kind).await;
    match kind {
        UpstreamKind::HttpSessionful => {
            wait_for(&relay, Method::GET).await;
            wait_for(&relay, Method::DELETE).await;
        }
        UpstreamKind::Sse => wait_for(&relay, Method::GET).await,
        UpstreamKind::HttpStateless | UpstreamKind::Stdio => {}
    }
    wait_for(&relay, Method::POST).await;
    {
        let seen = relay.seen.lock();
        let bodies: String = seen.iter().map(|s| s.body.as_str()).collect();
        assert!(bodies.contains("tools/call"), "{seen:#?}");
        if kind != UpstreamKind::HttpStateless {
            assert!(bodies.contains("\"initialize\""), "{seen:#?}");
        }
        assert_credentials(&seen);
    }

    // A stdio server gets its `env` (from a secret file) and not the
    // client's token.
    let mut c = Client::new(&gw.url("local"), Some(OTHER_TOKEN), "2025-11-25");
    assert_eq!(c.initialize().await.status, 200);
    let env = c.call_tool("env", json!({"name": "FX_SECRET"})).await;
    assert_eq!(text(env.result()), ENV_SECRET);
    gw.stop().await;
    // Whatever the gateway sent while shutting down too.
    assert_credentials(&relay.seen.lock());
}

#[tokio::test]
async fn streamable_http_sessionful_gets_configured_credentials_only() {
    check(UpstreamKind::HttpSessionful).await;
}

#[tokio::test]
async fn streamable_http_stateless_gets_configured_credentials_only() {
    check(UpstreamKind::HttpStateless).await;
}

#[tokio::test]
async fn legacy_sse_gets_configured_credentials_only() {
    check(UpstreamKind::Sse).await;
}
