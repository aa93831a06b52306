//! The JSON-RPC 2.0 envelope: telling requests, notifications and junk
//! apart, and writing responses.
//!
//! This server is deliberately independent of `toolgate-mcp`: it stands in
//! for a third-party upstream, so it must not share the gateway's parser
//! (a bug there would otherwise hide on both sides of the wire).

use serde_json::{Map, Value, json};

/// Invalid JSON.
pub(crate) const PARSE_ERROR: i64 = -32700;
/// Not a valid JSON-RPC request; also "Server not initialized".
pub(crate) const INVALID_REQUEST: i64 = -32600;
/// Unknown method.
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid params, unknown tool, invalid cursor.
pub(crate) const INVALID_PARAMS: i64 = -32602;
/// MCP 2026-07-28: the request's protocol version is not supported.
pub(crate) const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    code: i64,
    message: String,
    data: Option<Value>,
}

impl RpcError {
    /// An error without `data`.
    pub(crate) fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Adds the `data` member.
    pub(crate) fn with_data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }
}

/// What one message of the input is.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A request: it gets exactly one response.
    Request {
        /// String or number, echoed in the response.
        id: Value,
        /// The method name.
        method: String,
        /// `params`, empty if absent.
        params: Map<String, Value>,
    },
    /// A notification: never answered.
    Notification {
        /// The method name.
        method: String,
    },
    /// A response to a request of ours; we send none, so it is dropped.
    Response,
    /// Not a valid message; answered with `error` under `id` (null if the
    /// message's id was unreadable).
    Invalid {
        /// The id to answer under.
        id: Value,
        /// Why the message is invalid.
        error: RpcError,
    },
}

fn invalid(id: Value, code: i64, why: &str) -> Incoming {
    Incoming::Invalid {
        id,
        error: RpcError::new(code, format!("Invalid Request: {why}")),
    }
}

/// Classifies one (non-batch) message.
pub(crate) fn classify(message: Value) -> Incoming {
    let Value::Object(mut object) = message else {
        return invalid(Value::Null, INVALID_REQUEST, "expected a JSON object");
    };
    // MCP forbids a null id, and JSON-RPC ids are strings or numbers.
    let id = object.remove("id");
    let readable = matches!(id, None | Some(Value::String(_) | Value::Number(_)));
    let reply_id = if readable {
        id.clone().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return invalid(reply_id, INVALID_REQUEST, "jsonrpc must be \"2.0\"");
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => return invalid(reply_id, INVALID_REQUEST, "method must be a string"),
        None if object.contains_key("result") || object.contains_key("error") => {
            return Incoming::Response;
        }
        None => return invalid(reply_id, INVALID_REQUEST, "missing method"),
    };
    let Some(id) = id else {
        return Incoming::Notification { method };
    };
    if !readable {
        return invalid(reply_id, INVALID_REQUEST, "id must be a string or a number");
    }
    let params = match object.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params,
        Some(_) => {
            let error = RpcError::new(INVALID_PARAMS, "Invalid params: params must be an object");
            return Incoming::Invalid { id, error };
        }
    };
    Incoming::Request { id, method, params }
}

/// The response to request `id`.
pub(crate) fn response(id: Value, outcome: Result<Value, RpcError>) -> Value {
    match outcome {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(RpcError {
            code,
            message,
            data,
        }) => {
            let mut error = json!({ "code": code, "message": message });
            if let (Some(data), Value::Object(fields)) = (data, &mut error) {
                fields.insert("data".into(), data);
            }
            json!({ "jsonrpc": "2.0", "id": id, "error": error })
        }
    }
}
