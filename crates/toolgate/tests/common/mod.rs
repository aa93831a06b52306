//! The real `toolgate` binary in front of the fixture, for tests that need
//! a process to signal or kill.
#![allow(dead_code, reason = "each test file uses a part")]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::time::Instant;
use toolgate_testkit::client::Client;
use toolgate_testkit::harness::fixture_bin;

pub(crate) const TOKEN: &str = "audit-test-token-0123456789";
pub(crate) const POLICY: &str = r#"{"version": "1", "default": "allow", "tools": {"crash": {"action": "deny", "reason": "no crashing"}}}"#;

pub(crate) struct Gateway {
    pub(crate) child: tokio::process::Child,
    pub(crate) base: String,
    pub(crate) dir: PathBuf,
}

impl Gateway {
    pub(crate) fn db(&self) -> PathBuf {
        self.dir.join("audit.db")
    }
    pub(crate) fn config(&self) -> PathBuf {
        self.dir.join("toolgate.yaml")
    }
    pub(crate) fn client(&self) -> Client {
        Client::new(&format!("{}/mcp/fx", self.base), Some(TOKEN), "2025-11-25")
    }
}

pub(crate) use toolgate_testdb::free_port;

/// Starts `toolgate serve` with server `fx` (the fixture over stdio), grant
/// `tester`, an SQLite audit log in its directory and `extra` appended to
/// the config (more of the `audit:` section, or other top-level keys).
pub(crate) async fn start(name: &str, extra: &str) -> Gateway {
    start_logging(name, extra, &[]).await
}

/// [`start`] with logging options before `serve` (e.g. `--log debug`);
/// stderr goes to `gateway.log` in the gateway's directory.
pub(crate) async fn start_logging(name: &str, extra: &str, log_args: &[&str]) -> Gateway {
    launch(name, POLICY, extra, log_args, &[]).await
}

/// [`start`] under another policy (its text).
pub(crate) async fn start_with_policy(name: &str, policy: &str, extra: &str) -> Gateway {
    launch(name, policy, extra, &[], &[]).await
}

/// [`start`] with environment variables set for the gateway.
pub(crate) async fn start_with_env(name: &str, env: &[(&str, &str)]) -> Gateway {
    launch(name, POLICY, "", &[], env).await
}

async fn launch(
    name: &str,
    policy: &str,
    extra: &str,
    log_args: &[&str],
    env: &[(&str, &str)],
) -> Gateway {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("toolgate-{name}-{port}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("policy.json"), policy).unwrap();
    let config = format!(
        "listen: 127.0.0.1:{port}\nservers:\n  fx:\n    command: [{:?}, \"stdio\"]\ngrants:\n  - {{name: tester, token: {TOKEN}, server: fx, policy: p}}\npolicies:\n  p: policy.json\naudit:\n  sink: sqlite://audit.db\n{extra}",
        fixture_bin().display().to_string()
    );
    std::fs::write(dir.join("toolgate.yaml"), config).unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_toolgate"))
        .args(log_args)
        .envs(env.iter().copied())
        .args(["serve", "--config"])
        .arg(dir.join("toolgate.yaml"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("gateway.log")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
            && r.status() == 200
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Gateway { child, base, dir }
}

/// Sends SIGTERM and waits (at most 20 s) for a clean exit.
pub(crate) async fn terminate(gw: &mut Gateway) {
    let pid = gw.child.id().expect("running");
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(20), gw.child.wait())
        .await
        .expect("the gateway exits after SIGTERM")
        .expect("wait");
    assert!(status.success(), "{status}");
}
