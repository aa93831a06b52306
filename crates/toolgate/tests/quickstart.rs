//! The README's first command, for real: the `toolgate` binary serving the
//! quickstart config, in front of the bundled demo CRM, reached over HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use toolgate_testdb::free_port;
use toolgate_testkit::client::{Client, STATELESS};

#[tokio::test]
async fn the_quickstart_serves_the_demo_crm() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let original = std::fs::read_to_string(root.join("examples/quickstart/toolgate.yaml")).unwrap();
    let port = free_port();
    let config = original.replace(
        "listen: 127.0.0.1:8800",
        &format!("listen: 127.0.0.1:{port}"),
    );
    assert_ne!(config, original, "the quickstart listens on 127.0.0.1:8800");
    let dir = std::env::temp_dir().join(format!("toolgate-quickstart-{port}"));
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::copy(
        root.join("examples/quickstart/policies/crm.json"),
        dir.join("policies/crm.json"),
    )
    .unwrap();
    let path = dir.join("toolgate.yaml");
    std::fs::write(&path, config).unwrap();

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_toolgate"))
        .args(["serve", "--config"])
        .arg(&path)
        .env_remove("ALICE_TOKEN")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
    let logged = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Ok(Some(line)) = log.next_line().await {
            all.push(line);
        }
        all
    });

    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(wait_healthy(&format!("{base}/healthz")).await, 200);

    let mut c = Client::new(
        &format!("{base}/mcp/crm"),
        Some("alice-demo-token-change-me"),
        "2025-06-18",
    );
    let init = c.initialize().await;
    assert_eq!(init.result()["serverInfo"]["name"], "toolgate-demo-crm");
    let tools = c.request("tools/list", json!({})).await;
    let names: Vec<&str> = tools.result()["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        24,
        "25 tools, getFile hidden by the quickstart policy: {names:?}"
    );
    assert!(!names.contains(&"getFile"));
    let big = c
        .call_tool("createDeal", json!({"title": "Huge", "amount": "50000"}))
        .await;
    assert_eq!(big.result()["isError"], true, "{big:?}");
    let lead = c
        .call_tool("createLead", json!({"title": "From the quickstart test"}))
        .await;
    assert_eq!(
        lead.result()["structuredContent"]["lead"]["TITLE"],
        "From the quickstart test"
    );
    let stateless = Client::new(
        &format!("{base}/mcp/crm"),
        Some("ci-demo-token-change-me"),
        STATELESS,
    );
    let summary = stateless.call_tool("getCrmSummary", json!({})).await;
    assert_eq!(summary.result()["resultType"], "complete");

    child.start_kill().unwrap();
    let _ = child.wait().await;
    let lines = logged.await.unwrap();
    let tagged = lines.iter().any(|l| {
        l.contains("toolgate::upstream::stderr")
            && l.contains("server=\"crm\"")
            && l.contains("demo CRM serving MCP on stdio")
    });
    assert!(
        tagged,
        "the demo server's stderr is in the gateway's log, tagged:\n{}",
        lines.join("\n")
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Waits until `url` answers 200 (the gateway is up and its upstream ready).
async fn wait_healthy(url: &str) -> u16 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = health_status(url).await;
        if status == 200 {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url} never answered 200 (last: {status})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn health_status(url: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let Ok(mut s) = tokio::net::TcpStream::connect(&authority).await else {
        return 0;
    };
    s.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf).await;
    buf.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}
