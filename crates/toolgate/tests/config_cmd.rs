//! `toolgate config show|check`, run as a user runs them: secrets from the
//! environment, a secret file and URLs never reach the terminal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::path::Path;
use std::process::Command;

const GRANT_TOKEN: &str = "grant-secret-0123456789";
const FILE_SECRET: &str = "file-secret-abcdef";
const ENV_SECRET: &str = "env-secret-value-42";
const HEADER_SECRET: &str = "header-secret-token";
const REDIS_PASSWORD: &str = "redis-pass-xyz";
const SECRETS: [&str; 5] = [
    GRANT_TOKEN,
    FILE_SECRET,
    ENV_SECRET,
    HEADER_SECRET,
    REDIS_PASSWORD,
];

const CONFIG: &str = r#"
listen: 127.0.0.1:8899
public_url: https://gw.example.com/
servers:
  up:
    url: https://up.example/mcp
    headers:
      X-Api-Key: "${file:secret.txt}"
      Authorization: "Bearer ${UPSTREAM_TOKEN}"
  local:
    command: [srv, stdio]
    env: {API_KEY: "${CRM_KEY}"}
grants:
  - {name: alice, token: "${ALICE_TOKEN}", server: up, policy: p}
policies:
  p: policy.json
audit: sqlite://audit.db
limits: redis://:redis-pass-xyz@127.0.0.1:6379/0
"#;

/// Writes `config` and its files into a fresh directory.
fn setup(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("toolgate.yaml"), config).unwrap();
    std::fs::write(dir.path().join("secret.txt"), format!("{FILE_SECRET}\n")).unwrap();
    std::fs::write(
        dir.path().join("policy.json"),
        r#"{"version": "1", "default": "allow"}"#,
    )
    .unwrap();
    dir
}

/// Runs `toolgate config <sub> --config <dir>/toolgate.yaml` with the
/// secrets in the child's environment.
fn toolgate(sub: &str, dir: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_toolgate"))
        .args(["config", sub, "--config"])
        .arg(dir.join("toolgate.yaml"))
        .env("ALICE_TOKEN", GRANT_TOKEN)
        .env("UPSTREAM_TOKEN", HEADER_SECRET)
        .env("CRM_KEY", ENV_SECRET)
        .env_remove("TOOLGATE_SESSION_KEY")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn assert_no_secret(text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{s} leaked:\n{text}");
    }
}

#[test]
fn show_redacts_every_secret_and_resolves_what_it_can() {
    let dir = setup(CONFIG);
    let (ok, out, err) = toolgate("show", dir.path());
    assert!(ok, "{err}");
    assert_no_secret(&format!("{out}{err}"));
    // Redacted, not dropped: the names stay, the values go.
    assert!(out.contains("X-Api-Key: <redacted>"), "{out}");
    assert!(out.contains("Authorization: <redacted>"), "{out}");
    assert!(out.contains("API_KEY: <redacted>"), "{out}");
    assert!(out.contains("token: <redacted>"), "{out}");
    assert!(
        out.contains("redis://:<redacted>@127.0.0.1:6379/0"),
        "{out}"
    );
    // Settings that are not secret, and derived facts.
    assert!(out.contains("url: https://up.example/mcp"), "{out}");
    assert!(out.contains("up: https://gw.example.com/mcp/up"), "{out}");
    let sink = format!(
        "audit_sink: sqlite://{}",
        dir.path().join("audit.db").display()
    );
    assert!(out.contains(&sink), "{out}");
    let store = format!("grant_store: {}", &sink["audit_sink: ".len()..]);
    assert!(out.contains(&store), "{out}");
}

#[test]
fn check_says_ok_or_names_the_field() {
    let dir = setup(CONFIG);
    let (ok, out, err) = toolgate("check", dir.path());
    assert!(ok, "{err}");
    assert!(out.starts_with("ok  "), "{out}");
    assert!(out.contains("2 servers · 1 grants · 1 policies"), "{out}");

    // A validation error names the field.
    let dir = setup(&CONFIG.replace("server: up, policy", "server: nope, policy"));
    let (ok, out, err) = toolgate("check", dir.path());
    assert!(!ok);
    assert!(err.contains("grants[0]"), "{err}");
    assert!(err.contains("nope"), "{err}");
    assert_no_secret(&format!("{out}{err}"));

    // A missing secret file names the field and the path.
    let dir = setup(&CONFIG.replace("${file:secret.txt}", "${file:missing.txt}"));
    let (ok, out, err) = toolgate("check", dir.path());
    assert!(!ok);
    assert!(err.contains("servers.up.headers.X-Api-Key"), "{err}");
    assert!(err.contains("missing.txt"), "{err}");
    // The cause is said once, not again as the error's source.
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    assert_no_secret(&format!("{out}{err}"));

    // A policy file that does not compile is caught as `serve` would.
    let dir = setup(CONFIG);
    std::fs::write(dir.path().join("policy.json"), "{\"version\": \"9\"}").unwrap();
    let (ok, _, err) = toolgate("check", dir.path());
    assert!(!ok);
    assert!(err.contains("policies.p"), "{err}");
}

/// `serve` says what failed at start and its cause once: most errors show
/// their cause in their message and also return it as `source()`.
#[test]
fn serve_names_a_missing_config_or_policy_file_and_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |config: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_toolgate"))
            .args(["serve", "--config"])
            .arg(config)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = serve(&dir.path().join("absent.yaml"));
    assert!(err.contains("absent.yaml"), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");

    let config = "listen: 127.0.0.1:0\nservers:\n  fx:\n    command: [x]\ngrants:\n  - {name: t, token: abcdefghijklmnopqrstuv, server: fx, policy: p}\npolicies:\n  p: gone.json\naudit:\n  sink: none\n";
    std::fs::write(dir.path().join("toolgate.yaml"), config).unwrap();
    let err = serve(&dir.path().join("toolgate.yaml"));
    assert!(err.contains("gone.json"), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}
