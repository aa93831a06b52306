//! `toolgate grant create|list|revoke` against gateways that are running:
//! a grant made by the CLI works at once on every replica sharing the
//! store, is listed without its token, and once revoked is refused by every
//! replica on its next request. Real processes, a real PostgreSQL (and the
//! embedded SQLite default).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::path::Path;

use common::{Gateway, start};
use serde_json::{Value, json};
use toolgate_testkit::client::Client;

/// Runs the CLI; returns (success, stdout, stderr).
fn cli(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_toolgate"))
        .arg("grant")
        .arg(args[0])
        .arg("--config")
        .arg(config)
        .args(&args[1..])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Initializes and calls `echo` as `token`: `Ok(text)` or `Err(status)`.
async fn call(gw: &Gateway, token: &str) -> Result<String, u16> {
    let mut c = Client::new(&format!("{}/mcp/fx", gw.base), Some(token), "2025-11-25");
    let init = c
        .post(
            &c.request_body(
                1,
                "initialize",
                json!({
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}),
            ),
            &[],
        )
        .await;
    if init.status != 200 {
        return Err(init.status);
    }
    c.session = init.header("mcp-session-id").map(str::to_owned);
    c.notify("notifications/initialized", None).await;
    let r = c.call_tool("echo", json!({"message": "hi"})).await;
    if r.status != 200 {
        return Err(r.status);
    }
    Ok(r.result()["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

async fn create_use_revoke(replicas: &[Gateway]) {
    let config = replicas[0].config();
    let (ok, token, err) = cli(
        &config,
        &[
            "create",
            "--name",
            "alice-laptop",
            "--server",
            "fx",
            "--policy",
            "p",
        ],
    );
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    assert!(token.starts_with("tg_") && token.len() > 40, "{token}");
    assert!(err.contains("shown once"), "{err}");

    for gw in replicas {
        assert_eq!(call(gw, &token).await, Ok("Echo: hi".into()));
    }

    // Listed, with the config's grant, never with a token or its hash.
    let (ok, list, err) = cli(&config, &["list", "--json"]);
    assert!(ok, "{err}");
    assert!(!list.contains(&token));
    let rows: Vec<Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let alice = rows.iter().find(|r| r["name"] == "alice-laptop").unwrap();
    assert_eq!(alice["source"], "store");
    assert_eq!(alice["server"], "fx");
    assert_eq!(alice["policy"], "p");
    assert!(alice["revoked_at"].is_null());
    assert!(
        rows.iter()
            .any(|r| r["name"] == "tester" && r["source"] == "config")
    );

    // Refusals: a taken name, an unknown server or policy, a config grant.
    let (ok, _, err) = cli(
        &config,
        &["create", "--name", "alice-laptop", "--server", "fx"],
    );
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = cli(&config, &["create", "--name", "tester", "--server", "fx"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = cli(&config, &["create", "--name", "b", "--server", "nope"]);
    assert!(!ok && err.contains("no server named"), "{err}");
    let (ok, _, err) = cli(
        &config,
        &["create", "--name", "b", "--server", "fx", "--policy", "q"],
    );
    assert!(!ok && err.contains("no policy named"), "{err}");
    let (ok, _, err) = cli(&config, &["revoke", "tester"]);
    assert!(!ok && err.contains("configuration file"), "{err}");
    let (ok, _, err) = cli(&config, &["revoke", "nobody"]);
    assert!(!ok && err.contains("no grant named"), "{err}");

    // Revoked: the next request on every replica is refused.
    let (ok, _, err) = cli(&config, &["revoke", "alice-laptop"]);
    assert!(ok, "{err}");
    for gw in replicas {
        assert_eq!(call(gw, &token).await, Err(401));
        // The config's grant is unaffected.
        assert_eq!(call(gw, common::TOKEN).await, Ok("Echo: hi".into()));
    }
    let (_, list, _) = cli(&config, &["list", "--json"]);
    let alice: Value = list
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["name"] == "alice-laptop")
        .unwrap();
    assert!(alice["revoked_at"].is_string(), "{alice}");

    // The token appears in no log and no audit record.
    for gw in replicas {
        let log = std::fs::read_to_string(gw.dir.join("gateway.log")).unwrap();
        assert!(!log.contains(&token));
        let db = std::fs::read(gw.db()).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&db).contains(&token));
    }
}

#[tokio::test]
async fn cli_grants_on_the_embedded_store() {
    // The default store is the audit log's SQLite file.
    let gw = start("grants-sqlite", "").await;
    create_use_revoke(std::slice::from_ref(&gw)).await;
}

#[tokio::test]
async fn cli_grants_are_shared_and_revoked_across_replicas() {
    let pg = toolgate_testdb::postgres().await;
    let extra = format!("grant_store: {:?}\n", pg.url());
    let replicas = vec![
        start("grants-pg-0", &extra).await,
        start("grants-pg-1", &extra).await,
    ];
    create_use_revoke(&replicas).await;
}
