//! The gateway's own handshakes with upstreams: `initialize` for sessionful
//! servers, `server/discover` for stateless ones, and telling them apart.

use std::time::Duration;

use serde_json::value::RawValue;
use toolgate_mcp::message::to_raw;
use toolgate_mcp::{Id, Message, ProtocolVersion, RawObject, codes};

use super::exchange::Step;
use super::{UpstreamConn, UpstreamError};

/// The gateway's `clientInfo` and `serverInfo` name.
pub(crate) const GATEWAY_NAME: &str = "toolgate";
/// The gateway's version, as reported in `clientInfo`.
pub(crate) const GATEWAY_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a handshake learned about the upstream.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    /// The version the upstream chose (sessionful) or prefers (stateless).
    pub protocol: Option<ProtocolVersion>,
    /// The raw `initialize` or `server/discover` result.
    pub result: Box<RawValue>,
}

impl ServerInfo {
    fn field(&self, key: &str) -> Option<Box<RawValue>> {
        let obj = RawObject::parse(Some(&self.result)).ok()?;
        obj.get(key).map(ToOwned::to_owned)
    }

    /// `capabilities`, or `{}`.
    pub fn capabilities(&self) -> Box<RawValue> {
        self.field("capabilities")
            .unwrap_or_else(|| to_raw(&serde_json::json!({})))
    }

    /// `serverInfo` (top level, or 2026-07-28's `_meta` key).
    pub fn server_info(&self) -> Option<Box<RawValue>> {
        self.field("serverInfo").or_else(|| {
            let meta = RawObject::parse(self.field("_meta").as_deref()).ok()?;
            meta.get("io.modelcontextprotocol/serverInfo")
                .map(ToOwned::to_owned)
        })
    }

    /// `instructions`, if any.
    pub fn instructions(&self) -> Option<Box<RawValue>> {
        self.field("instructions")
    }

    /// True when the upstream advertises `capabilities.<name>`.
    pub fn has_capability(&self, name: &str) -> bool {
        RawObject::parse(Some(&self.capabilities()))
            .map(|c| c.get(name).is_some())
            .unwrap_or(false)
    }
}

/// `initialize` params the gateway sends for itself (shared sessions,
/// probes): no client capabilities, so the upstream sends no server→client
/// requests that nobody could answer.
pub(crate) fn gateway_initialize_params() -> Box<RawValue> {
    to_raw(&serde_json::json!({
        "protocolVersion": ProtocolVersion::LATEST_SESSIONFUL.as_str(),
        "capabilities": {},
        "clientInfo": {"name": GATEWAY_NAME, "version": GATEWAY_VERSION},
    }))
}

/// The `_meta` members of a stateless request made by the gateway itself.
pub(crate) fn gateway_request_meta() -> serde_json::Value {
    serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": ProtocolVersion::LATEST.as_str(),
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": GATEWAY_NAME, "version": GATEWAY_VERSION},
    })
}

/// Sends a request and waits for its response, ignoring interim messages.
pub(crate) async fn call(
    conn: &UpstreamConn,
    msg: Message,
    timeout: Duration,
) -> Result<Message, UpstreamError> {
    let mut exchange = conn.request(msg).await?;
    let wait = async {
        loop {
            match exchange.next().await {
                Some(Step::Response(r)) => return r,
                Some(Step::Event(_)) => {}
                None => return Err(UpstreamError::Closed),
            }
        }
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| UpstreamError::Timeout(timeout))?
}

/// The gateway's own `initialize` + `notifications/initialized`.
pub(crate) async fn initialize(
    conn: &UpstreamConn,
    timeout: Duration,
) -> Result<ServerInfo, HandshakeError> {
    let req = Message::request(
        Id::from_u64(0),
        "initialize",
        Some(gateway_initialize_params()),
    );
    let resp = call(conn, req, timeout).await?;
    let info = initialize_result(&resp)?;
    if let Some(v) = info.protocol {
        conn.set_protocol(v);
    }
    conn.notify(Message::notification("notifications/initialized", None))
        .await?;
    Ok(info)
}

/// Reads an `initialize` response.
pub(crate) fn initialize_result(resp: &Message) -> Result<ServerInfo, HandshakeError> {
    if let Some(err) = resp.error_object() {
        return Err(HandshakeError::Refused(err));
    }
    let result = resp.result_raw().ok_or_else(|| {
        HandshakeError::Upstream(UpstreamError::Protocol("initialize: no result".into()))
    })?;
    let obj = RawObject::parse(Some(result))
        .map_err(|e| HandshakeError::Upstream(UpstreamError::Protocol(e.to_string())))?;
    let protocol = obj
        .get_as::<String>("protocolVersion")
        .and_then(|v| ProtocolVersion::parse(&v));
    Ok(ServerInfo {
        protocol,
        result: result.to_owned(),
    })
}

/// The gateway's own `server/discover`.
pub(crate) async fn discover(
    conn: &UpstreamConn,
    timeout: Duration,
) -> Result<ServerInfo, HandshakeError> {
    let params = serde_json::json!({ "_meta": gateway_request_meta() });
    let req = Message::request(
        Id::from_string("discover"),
        "server/discover",
        Some(to_raw(&params)),
    );
    let resp = call(conn, req, timeout).await?;
    if let Some(err) = resp.error_object() {
        return Err(HandshakeError::Refused(err));
    }
    let result = resp.result_raw().ok_or_else(|| {
        HandshakeError::Upstream(UpstreamError::Protocol("discover: no result".into()))
    })?;
    let obj = RawObject::parse(Some(result))
        .map_err(|e| HandshakeError::Upstream(UpstreamError::Protocol(e.to_string())))?;
    let versions: Vec<String> = obj.get_as("supportedVersions").unwrap_or_default();
    if !versions
        .iter()
        .any(|v| v == ProtocolVersion::LATEST.as_str())
    {
        return Err(HandshakeError::Upstream(UpstreamError::Protocol(format!(
            "server/discover lists no version this gateway speaks: {versions:?}"
        ))));
    }
    conn.set_protocol(ProtocolVersion::LATEST);
    Ok(ServerInfo {
        protocol: Some(ProtocolVersion::LATEST),
        result: result.to_owned(),
    })
}

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    /// The connection failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The upstream answered with a JSON-RPC error.
    #[error("upstream refused: {} ({})", .0.message, .0.code)]
    Refused(toolgate_mcp::ErrorObject),
}

impl HandshakeError {
    /// True when the answer proves the server speaks 2026-07-28 (a modern
    /// error code): the client must not fall back to `initialize`.
    pub(crate) fn is_modern(&self) -> bool {
        match self {
            HandshakeError::Refused(e) => matches!(
                e.code,
                codes::HEADER_MISMATCH
                    | codes::MISSING_CLIENT_CAPABILITY
                    | codes::UNSUPPORTED_PROTOCOL_VERSION
            ),
            HandshakeError::Upstream(_) => false,
        }
    }

    /// True when an HTTP status says "not a Streamable HTTP endpoint"
    /// (the legacy HTTP+SSE fallback rule).
    pub(crate) fn suggests_legacy_sse(&self) -> bool {
        matches!(
            self,
            HandshakeError::Upstream(UpstreamError::Http {
                status: 400 | 404 | 405,
                ..
            })
        )
    }
}
