//! OpenTelemetry through the real binary: request spans exported over OTLP
//! (HTTP, protobuf) to a collector the test runs, continued from the
//! client's `traceparent` and passed on upstream in `_meta.traceparent`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::sync::Arc;

use parking_lot::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use common::{start_logging, terminate};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};

type Received = Arc<Mutex<Vec<Span>>>;

async fn collect(State(spans): State<Received>, body: Bytes) -> &'static str {
    let req = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
    let mut all = spans.lock();
    for rs in req.resource_spans {
        for ss in rs.scope_spans {
            all.extend(ss.spans);
        }
    }
    ""
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Any::StringValue(s) => s.clone(),
            Any::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}

/// A collector on loopback: its URL and the spans it has received.
async fn collector() -> (String, Received) {
    let spans: Received = Arc::default();
    let app = axum::Router::new()
        .route("/v1/traces", post(collect))
        .with_state(spans.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

fn telemetry(collector: &str) -> String {
    format!("telemetry:\n  otlp_endpoint: {collector}\n  service_name: toolgate-test\n")
}

#[tokio::test]
async fn request_spans_reach_the_collector_and_the_upstream() {
    let (collector, spans) = collector().await;

    let mut gw = start_logging(
        "traces",
        &telemetry(&collector),
        &["--log", "debug", "--log-format", "json"],
    )
    .await;
    let mut c = gw.client();
    c.initialize().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let r = c
        .request(
            "tools/call",
            json!({"name": "describe", "arguments": {},
                   "_meta": {"traceparent": format!("00-{trace_id}-{client_span}-01")}}),
        )
        .await;
    let seen: Value =
        serde_json::from_str(r.result()["content"][0]["text"].as_str().unwrap()).unwrap();
    let upstream_tp = seen["_meta"]["traceparent"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = upstream_tp.split('-').collect();
    assert_eq!(
        parts[1], trace_id,
        "the upstream continues the client's trace"
    );
    assert_ne!(parts[2], client_span, "its parent is the gateway's span");
    c.call_tool("crash", json!({})).await;
    c.call_tool("echo", json!({"message": "argument-value-xyz"}))
        .await;
    terminate(&mut gw).await;

    // Structured logs: JSON lines, without tokens or argument values.
    let log = std::fs::read_to_string(gw.dir.join("gateway.log")).unwrap();
    assert!(log.lines().count() > 5, "{log}");
    for line in log.lines() {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(entry["level"].is_string(), "{line}");
        assert!(!line.contains(common::TOKEN), "a token in the log: {line}");
        assert!(
            !line.contains("argument-value-xyz"),
            "an argument value in the log: {line}"
        );
    }

    let spans = spans.lock().clone();
    let call = spans
        .iter()
        .find(|s| s.name == "tools/call describe")
        .unwrap_or_else(|| panic!("no span for the call: {spans:#?}"));
    assert_eq!(hex(&call.trace_id), trace_id);
    assert_eq!(hex(&call.parent_span_id), client_span);
    assert_eq!(hex(&call.span_id), parts[2], "the span upstream sees");
    assert_eq!(attr(call, "mcp.method").as_deref(), Some("tools/call"));
    assert_eq!(attr(call, "mcp.target").as_deref(), Some("describe"));
    assert_eq!(attr(call, "toolgate.verdict").as_deref(), Some("allow"));
    assert_eq!(
        attr(call, "toolgate.rule").as_deref(),
        Some("(default allow)")
    );
    assert_eq!(attr(call, "toolgate.server").as_deref(), Some("fx"));
    let denied = spans
        .iter()
        .find(|s| s.name == "tools/call crash")
        .unwrap_or_else(|| panic!("no span for the denial: {spans:#?}"));
    assert_eq!(attr(denied, "toolgate.verdict").as_deref(), Some("deny"));
    assert_eq!(
        attr(denied, "toolgate.rule").as_deref(),
        Some("/tools/crash")
    );
    for s in &spans {
        for kv in &s.attributes {
            let text = format!("{:?}", kv.value);
            assert!(!text.contains(common::TOKEN), "a token in span {}", s.name);
        }
    }
}

/// The request span is a DEBUG span, so the log output leaves it alone at
/// the default level (`info`); the exporter must still take it.
#[tokio::test]
async fn at_the_default_log_level_request_spans_are_still_exported() {
    let (collector, spans) = collector().await;
    let mut gw = start_logging("traces-info", &telemetry(&collector), &["--log", "info"]).await;
    let mut c = gw.client();
    c.initialize().await;
    c.call_tool("describe", json!({})).await;
    terminate(&mut gw).await;

    let spans = spans.lock().clone();
    let call = spans
        .iter()
        .find(|s| s.name == "tools/call describe")
        .unwrap_or_else(|| panic!("no span for the call: {spans:#?}"));
    assert_eq!(attr(call, "toolgate.verdict").as_deref(), Some("allow"));
    assert_eq!(attr(call, "toolgate.server").as_deref(), Some("fx"));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
