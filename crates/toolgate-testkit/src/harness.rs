//! Starting real things for tests: the fixture upstream as a child process
//! on a real loopback port, and the gateway in-process on another.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use toolgate_gateway::Gateway;
use toolgate_gateway::pipeline::Pipeline;
use toolgate_gateway::server::Running;

/// The token every test grant uses.
pub const TOKEN: &str = "test-token-0123456789abcdef";
/// A second grant's token (bound to the same server).
pub const OTHER_TOKEN: &str = "other-token-0123456789abcdef";

/// How the fixture upstream is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamKind {
    /// A child process per session, over stdio.
    Stdio,
    /// Streamable HTTP, sessionful only (like a 2025 SDK server).
    HttpSessionful,
    /// Streamable HTTP, stateless only (a 2026-07-28 server).
    HttpStateless,
    /// Legacy HTTP+SSE (2024-11-05).
    Sse,
}

impl UpstreamKind {
    /// Every kind.
    pub const ALL: [UpstreamKind; 4] = [
        UpstreamKind::Stdio,
        UpstreamKind::HttpSessionful,
        UpstreamKind::HttpStateless,
        UpstreamKind::Sse,
    ];
}

/// A fixture server process; killed when dropped.
pub struct Fixture {
    /// Its URL (HTTP kinds), e.g. `http://127.0.0.1:4312/mcp` or `/sse`.
    pub url: Option<String>,
    _child: Option<Child>,
}

/// The fixture binary: next to the test binary (`target/<profile>/`), or
/// `TOOLGATE_FIXTURE`.
pub fn fixture_bin() -> PathBuf {
    if let Ok(p) = std::env::var("TOOLGATE_FIXTURE") {
        return PathBuf::from(p);
    }
    let mut dir = std::env::current_exe().unwrap_or_default();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("toolgate-fixture")
}

/// Starts the fixture for `kind` (nothing for stdio: the gateway spawns it).
pub async fn start_fixture(kind: UpstreamKind) -> Fixture {
    let args: &[&str] = match kind {
        UpstreamKind::Stdio => {
            return Fixture {
                url: None,
                _child: None,
            };
        }
        UpstreamKind::HttpSessionful => &["http", "--port", "0", "--mode", "sessionful"],
        UpstreamKind::HttpStateless => &["http", "--port", "0", "--mode", "stateless"],
        UpstreamKind::Sse => &["sse", "--port", "0"],
    };
    let (child, base) = spawn_listening(&fixture_bin(), args).await;
    let url = match kind {
        UpstreamKind::Sse => format!("{base}/sse"),
        _ => format!("{base}/mcp"),
    };
    Fixture {
        url: Some(url),
        _child: Some(child),
    }
}

/// Spawns a program that prints `listening on <url>` on stdout and returns
/// it with that URL.
pub async fn spawn_listening(bin: &Path, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e} (build it with cargo build --bins)",
                bin.display()
            )
        });
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut lines = BufReader::new(stdout).lines();
    let find = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("listening on ") {
                return Some(url.trim().to_owned());
            }
        }
        None
    };
    let url = tokio::time::timeout(Duration::from_secs(20), find)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{} did not report its address", bin.display()));
    (child, url)
}

/// The config text of a server entry for `kind`.
pub fn server_yaml(kind: UpstreamKind, fixture: &Fixture) -> String {
    let bin = fixture_bin();
    match kind {
        UpstreamKind::Stdio => format!(
            "    command: [{:?}, \"stdio\"]\n",
            bin.display().to_string()
        ),
        UpstreamKind::Sse => format!(
            "    url: {:?}\n    transport: sse\n",
            fixture.url.clone().unwrap_or_default()
        ),
        UpstreamKind::HttpSessionful | UpstreamKind::HttpStateless => {
            format!("    url: {:?}\n", fixture.url.clone().unwrap_or_default())
        }
    }
}

/// A gateway running in this process.
pub struct TestGateway {
    /// Its state.
    pub gw: Arc<Gateway>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The admin listener, `http://127.0.0.1:PORT`.
    pub admin: String,
    running: Option<Running>,
    admin_running: Option<Running>,
}

impl TestGateway {
    /// The MCP endpoint of a server.
    pub fn url(&self, server: &str) -> String {
        format!("{}/mcp/{server}", self.base)
    }

    /// Shuts down (drains, closes sessions and upstreams).
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        if let Some(r) = self.admin_running.take() {
            r.shutdown().await;
        }
        self.gw.shutdown().await;
    }
}

/// Starts a gateway from config text with the standard pipeline (its
/// policies) and waits until every upstream is ready.
pub async fn start_gateway(yaml: &str) -> TestGateway {
    let gw = launch(yaml, None).await;
    wait_ready(gw).await
}

/// Starts a gateway without waiting for its upstreams (some may never be
/// ready).
pub async fn start_gateway_unready(yaml: &str) -> TestGateway {
    launch(yaml, None).await
}

/// Starts a gateway with a given pipeline and waits until every upstream
/// is ready.
pub async fn start_gateway_with(yaml: &str, pipeline: Pipeline) -> TestGateway {
    let gw = launch(yaml, Some(pipeline)).await;
    wait_ready(gw).await
}

async fn wait_ready(gw: TestGateway) -> TestGateway {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !gw.gw.all_ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "upstreams not ready: {:?}",
            health(&gw.gw)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw
}

async fn launch(yaml: &str, pipeline: Option<Pipeline>) -> TestGateway {
    // Each gateway gets its own audit database unless the test chose one:
    // concurrent tests must not share a hash chain.
    let owned;
    let yaml = if yaml.contains("\naudit:") {
        yaml
    } else {
        let db = std::env::temp_dir().join(format!(
            "toolgate-test-audit-{:x}.db",
            rand::random::<u64>()
        ));
        owned = format!("{yaml}audit: \"sqlite://{}\"\n", db.display());
        &owned
    };
    let config = toolgate_config::parse(
        yaml,
        Path::new("/tmp/toolgate-test.yaml"),
        &toolgate_config::Env::process(),
    )
    .unwrap_or_else(|e| panic!("test config: {e}\n{yaml}"));
    let gw = match pipeline {
        Some(p) => Gateway::new(config, p).unwrap_or_else(|e| panic!("test gateway: {e}")),
        None => Gateway::standard(config)
            .await
            .unwrap_or_else(|e| panic!("test gateway: {e}")),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    gw.start_background();
    let running = toolgate_gateway::server::serve(gw.clone(), listener)
        .unwrap_or_else(|e| panic!("serve: {e}"));
    let base = format!("http://{}", running.addr);
    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let admin_running = toolgate_gateway::server::serve_admin(gw.clone(), admin_listener)
        .unwrap_or_else(|e| panic!("serve admin: {e}"));
    let admin = format!("http://{}", admin_running.addr);
    TestGateway {
        gw,
        base,
        admin,
        running: Some(running),
        admin_running: Some(admin_running),
    }
}

fn health(gw: &Gateway) -> Vec<(String, bool, Option<String>)> {
    gw.servers
        .iter()
        .map(|(n, s)| {
            let h = s.health();
            (n.clone(), h.ready, h.error)
        })
        .collect()
}

/// A config with one server `fx` of `kind` and two grants, both under a
/// policy that allows everything.
pub fn one_server_config(kind: UpstreamKind, fixture: &Fixture, extra: &str) -> String {
    config_with_policy(
        kind,
        fixture,
        extra,
        r#"{"version": "1", "default": "allow"}"#,
    )
}

/// A config with one server `fx` of `kind` and two grants (`tester`,
/// `other`), both under the policy `policy` (its text).
pub fn config_with_policy(
    kind: UpstreamKind,
    fixture: &Fixture,
    extra: &str,
    policy: &str,
) -> String {
    let name = format!("p{:x}", rand::random::<u64>());
    format!(
        "listen: 127.0.0.1:0\nservers:\n  fx:\n{}{extra}grants:\n  - {{name: tester, token: {TOKEN}, server: fx, policy: p}}\n  - {{name: other, token: {OTHER_TOKEN}, server: fx, policy: p}}\npolicies:\n  p: {:?}\n",
        server_yaml(kind, fixture),
        policy_file(&name, policy).display().to_string(),
    )
}

/// Writes a policy file for a test (atomically: concurrent tests may load
/// the same one) and returns its path.
pub fn policy_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("toolgate-test-policies-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.json"));
    let tmp = dir.join(format!(".{name}.{:x}.tmp", rand::random::<u64>()));
    std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    std::fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
    path
}
