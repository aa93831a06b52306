//! The gateway's own logs, at trace level, across start, calls on a remote
//! and a stdio server, and shutdown, hold none of the secrets it was
//! given: upstream header and env values (from `${VAR}` and `${file:…}`),
//! grant tokens, the session key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{free_port, terminate};
use serde_json::json;
use tokio::time::Instant;
use toolgate_testkit::client::Client;
use toolgate_testkit::harness::{UpstreamKind, fixture_bin, start_fixture};

const UP_TOKEN: &str = "upstream-header-secret-1";
const FILE_KEY: &str = "upstream-file-secret-2";
const ENV_SECRET: &str = "stdio-env-secret-3";
const GRANT_REMOTE: &str = "grant-remote-secret-4";
const GRANT_LOCAL: &str = "grant-local-secret-5";
const SESSION_KEY: &str = "5e55105e55105e55105e55105e55105e55105e55105e55105e55105e55105e55";
const SECRETS: [&str; 6] = [
    UP_TOKEN,
    FILE_KEY,
    ENV_SECRET,
    GRANT_REMOTE,
    GRANT_LOCAL,
    SESSION_KEY,
];

#[tokio::test]
async fn trace_logs_hold_no_secret() {
    let fixture = start_fixture(UpstreamKind::HttpSessionful).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.txt"), format!("{FILE_KEY}\n")).unwrap();
    std::fs::write(dir.path().join("env.txt"), ENV_SECRET).unwrap();
    std::fs::write(
        dir.path().join("policy.json"),
        r#"{"version": "1", "default": "allow"}"#,
    )
    .unwrap();
    let port = free_port();
    let config = format!(
        "listen: 127.0.0.1:{port}
servers:
  remote:
    url: {url:?}
    headers: {{Authorization: \"Bearer ${{UP_TOKEN}}\", X-Api-Key: \"${{file:key.txt}}\"}}
  local:
    command: [{bin:?}, stdio]
    env: {{FX_SECRET: \"${{file:env.txt}}\"}}
grants:
  - {{name: r, token: \"${{GRANT_REMOTE}}\", server: remote, policy: p}}
  - {{name: l, token: \"${{GRANT_LOCAL}}\", server: local, policy: p}}
policies: {{p: policy.json}}
audit: sqlite://audit.db
",
        url = fixture.url.clone().unwrap(),
        bin = fixture_bin().display().to_string(),
    );
    let config_path = dir.path().join("toolgate.yaml");
    std::fs::write(&config_path, config).unwrap();
    let log_path = dir.path().join("gateway.log");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_toolgate"))
        .args(["--log", "trace", "serve", "--config"])
        .arg(&config_path)
        .env("UP_TOKEN", UP_TOKEN)
        .env("GRANT_REMOTE", GRANT_REMOTE)
        .env("GRANT_LOCAL", GRANT_LOCAL)
        .env("TOOLGATE_SESSION_KEY", SESSION_KEY)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut gw = common::Gateway {
        child,
        base: base.clone(),
        dir: dir.path().to_owned(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reqwest::get(format!("{base}/healthz"))
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            Instant::now() < deadline,
            "the gateway did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut remote = Client::new(
        &format!("{base}/mcp/remote"),
        Some(GRANT_REMOTE),
        "2025-11-25",
    );
    assert_eq!(remote.initialize().await.status, 200);
    let r = remote.call_tool("whoami", json!({})).await;
    assert!(
        r.result()["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains(UP_TOKEN)
    );
    remote.delete().await;
    let mut local = Client::new(
        &format!("{base}/mcp/local"),
        Some(GRANT_LOCAL),
        "2025-11-25",
    );
    assert_eq!(local.initialize().await.status, 200);
    let r = local.call_tool("env", json!({"name": "FX_SECRET"})).await;
    assert_eq!(r.result()["content"][0]["text"], ENV_SECRET);
    // Refused calls are logged too.
    let mut wrong = Client::new(
        &format!("{base}/mcp/local"),
        Some(GRANT_REMOTE),
        "2025-11-25",
    );
    assert_eq!(wrong.initialize().await.status, 403);
    terminate(&mut gw).await;

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("started upstream process"), "{log}");
    assert!(log.lines().count() > 20, "trace logging is on: {log}");
    for s in SECRETS {
        assert!(!log.contains(s), "{s} is in the log:\n{log}");
    }
}
