//! Python `mcp-proxy` (sparfenyuk, on PyPI) as a peer: it serves
//! Streamable HTTP at `/mcp` and fronts a stdio server, so it runs the
//! same fixture in its stdio mode (`toolgate-load fixture --stdio`). What
//! it adds over the fixture is what an MCP-aware Python proxy costs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::child::{self, ChildProc};
use crate::error::HarnessError;
use crate::target::Target;

/// Where `scripts/bench-compare.sh --peers` installs it.
const VENV_SCRIPT: &str = "target/bench-peers/venv/bin/mcp-proxy";

/// The `mcp-proxy` script: `given`, else the bench venv in the workspace,
/// else `mcp-proxy` on `PATH`.
pub fn find(given: Option<&Path>) -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut candidates: Vec<PathBuf> = given.map(Path::to_path_buf).into_iter().collect();
    candidates.push(workspace.join(VENV_SCRIPT));
    child::find_program("mcp-proxy", &candidates)
}

/// Starts `mcp-proxy` on a free loopback port in front of `exe fixture
/// --stdio`.
pub async fn start(
    mcp_proxy: &Path,
    exe: &Path,
    cpu: Option<usize>,
) -> Result<Target, HarnessError> {
    let (dir, listen) = child::scratch("toolgate-load-mcp-proxy")?;
    let log_path = dir.path().join("mcp-proxy.log");
    let log = std::fs::File::create(&log_path).map_err(HarnessError::io("creating a log"))?;
    let port = listen.port().to_string();
    let mut cmd = child::command(
        mcp_proxy,
        [
            "--host".as_ref(),
            "127.0.0.1".as_ref(),
            "--port".as_ref(),
            port.as_ref(),
            "--log-level".as_ref(),
            "WARNING".as_ref(),
            "--".as_ref(),
            exe.as_os_str(),
            "fixture".as_ref(),
            "--stdio".as_ref(),
        ],
        cpu,
    );
    cmd.stdout(Stdio::null()).stderr(Stdio::from(log));
    let mut proc = ChildProc::spawn("mcp-proxy", cmd)?;
    if let Err(e) = child::wait_listening(&mut proc, listen, Duration::from_secs(60)).await {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        proc.stop(Duration::from_secs(1)).await;
        return Err(HarnessError::Usage(format!("{e}; log: {tail}")));
    }
    let endpoint = super::endpoint(super::Peer::McpProxy, listen)?;
    let pid = proc.pid();
    let version = version(mcp_proxy);
    let note = format!("mcp-proxy {version} in front of the fixture on stdio");
    Ok(Target::new("mcp-proxy", endpoint, pid, note)
        .owning(proc)
        .with_dir(dir))
}

fn version(mcp_proxy: &Path) -> String {
    std::process::Command::new(mcp_proxy)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "(version unknown)".into())
}
