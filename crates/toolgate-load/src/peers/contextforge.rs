//! IBM ContextForge (`mcp-contextforge-gateway` on PyPI) as a peer: an
//! MCP gateway that registers upstream servers and re-exposes their tools
//! through "virtual servers".
//!
//! It is set up the way its quick start does for local development, in a
//! temporary directory: SQLite, authentication off, loopback upstreams
//! allowed (its SSRF guard refuses them otherwise), rate limits off. Then, over its admin
//! API: register the fixture (`POST /gateways`), list the tools it
//! imported (`GET /tools`, where echo is now `fixture-echo`), make a
//! virtual server of them (`POST /servers`) and load
//! `/servers/<id>/mcp`. Authentication off flatters it, if anything.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use crate::child::{self, ChildProc};
use crate::client::{self, Endpoint};
use crate::error::HarnessError;
use crate::target::Target;

/// Where `scripts/bench-compare.sh --peers` installs it.
const VENV_SCRIPT: &str = "target/bench-peers/contextforge/bin/mcpgateway";

/// The `mcpgateway` script: `given`, else the bench venv, else `PATH`.
pub fn find(given: Option<&Path>) -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut candidates: Vec<PathBuf> = given.map(Path::to_path_buf).into_iter().collect();
    candidates.push(workspace.join(VENV_SCRIPT));
    child::find_program("mcpgateway", &candidates)
}

/// Its environment: development mode, loopback only, no auth, SQLite in
/// `dir`. The secrets are throwaway values for a loopback benchmark.
fn env(dir: &Path) -> Vec<(&'static str, String)> {
    let fixed = [
        ("AUTH_REQUIRED", "false"),
        ("MCP_REQUIRE_AUTH", "false"),
        ("ALLOW_UNAUTHENTICATED_ADMIN", "true"),
        ("REQUIRE_USER_IN_DB", "false"),
        ("MCPGATEWAY_ADMIN_API_ENABLED", "true"),
        ("MCPGATEWAY_UI_ENABLED", "false"),
        ("SSRF_ALLOW_LOCALHOST", "true"),
        // Its default limits (100 tool calls a minute, then a lockout) are
        // protection for real deployments; a load test would only measure
        // 429s.
        ("RATE_LIMITING_ENABLED", "false"),
        ("RATE_LIMIT_LOCKOUT_ENABLED", "false"),
        ("TOOL_RATE_LIMIT", "100000000"),
        ("ENVIRONMENT", "development"),
        ("DEV_MODE", "true"),
        ("LOG_LEVEL", "ERROR"),
        (
            "JWT_SECRET_KEY",
            "toolgate-load-jwt-secret-0123456789abcdef",
        ),
        (
            "AUTH_ENCRYPTION_SECRET",
            "toolgate-load-enc-secret-0123456789abcdef",
        ),
        ("PLATFORM_ADMIN_PASSWORD", "Toolgate-Load-Admin-0123"),
        ("BASIC_AUTH_PASSWORD", "Toolgate-Load-Basic-0123"),
    ];
    let mut env: Vec<(&'static str, String)> =
        fixed.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    env.push((
        "DATABASE_URL",
        format!("sqlite:///{}", dir.join("mcp.db").display()),
    ));
    env
}

/// Starts ContextForge, registers the fixture at `upstream_url` and makes
/// a virtual server of its tools.
pub async fn start(
    mcpgateway: &Path,
    upstream_url: &str,
    cpu: Option<usize>,
) -> Result<Target, HarnessError> {
    let (dir, listen) = child::scratch("toolgate-load-contextforge")?;
    let log_path = dir.path().join("contextforge.log");
    let log = std::fs::File::create(&log_path).map_err(HarnessError::io("creating a log"))?;
    let port = listen.port().to_string();
    let mut cmd = child::command(
        mcpgateway,
        ["--host", "127.0.0.1", "--port", port.as_str()],
        cpu,
    );
    cmd.current_dir(dir.path())
        .envs(env(dir.path()))
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    let mut proc = ChildProc::spawn("contextforge", cmd)?;
    let set_up = async {
        wait_health(&mut proc, listen, Duration::from_secs(120)).await?;
        register(listen, upstream_url).await
    };
    let path = match set_up.await {
        Ok(p) => p,
        Err(e) => {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: String = log.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
            proc.stop(Duration::from_secs(2)).await;
            return Err(HarnessError::Usage(format!("{e}; log: {tail}")));
        }
    };
    let endpoint = Endpoint::parse(&format!("http://{listen}{path}"), None)
        .map_err(|source| HarnessError::Client {
            target: "contextforge".into(),
            source,
        })?
        .with_echo_tool("fixture-echo");
    let pid = proc.pid();
    let note = format!(
        "ContextForge {} (dev mode, auth off, SQLite)",
        version(mcpgateway)
    );
    Ok(Target::new("contextforge", endpoint, pid, note)
        .owning(proc)
        .with_dir(dir))
}

async fn wait_health(
    proc: &mut ChildProc,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<(), HarnessError> {
    let poll = Duration::from_millis(250);
    child::wait_ready(proc, timeout, poll, "/health not 200", || async move {
        client::get_status(addr, "/health")
            .await
            .is_ok_and(|s| s.is_success())
    })
    .await?;
    Ok(())
}

async fn admin(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, HarnessError> {
    let what = format!("contextforge {method} {path}");
    let (status, bytes) = client::plain_request(addr, method, path, body.map(|b| b.to_string()))
        .await
        .map_err(|source| HarnessError::Client {
            target: what.clone(),
            source,
        })?;
    if !status.is_success() {
        let text: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
        return Err(HarnessError::Usage(format!(
            "{what}: HTTP {status}: {text}"
        )));
    }
    serde_json::from_slice(&bytes).map_err(|e| HarnessError::Usage(format!("{what}: {e}")))
}

/// Registers the upstream and makes a virtual server; returns its MCP path.
async fn register(addr: SocketAddr, upstream_url: &str) -> Result<String, HarnessError> {
    let gateway = json!({"name": "fixture", "url": upstream_url, "transport": "STREAMABLEHTTP"});
    admin(addr, Method::POST, "/gateways", Some(gateway)).await?;
    let tools = admin(addr, Method::GET, "/tools", None).await?;
    let list = tools
        .as_array()
        .or_else(|| tools.get("items").and_then(Value::as_array))
        .cloned()
        .unwrap_or_default();
    let ids: Vec<Value> = list.iter().filter_map(|t| t.get("id").cloned()).collect();
    if ids.is_empty() {
        return Err(HarnessError::Usage("contextforge imported no tools".into()));
    }
    let server = json!({"server": {"name": "load", "associated_tools": ids}});
    let created = admin(addr, Method::POST, "/servers", Some(server)).await?;
    let id = created
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| HarnessError::Usage("contextforge: POST /servers returned no id".into()))?;
    Ok(format!("/servers/{id}/mcp"))
}

fn version(mcpgateway: &Path) -> String {
    let Some(bin) = mcpgateway.parent() else {
        return "(version unknown)".into();
    };
    std::process::Command::new(bin.join("pip"))
        .args(["show", "mcp-contextforge-gateway"])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("Version: ").map(str::to_owned))
        })
        .unwrap_or_else(|| "(version unknown)".into())
}
