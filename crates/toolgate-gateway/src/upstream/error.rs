//! What can go wrong talking to an upstream.

/// A failure of the upstream connection (not a JSON-RPC error the upstream
/// chose to send: those are ordinary responses).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The stdio process could not be started.
    #[error("cannot start {command}: {reason}")]
    Spawn {
        /// The program.
        command: String,
        /// The OS error.
        reason: String,
    },
    /// The process exited or the stream closed.
    #[error("upstream server exited ({0})")]
    Exited(String),
    /// The HTTP server could not be reached.
    #[error("cannot reach upstream: {0}")]
    Connect(String),
    /// The HTTP server answered with an unexpected status.
    #[error("upstream answered HTTP {status}: {body}")]
    Http {
        /// The status code.
        status: u16,
        /// The start of the body, for the log.
        body: String,
    },
    /// The upstream no longer knows our session (HTTP 404).
    #[error("upstream session expired")]
    SessionExpired,
    /// No answer in time.
    #[error("upstream did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The upstream sent something that is not MCP.
    #[error("upstream protocol error: {0}")]
    Protocol(String),
    /// The gateway closed the connection.
    #[error("upstream connection closed")]
    Closed,
    /// Too many messages queued for a slow client.
    #[error("client is not reading fast enough")]
    Overloaded,
}

impl UpstreamError {
    /// A stable label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            UpstreamError::Spawn { .. } => "spawn",
            UpstreamError::Exited(_) => "exited",
            UpstreamError::Connect(_) => "connect",
            UpstreamError::Http { .. } => "http_status",
            UpstreamError::SessionExpired => "session_expired",
            UpstreamError::Timeout(_) => "timeout",
            UpstreamError::Protocol(_) => "protocol",
            UpstreamError::Closed => "closed",
            UpstreamError::Overloaded => "overloaded",
        }
    }
}
