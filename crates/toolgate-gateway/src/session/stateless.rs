//! Stateless (2026-07-28) requests: each one is self-contained and goes out
//! on the server's shared connection.

use std::sync::Arc;

use http::HeaderMap;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use toolgate_mcp::message::to_raw;
use toolgate_mcp::{ErrorObject, Kind, Message, ProtocolVersion, RawObject, codes};

use super::forward::{Env, StatelessEnv, error_response, forward};
use super::{Sink, Work};
use crate::pipeline::{Pipeline, Principal};
use crate::runtime::ServerRuntime;
use crate::upstream::Generation;

/// Checks the `_meta` every stateless request must carry. The error says
/// what is missing or unsupported (-32602 or -32022, both HTTP 400).
pub fn check_meta(msg: &Message) -> Result<(), ErrorObject> {
    let params = RawObject::parse(msg.params())
        .map_err(|e| ErrorObject::new(codes::INVALID_PARAMS, e.to_string()))?;
    let meta = RawObject::parse(params.get("_meta"))
        .map_err(|_| ErrorObject::new(codes::INVALID_PARAMS, "params._meta must be an object"))?;
    let version: String = meta
        .get_as("io.modelcontextprotocol/protocolVersion")
        .ok_or_else(|| {
            ErrorObject::new(
                codes::INVALID_PARAMS,
                "missing _meta \"io.modelcontextprotocol/protocolVersion\"",
            )
        })?;
    let caps_ok = meta
        .get("io.modelcontextprotocol/clientCapabilities")
        .is_some_and(|c| c.get().starts_with('{'));
    if !caps_ok {
        return Err(ErrorObject::new(
            codes::INVALID_PARAMS,
            "missing _meta \"io.modelcontextprotocol/clientCapabilities\" (an object)",
        ));
    }
    match ProtocolVersion::parse(&version) {
        Some(v) if v.is_stateless() => Ok(()),
        _ => Err(unsupported_version(&version)),
    }
}

/// The -32022 error for a version this endpoint does not serve statelessly.
pub fn unsupported_version(requested: &str) -> ErrorObject {
    let supported: Vec<&str> = ProtocolVersion::ALL
        .iter()
        .rev()
        .map(|v| v.as_str())
        .collect();
    ErrorObject::new(
        codes::UNSUPPORTED_PROTOCOL_VERSION,
        "Unsupported protocol version",
    )
    .with_data(json!({"supported": supported, "requested": requested}))
}

/// Handles one stateless message; a request's answer goes to `sink`, from
/// the returned work when there is any (run it beside the reply, or detach
/// it).
pub async fn handle_stateless(
    server: Arc<ServerRuntime>,
    principal: Arc<Principal>,
    pipeline: Arc<Pipeline>,
    msg: Message,
    param_headers: HeaderMap,
    sink: Arc<dyn Sink>,
) -> Option<Work> {
    if msg.kind() != Kind::Request {
        // 2026-07-28 defines no client notifications over HTTP and clients
        // never send responses; there is nothing to forward.
        return None;
    }
    let conn = match server.shared_conn().await {
        Ok(c) => c,
        Err(e) => {
            sink.finalize(error_response(msg.id().cloned(), &e));
            return None;
        }
    };
    let upstream = server
        .profile()
        .map_or(Generation::Sessionful, |p| p.generation);
    if msg.method() == Some("subscriptions/listen") && upstream == Generation::Sessionful {
        return Some(Work::new(listen_bridge(server, msg, sink)));
    }
    let env = Env::Stateless(Arc::new(StatelessEnv {
        server,
        principal,
        conn,
        upstream,
        pipeline,
        param_headers,
    }));
    Some(Work::new(forward(env, msg, sink)))
}

/// `subscriptions/listen` on a sessionful upstream: the shared session's
/// list-change notifications, tagged with the subscription id, until the
/// client closes the stream.
async fn listen_bridge(server: Arc<ServerRuntime>, msg: Message, sink: Arc<dyn Sink>) {
    let Some(id) = msg.id().cloned() else { return };
    let params = RawObject::parse(msg.params()).unwrap_or_default();
    let wanted: RawObject = params.get_as("notifications").unwrap_or_default();
    let info = server.profile().map(|p| p.info);
    let advertised = |cap: &str| {
        info.as_ref()
            .and_then(|i| RawObject::parse(Some(&i.capabilities())).ok())
            .and_then(|c| c.get_as::<serde_json::Value>(cap))
            .is_some_and(|v| v["listChanged"] == true)
    };
    let mut honoured = serde_json::Map::new();
    let kinds = [
        (
            "toolsListChanged",
            "tools",
            "notifications/tools/list_changed",
        ),
        (
            "promptsListChanged",
            "prompts",
            "notifications/prompts/list_changed",
        ),
        (
            "resourcesListChanged",
            "resources",
            "notifications/resources/list_changed",
        ),
    ];
    let mut methods = Vec::new();
    for (key, cap, method) in kinds {
        if wanted.get_as::<bool>(key) == Some(true) && advertised(cap) {
            honoured.insert(key.into(), true.into());
            methods.push(method);
        }
    }
    let sub_id: serde_json::Value = id.to_value();
    let tag = |method: &str, mut params: serde_json::Value| {
        params["_meta"] = json!({"io.modelcontextprotocol/subscriptionId": sub_id});
        Message::notification(method, Some(to_raw(&params)))
    };
    let mut events = server.shared_events();
    sink.interim(tag(
        "notifications/subscriptions/acknowledged",
        json!({"notifications": honoured}),
    ));
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(n) => {
                    if let Some(m) = n.method().filter(|m| methods.contains(m)) {
                        sink.interim(tag(m, json!({})));
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            () = sink.closed() => return,
        }
    }
    let result = json!({"resultType": "complete", "_meta": {"io.modelcontextprotocol/subscriptionId": sub_id}});
    sink.finalize(Message::result(id, to_raw(&result)));
}
