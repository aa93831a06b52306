//! Starting a session: the client's `initialize`.
//!
//! For a sessionful upstream with a connection of its own, the client's
//! `initialize` goes upstream unchanged and the upstream's answer comes
//! back unchanged: client and server negotiate the revision between them.
//! For a shared connection or a stateless upstream, the gateway answers
//! from what the upstream told it when it connected.

use std::sync::Arc;

use serde_json::value::RawValue;
use toolgate_mcp::{ErrorObject, Message, ProtocolVersion, RawObject, codes};

use super::forward::error_response;
use crate::runtime::{ServerRuntime, SessionConn, TransportKind};
use crate::upstream::handshake::{self, ServerInfo};
use crate::upstream::{Generation, UpstreamConn};

/// A successful handshake, ready to become a session.
pub struct Initialized {
    /// The server.
    pub server: Arc<ServerRuntime>,
    /// The connection the session will use.
    pub conn: Arc<UpstreamConn>,
    /// The upstream's generation.
    pub upstream: Generation,
    /// True when `conn` is shared.
    pub shared: bool,
    /// The revision agreed with the client.
    pub protocol: ProtocolVersion,
    /// The client's `initialize` params.
    pub client_params: Option<Box<RawValue>>,
    /// How the upstream is reached.
    pub transport: TransportKind,
}

/// A failed handshake: the answer to send the client.
pub type InitializeError = Message;

/// Runs the client's `initialize`. Returns the session's parts and the
/// response to send.
pub(crate) async fn initialize(
    server: Arc<ServerRuntime>,
    msg: &Message,
) -> Result<(Initialized, Message), InitializeError> {
    let id = msg.id().cloned();
    let requested = msg
        .params_view()
        .ok()
        .and_then(|v| v.protocol_version)
        .and_then(|v| ProtocolVersion::parse(&v));
    let sc = server.session_conn().await.map_err(|e| {
        server.report_unreachable(&e);
        error_response(id.clone(), &e)
    })?;
    let SessionConn {
        conn,
        profile,
        shared,
    } = sc;
    let client_params = msg.params().map(ToOwned::to_owned);
    if shared || profile.generation == Generation::Stateless {
        let protocol = match requested {
            Some(v) if !v.is_stateless() => v,
            _ => ProtocolVersion::LATEST_SESSIONFUL,
        };
        let result = synthesized_result(&profile.info, protocol);
        let Some(id) = id else {
            return Err(invalid("initialize must be a request"));
        };
        let init = Initialized {
            server,
            conn,
            upstream: profile.generation,
            shared,
            protocol,
            client_params,
            transport: profile.transport,
        };
        return Ok((init, Message::result(id, result)));
    }
    let timeout = server.config().connect_timeout.0;
    let resp = match handshake::call(&conn, msg.clone(), timeout).await {
        Ok(resp) => resp,
        Err(e) => {
            server.report_unreachable(&e);
            conn.close().await;
            return Err(error_response(id, &e));
        }
    };
    let Ok(info) = handshake::initialize_result(&resp) else {
        // The upstream refused: its answer goes to the client as it is.
        conn.close().await;
        return Err(resp);
    };
    let protocol = info.protocol.unwrap_or(ProtocolVersion::LATEST_SESSIONFUL);
    conn.set_protocol(protocol);
    let init = Initialized {
        server,
        conn,
        upstream: Generation::Sessionful,
        shared: false,
        protocol,
        client_params,
        transport: profile.transport,
    };
    Ok((init, resp))
}

/// An `InitializeResult` built by the gateway from the upstream's own
/// handshake answer.
fn synthesized_result(info: &ServerInfo, protocol: ProtocolVersion) -> Box<RawValue> {
    let mut obj = RawObject::default();
    obj.set_value("protocolVersion", protocol.as_str());
    obj.set("capabilities", info.capabilities());
    let server_info = info.server_info().unwrap_or_else(|| {
        toolgate_mcp::message::to_raw(&serde_json::json!({
            "name": handshake::GATEWAY_NAME,
            "version": handshake::GATEWAY_VERSION,
        }))
    });
    obj.set("serverInfo", server_info);
    if let Some(i) = info.instructions() {
        obj.set("instructions", i);
    }
    obj.into_raw()
}

fn invalid(text: &str) -> Message {
    Message::error(None, &ErrorObject::new(codes::INVALID_REQUEST, text))
}
