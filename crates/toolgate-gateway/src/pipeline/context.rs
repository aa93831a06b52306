//! The per-request context every phase reads.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::value::RawValue;
use toolgate_mcp::{Message, ProtocolVersion};

/// Who is calling: the grant the request authenticated as, or the OAuth
/// subject its access token names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The grant's name (never its token); `oauth:<sub>` for an OAuth
    /// caller, so limits with `scope: grant` count per subject.
    pub grant: Arc<str>,
    /// The server the grant is bound to.
    pub server: Arc<str>,
    /// The policy named by the grant, if any.
    pub policy: Option<Arc<str>>,
    /// OAuth: the token's `sub`.
    pub subject: Option<Arc<str>>,
    /// OAuth: the token's `client_id` (or `azp`).
    pub client: Option<Arc<str>>,
    /// OAuth: every claim of the token (for `principal.claims.*`).
    pub claims: Option<Arc<serde_json::Value>>,
}

impl Principal {
    /// A grant's principal (no OAuth identity).
    pub fn grant(grant: &str, server: &str, policy: Option<&str>) -> Principal {
        Principal {
            grant: grant.into(),
            server: server.into(),
            policy: policy.map(Into::into),
            subject: None,
            client: None,
            claims: None,
        }
    }

    /// Whether `other` is the same caller: same grant (or OAuth subject),
    /// server and policy. A refreshed access token carries new claims
    /// (`exp`, `iat`, `jti`) but stays the same caller, so sessions compare
    /// with this, not `==`.
    pub fn same_caller(&self, other: &Principal) -> bool {
        self.grant == other.grant && self.server == other.server && self.policy == other.policy
    }
}

/// What a request acts on, when its method names something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `tools/call`.
    Tool(String),
    /// `resources/read`, `resources/subscribe`, `resources/unsubscribe`.
    Resource(String),
    /// `prompts/get`.
    Prompt(String),
    /// Anything else.
    None,
}

/// One client request on its way through the pipeline.
#[derive(Debug)]
pub struct CallContext {
    /// A gateway-wide number for logs and audit.
    pub id: u64,
    /// The upstream server's name.
    pub server: Arc<str>,
    /// The caller.
    pub principal: Arc<Principal>,
    /// The downstream session, for sessionful clients.
    pub session: Option<Arc<str>>,
    /// The client's protocol revision.
    pub protocol: ProtocolVersion,
    /// The JSON-RPC method.
    pub method: String,
    /// The tool, resource or prompt the method names.
    pub target: Target,
    /// `params.arguments`, raw, for tools and prompts.
    pub arguments: Option<Box<RawValue>>,
    /// When the gateway received the request (wall clock).
    pub received: SystemTime,
    /// When the gateway received the request (monotonic).
    pub started: tokio::time::Instant,
}

impl CallContext {
    /// Reads the method and target of a request. `Err` when the params are
    /// malformed where the gateway must read them (answered with -32602).
    pub fn target_of(msg: &Message) -> Result<(Target, Option<Box<RawValue>>), String> {
        let method = msg.method().unwrap_or_default();
        let needs = matches!(
            method,
            "tools/call"
                | "prompts/get"
                | "resources/read"
                | "resources/subscribe"
                | "resources/unsubscribe"
        );
        if !needs {
            return Ok((Target::None, None));
        }
        let view = msg
            .params_view()
            .map_err(|e| format!("invalid params: {e}"))?;
        let target = match method {
            "tools/call" => Target::Tool(view.name.ok_or("params.name is required")?),
            "prompts/get" => Target::Prompt(view.name.ok_or("params.name is required")?),
            _ => Target::Resource(view.uri.ok_or("params.uri is required")?),
        };
        Ok((target, view.arguments))
    }

    /// The tool name, for `tools/call`.
    pub fn tool(&self) -> Option<&str> {
        match &self.target {
            Target::Tool(t) => Some(t),
            _ => None,
        }
    }
}
