//! Optional peers measured in the same run, in front of the same fixture:
//! nginx as a plain HTTP reverse proxy (the floor: what forwarding bytes
//! costs), a proxy built from toolgate's own stack that does no work (the
//! floor of that stack), Python `mcp-proxy` (an MCP-aware proxy) and IBM
//! ContextForge (an MCP gateway). A peer that is not installed is reported as such and the
//! run goes on without it.

pub mod contextforge;
pub mod hyper_proxy;
pub mod mcp_proxy;
pub mod nginx;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::client::Endpoint;
use crate::error::HarnessError;

/// A peer the harness knows how to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// nginx, `proxy_pass` with a keep-alive upstream.
    Nginx,
    /// `toolgate-load hyper-proxy`: tokio and hyper forwarding bytes, no
    /// work (always installed: it is this program).
    Hyper,
    /// sparfenyuk's `mcp-proxy` (pip), in front of the fixture on stdio.
    McpProxy,
    /// IBM ContextForge (pip), in front of the fixture over HTTP.
    ContextForge,
}

impl Peer {
    /// Every peer.
    pub const ALL: [Peer; 4] = [Peer::Nginx, Peer::Hyper, Peer::McpProxy, Peer::ContextForge];

    /// Its name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Nginx => "nginx",
            Peer::Hyper => "hyper",
            Peer::McpProxy => "mcp-proxy",
            Peer::ContextForge => "contextforge",
        }
    }

    /// Whether it forwards to the HTTP fixture `direct` measures (whose CPU
    /// is then reported beside it); `mcp-proxy` runs a stdio fixture of its
    /// own.
    pub fn fronts_the_http_fixture(self) -> bool {
        !matches!(self, Peer::McpProxy)
    }

    /// The peer called `name`.
    pub fn parse(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Where the peers' programs are (`None`: look in the usual places).
#[derive(Clone, Debug, Default)]
pub struct PeerPaths {
    /// The nginx binary.
    pub nginx: Option<PathBuf>,
    /// The `mcp-proxy` script.
    pub mcp_proxy: Option<PathBuf>,
    /// ContextForge's `mcpgateway` script.
    pub contextforge: Option<PathBuf>,
}

/// The MCP endpoint a peer listening on `listen` serves (`/mcp`).
fn endpoint(peer: Peer, listen: SocketAddr) -> Result<Endpoint, HarnessError> {
    Endpoint::parse(&format!("http://{listen}/mcp"), None).map_err(|source| HarnessError::Client {
        target: peer.name().into(),
        source,
    })
}
