//! How a request ended, and the audit record built from it.

use std::sync::Arc;
use std::time::SystemTime;

/// What happened upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamOutcome {
    /// The gateway answered without forwarding (denied, hidden, failed
    /// before forwarding).
    NotForwarded,
    /// A result.
    Ok,
    /// A `tools/call` result with `isError: true`.
    ToolError,
    /// A JSON-RPC error with this code.
    RpcError(i64),
    /// No answer in time.
    Timeout,
    /// The transport failed (label from `UpstreamError::label`).
    Failed(&'static str),
    /// The client cancelled the request.
    Cancelled,
}

impl UpstreamOutcome {
    /// A stable label for audit and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            UpstreamOutcome::NotForwarded => "not_forwarded",
            UpstreamOutcome::Ok => "ok",
            UpstreamOutcome::ToolError => "tool_error",
            UpstreamOutcome::RpcError(_) => "rpc_error",
            UpstreamOutcome::Timeout => "timeout",
            UpstreamOutcome::Failed(label) => label,
            UpstreamOutcome::Cancelled => "cancelled",
        }
    }

    /// True when a reserved count should be kept: the call ran (or may
    /// have run, when the client cancelled it). A JSON-RPC error, a
    /// timeout or a transport failure gives the count back.
    pub fn counts(&self) -> bool {
        matches!(
            self,
            UpstreamOutcome::Ok | UpstreamOutcome::ToolError | UpstreamOutcome::Cancelled
        )
    }
}

/// One decision, as the audit phase receives it.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    /// When the request arrived.
    pub time: SystemTime,
    /// The gateway's request number.
    pub request_id: u64,
    /// The grant's name.
    pub grant: Arc<str>,
    /// The server.
    pub server: Arc<str>,
    /// The downstream session.
    pub session: Option<Arc<str>>,
    /// The JSON-RPC method.
    pub method: String,
    /// The tool, resource or prompt.
    pub target: Option<String>,
    /// `allow`, `deny`, `hide`, `approval`, or a refusal kind.
    pub verdict: &'static str,
    /// The rule that fired.
    pub rule: Option<String>,
    /// The policy version.
    pub policy_version: Option<String>,
    /// The reason shown to the agent, for refusals.
    pub reason: Option<String>,
    /// What happened upstream.
    pub upstream: UpstreamOutcome,
    /// Time spent in the gateway, excluding the upstream.
    pub gateway_micros: u64,
    /// Time spent waiting for the upstream.
    pub upstream_micros: u64,
    /// The raw arguments, for the audit sink to hash and list the keys of
    /// (and, only when the operator opts in, to store redacted). Never
    /// logged.
    pub arguments: Option<Box<serde_json::value::RawValue>>,
}
