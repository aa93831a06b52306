//! Bridging protocol generations.
//!
//! - A sessionful client in front of a stateless upstream: each forwarded
//!   request gets the `_meta` a 2026-07-28 server requires (the client's
//!   capabilities and info from its `initialize`, its log level), and an
//!   `input_required` result is turned into real server→client requests on
//!   the client's stream, whose answers are sent back in a retry.
//! - A stateless client in front of a sessionful upstream: the gateway keeps
//!   the upstream session, answers `server/discover` from the upstream's
//!   `initialize` result, and adds what 2026-07-28 results must carry
//!   (`resultType`, and `ttlMs`/`cacheScope` on lists and reads).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use serde_json::value::RawValue;
use toolgate_mcp::message::to_raw;
use toolgate_mcp::{ErrorObject, Id, Message, ProtocolVersion, RawObject, codes};

use super::forward::{Env, input_wait};
use super::{Pending, Session, Sink, empty_object};
use crate::upstream::Generation;
use crate::upstream::handshake::ServerInfo;

/// Most `input_required` rounds bridged for one call.
const MAX_INPUT_ROUNDS: u32 = 8;

/// Methods whose 2026-07-28 results carry caching hints.
const CACHEABLE: [&str; 6] = [
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "server/discover",
];

/// Session requests the gateway answers itself when the upstream is
/// stateless (the methods 2026-07-28 removed).
pub(super) fn answer_for_stateless_upstream(
    session: &Arc<Session>,
    msg: &Message,
    id: Id,
) -> Option<Message> {
    match msg.method()? {
        "logging/setLevel" => {
            let level = RawObject::parse(msg.params())
                .ok()
                .and_then(|p| p.get_as::<String>("level"));
            *session.log_level.lock() = level;
            Some(Message::result(id, empty_object()))
        }
        method @ ("resources/subscribe" | "resources/unsubscribe") => {
            let uri = RawObject::parse(msg.params())
                .ok()
                .and_then(|p| p.get_as::<String>("uri"));
            let Some(uri) = uri else {
                return Some(Message::error(
                    Some(id),
                    &ErrorObject::new(codes::INVALID_PARAMS, "params.uri is required"),
                ));
            };
            let changed = {
                let mut subs = session.resource_subscriptions.lock();
                if method == "resources/subscribe" {
                    subs.insert(uri)
                } else {
                    subs.remove(&uri)
                }
            };
            if changed {
                session.restart_listen();
            }
            Some(Message::result(id, empty_object()))
        }
        _ => None,
    }
}

/// The reason of a client's `notifications/cancelled`.
pub(super) fn cancel_reason(msg: &Message) -> String {
    RawObject::parse(msg.params())
        .ok()
        .and_then(|p| p.get_as::<String>("reason"))
        .unwrap_or_else(|| "cancelled by the client".to_owned())
}

/// Stateless requests the gateway answers itself: `server/discover` when
/// the upstream is sessionful.
pub(super) fn answer_stateless_locally(env: &Env, msg: &Message) -> Option<Message> {
    let Env::Stateless(s) = env else { return None };
    if s.upstream == Generation::Stateless || msg.method() != Some("server/discover") {
        return None;
    }
    let info = s.server.profile()?.info;
    Some(Message::result(msg.id()?.clone(), discover_result(&info)))
}

/// A `server/discover` result describing a sessionful upstream.
pub(crate) fn discover_result(info: &ServerInfo) -> Box<RawValue> {
    let versions: Vec<&str> = ProtocolVersion::ALL
        .iter()
        .rev()
        .map(|v| v.as_str())
        .collect();
    let mut obj = RawObject::default();
    obj.set_value("resultType", "complete");
    obj.set_value("supportedVersions", &versions);
    obj.set("capabilities", info.capabilities());
    if let Some(si) = info.server_info() {
        obj.set("serverInfo", si.clone());
        let mut meta = RawObject::default();
        meta.set("io.modelcontextprotocol/serverInfo", si);
        obj.set("_meta", meta.into_raw());
    }
    if let Some(i) = info.instructions() {
        obj.set("instructions", i);
    }
    obj.set_value("ttlMs", &0);
    obj.set_value("cacheScope", "private");
    obj.into_raw()
}

/// Adds the `_meta` a stateless upstream requires to a sessionful client's
/// request.
pub(super) fn prepare(env: &Env, msg: Message) -> Message {
    let Env::Session(s) = env else { return msg };
    if s.upstream != Generation::Stateless {
        return msg;
    }
    let client = RawObject::parse(s.client_init.as_deref()).unwrap_or_default();
    let caps = client
        .get("capabilities")
        .map(ToOwned::to_owned)
        .unwrap_or_else(|| to_raw(&json!({})));
    let info = client.get("clientInfo").map(ToOwned::to_owned);
    let level = s.log_level.lock().clone();
    with_meta(msg, |meta| {
        meta.set_value(
            "io.modelcontextprotocol/protocolVersion",
            ProtocolVersion::V2026_07_28.as_str(),
        );
        meta.set("io.modelcontextprotocol/clientCapabilities", caps);
        if let Some(info) = info {
            meta.set("io.modelcontextprotocol/clientInfo", info);
        }
        if let Some(level) = &level {
            meta.set_value("io.modelcontextprotocol/logLevel", level);
        }
    })
}

fn with_meta(mut msg: Message, f: impl FnOnce(&mut RawObject)) -> Message {
    let Ok(mut params) = RawObject::parse(msg.params()) else {
        return msg;
    };
    if params.edit_object("_meta", f).is_ok() {
        msg.set_params(Some(params.into_raw()));
    }
    msg
}

/// True for a 2026-07-28 `input_required` result.
pub(super) fn is_input_required(resp: &Message) -> bool {
    // Every answer is asked, and nearly none is one: a result whose text
    // names no `resultType` (and has no `\u` escape that could spell it)
    // is not parsed.
    let Some(raw) = resp.result_raw().map(|r| r.get()) else {
        return false;
    };
    if !RawObject::may_hold(raw, "resultType") {
        return false;
    }
    RawObject::parse(resp.result_raw())
        .ok()
        .and_then(|r| r.get_as::<String>("resultType"))
        .is_some_and(|t| t == "input_required")
}

/// Asks the client each `inputRequests` entry as a real request on its
/// stream and builds the retry. `Err` is the answer to give the client when
/// the exchange cannot go on.
pub(super) async fn fulfil_input(
    session: &Arc<Session>,
    original: &Message,
    resp: &Message,
    sink: &Arc<dyn Sink>,
    timeout: Duration,
    round: u32,
) -> Result<Message, Message> {
    let id = original.id().cloned();
    let fail =
        |text: String| Message::error(id.clone(), &ErrorObject::new(codes::INTERNAL_ERROR, text));
    if round > MAX_INPUT_ROUNDS {
        return Err(fail(format!(
            "the upstream asked for input more than {MAX_INPUT_ROUNDS} times"
        )));
    }
    let result = RawObject::parse(resp.result_raw()).map_err(|e| fail(e.to_string()))?;
    let requests: RawObject = result.get_as("inputRequests").unwrap_or_default();
    let mut responses = RawObject::default();
    for key in requests.keys() {
        let Some(req) = requests.get(&key) else {
            continue;
        };
        let answer = ask_client(session, req, sink, timeout)
            .await
            .map_err(fail)?;
        responses.set(&key, answer);
    }
    let state = result.get("requestState").map(ToOwned::to_owned);
    let mut params = RawObject::parse(original.params()).map_err(|e| fail(e.to_string()))?;
    params.set("inputResponses", responses.into_raw());
    match state {
        Some(s) => params.set("requestState", s),
        None => {
            params.remove("requestState");
        }
    }
    let mut retry = original.clone();
    retry.set_params(Some(params.into_raw()));
    Ok(retry)
}

/// Sends one input request (`{method, params}`) to the client and waits for
/// its result.
async fn ask_client(
    session: &Arc<Session>,
    req: &RawValue,
    sink: &Arc<dyn Sink>,
    timeout: Duration,
) -> Result<Box<RawValue>, String> {
    let obj = RawObject::parse(Some(req)).map_err(|e| e.to_string())?;
    let method: String = obj
        .get_as("method")
        .ok_or("an input request has no method")?;
    let params = obj.get("params").map(ToOwned::to_owned);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let request = Message::request(Id::from_u64(0), &method, params);
    sink.interim(session.map_server_request(request, Pending::Local(tx)));
    let answer = tokio::time::timeout(input_wait(timeout), rx)
        .await
        .map_err(|_| format!("the client did not answer {method} in time"))?
        .map_err(|_| "the session ended".to_owned())?;
    match (answer.result_raw(), answer.error_object()) {
        (Some(r), _) => Ok(r.to_owned()),
        (None, Some(e)) => Err(format!("the client refused {method}: {}", e.message)),
        (None, None) => Err(format!("the client sent no result for {method}")),
    }
}

/// Shapes a result for the client's generation.
pub(super) fn adapt_response(env: &Env, mut resp: Message, method: &str) -> Message {
    match env {
        Env::Stateless(s) if s.upstream == Generation::Sessionful => {
            if let Some(e) = resp.error_object() {
                if e.code == codes::RESOURCE_NOT_FOUND {
                    // -32002 is retired in 2026-07-28; resource not found is -32602.
                    let e = ErrorObject {
                        code: codes::INVALID_PARAMS,
                        ..e
                    };
                    return Message::error(resp.id().cloned(), &e);
                }
                return resp;
            }
            edit_result(&mut resp, |r| {
                r.set_default("resultType", to_raw("complete"));
                if CACHEABLE.contains(&method) {
                    r.set_default("ttlMs", to_raw(&0));
                    r.set_default("cacheScope", to_raw("private"));
                }
            });
            resp
        }
        Env::Session(s) if s.upstream == Generation::Stateless => {
            edit_result(&mut resp, |r| {
                if r.get_as::<String>("resultType").as_deref() == Some("complete") {
                    r.remove("resultType");
                }
                r.remove("ttlMs");
                r.remove("cacheScope");
            });
            resp
        }
        _ => resp,
    }
}

fn edit_result(resp: &mut Message, f: impl FnOnce(&mut RawObject)) {
    let Some(raw) = resp.result_raw() else { return };
    if let Ok(mut obj) = RawObject::parse(Some(raw)) {
        f(&mut obj);
        resp.set_result(obj.into_raw());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use serde_json::value::RawValue;
    use toolgate_mcp::{Id, Message};

    use super::is_input_required;

    fn answer(result: &str) -> Message {
        Message::result(
            Id::from_u64(1),
            RawValue::from_string(result.to_owned()).unwrap(),
        )
    }

    #[test]
    fn input_required_is_found_however_the_key_is_written() {
        let asks = r#"{"resultType":"input_required","inputRequests":{}}"#;
        assert!(is_input_required(&answer(asks)));
        // The same key with an escape in it: the quick check must not skip it.
        let escaped = r#"{"result\u0054ype":"input_required","inputRequests":{}}"#;
        assert!(is_input_required(&answer(escaped)));
    }

    #[test]
    fn other_results_are_not_input_required() {
        for result in [
            r#"{"content":[{"type":"text","text":"hi"}]}"#,
            r#"{"content":[{"type":"text","text":"resultType input_required"}]}"#,
            r#"{"resultType":"complete","content":[]}"#,
            r#"{"content":[{"type":"text","text":"caf\u00e9"}]}"#,
        ] {
            assert!(!is_input_required(&answer(result)), "{result}");
        }
        let error =
            Message::parse_text(r#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}}"#);
        assert!(!is_input_required(&error.unwrap()));
    }
}
