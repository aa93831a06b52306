//! Metrics on the admin listener.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use serde_json::json;
use toolgate_testkit::client::Client;
use toolgate_testkit::harness::{
    TOKEN, UpstreamKind, config_with_policy, start_fixture, start_gateway,
};

const POLICY: &str = r#"{"version": "1", "default": "allow", "tools": {"crash": {"action": "deny", "reason": "no crashing"}}}"#;

#[tokio::test]
async fn metrics_count_decisions_refusals_and_processes() {
    let fixture = start_fixture(UpstreamKind::Stdio).await;
    let gw = start_gateway(&config_with_policy(
        UpstreamKind::Stdio,
        &fixture,
        "",
        POLICY,
    ))
    .await;
    let mut c = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    c.initialize().await;
    c.request("tools/list", json!({})).await;
    for _ in 0..3 {
        c.call_tool("echo", json!({"message": "m"})).await;
    }
    c.call_tool("crash", json!({})).await;
    c.call_tool("made-up-by-the-agent", json!({})).await;
    let mut anonymous = Client::new(&gw.url("fx"), None, "2025-11-25");
    anonymous.initialize().await;

    let text = reqwest::get(format!("{}/metrics", gw.admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let has = |needle: &str| assert!(text.contains(needle), "missing {needle}:\n{text}");
    has(
        r#"toolgate_calls_total{server="fx",method="tools/call",tool="echo",verdict="allow",upstream="ok"} 3"#,
    );
    has(
        r#"toolgate_calls_total{server="fx",method="tools/call",tool="crash",verdict="deny",upstream="not_forwarded"} 1"#,
    );
    has(
        r#"toolgate_calls_total{server="fx",method="tools/call",tool="other",verdict="allow",upstream="rpc_error"} 1"#,
    );
    has(r#"toolgate_http_refusals_total{reason="unauthorized"} 1"#);
    has(r#"toolgate_upstream_process_starts_total{server="fx"}"#);
    has("toolgate_sessions_open 1");
    has(r#"toolgate_gateway_overhead_seconds_count{server="fx",method="tools/call"} 5"#);
    has(r#"toolgate_upstream_seconds_count{server="fx",method="tools/call"} 4"#);
    assert!(
        !text.contains("made-up-by-the-agent"),
        "agent-chosen names never become labels"
    );
    let health = reqwest::get(format!("{}/healthz", gw.admin)).await.unwrap();
    assert_eq!(health.status(), 200);
    gw.stop().await;
}
