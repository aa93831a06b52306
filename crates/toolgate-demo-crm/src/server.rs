//! The MCP server: lifecycle, version negotiation and method dispatch.
//!
//! Two ways in. Sessionful clients (2024-11-05 to 2025-11-25) send
//! `initialize` first; stateless clients (2026-07-28) send any request with
//! `_meta["io.modelcontextprotocol/protocolVersion"]` and may ask
//! `server/discover` what the server supports.

use serde_json::{Map, Value, json};

use crate::rpc::{self, Incoming, RpcError};
use crate::store::Crm;
use crate::{catalog, tools};

/// Revisions negotiated through `initialize`, oldest first.
const SESSION_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// Offered when a client asks `initialize` for a revision we do not speak.
const LATEST_SESSION_VERSION: &str = "2025-11-25";
/// The stateless revision: no `initialize`, version in every request's `_meta`.
const STATELESS_VERSION: &str = "2026-07-28";
/// Every supported revision, newest first, as `server/discover` lists them.
const SUPPORTED_VERSIONS: [&str; 5] = [
    STATELESS_VERSION,
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
];
const META_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";

const INSTRUCTIONS: &str = "Demo CRM bundled with toolgate, offering the Bitrix24 MCP server's tools \
over in-memory sample data (leads, deals, contacts, activities, users, tasks, files); changes last \
until the server exits. IDs are numeric strings. List tools take an optional filter: a JSON object \
encoded as a string, e.g. {\"STATUS_ID\":\"NEW\"}; prefix a key with % for a case-insensitive \
substring match, e.g. {\"%TITLE\":\"acme\"}.";

fn server_info() -> Value {
    json!({
        "name": "toolgate-demo-crm",
        "title": "Demo CRM (Bitrix24-compatible tools)",
        "version": env!("CARGO_PKG_VERSION"),
    })
}

fn capabilities() -> Value {
    json!({ "tools": { "listChanged": false } })
}

/// One client's connection: the CRM and whether `initialize` has happened.
#[derive(Debug)]
pub(crate) struct Server {
    crm: Crm,
    /// The revision `initialize` settled on, once it has.
    negotiated: Option<&'static str>,
}

impl Server {
    /// A server over freshly seeded data.
    pub(crate) fn new() -> Server {
        Server {
            crm: Crm::seeded(),
            negotiated: None,
        }
    }

    /// Handles one input line; `Some` is the line to write back.
    pub(crate) fn handle_line(&mut self, line: &[u8]) -> Option<Value> {
        let line = line.trim_ascii();
        if line.is_empty() {
            return None;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Array(batch)) => self.handle_batch(batch),
            Ok(message) => self.handle_message(message),
            Err(e) => {
                tracing::debug!(error = %e, "unparsable input line");
                let error = RpcError::new(rpc::PARSE_ERROR, format!("Parse error: {e}"));
                Some(rpc::response(Value::Null, Err(error)))
            }
        }
    }

    /// A JSON-RPC batch gets an array of the responses to its requests, or
    /// nothing if it held only notifications.
    fn handle_batch(&mut self, batch: Vec<Value>) -> Option<Value> {
        if batch.is_empty() {
            let error = RpcError::new(rpc::INVALID_REQUEST, "Invalid Request: empty batch");
            return Some(rpc::response(Value::Null, Err(error)));
        }
        let replies: Vec<Value> = batch
            .into_iter()
            .filter_map(|m| self.handle_message(m))
            .collect();
        (!replies.is_empty()).then_some(Value::Array(replies))
    }

    fn handle_message(&mut self, message: Value) -> Option<Value> {
        match rpc::classify(message) {
            Incoming::Request { id, method, params } => {
                let outcome = self.handle_request(&method, &params);
                Some(rpc::response(id, outcome))
            }
            Incoming::Notification { method } => {
                // Nothing to do: notifications/cancelled finds no call in
                // flight (each completes before the next line is read), and
                // a request method sent without an id is not executed, as
                // its outcome could not be reported.
                tracing::debug!(%method, "notification ignored");
                None
            }
            Incoming::Response => None,
            Incoming::Invalid { id, error } => Some(rpc::response(id, Err(error))),
        }
    }

    fn handle_request(
        &mut self,
        method: &str,
        params: &Map<String, Value>,
    ) -> Result<Value, RpcError> {
        let stateless = self.check_version(method, params)?;
        let mut result = match method {
            // 2026-07-28 has no initialize, so a stateless one is unknown.
            "initialize" if !stateless => self.initialize(params)?,
            "ping" => json!({}),
            "server/discover" => discover(),
            "tools/list" => tools_list(params)?,
            "tools/call" => self.tools_call(params)?,
            _ => {
                let message = format!("Method not found: {method}");
                return Err(RpcError::new(rpc::METHOD_NOT_FOUND, message));
            }
        };
        if stateless && let Value::Object(fields) = &mut result {
            fields.insert("resultType".into(), "complete".into());
            if method == "tools/list" {
                fields.insert("ttlMs".into(), 0.into());
                fields.insert("cacheScope".into(), "public".into());
            }
        }
        Ok(result)
    }

    /// True if the request is served statelessly (2026-07-28); an error if
    /// its `_meta` names an unsupported revision or the session has not
    /// been initialized.
    fn check_version(&self, method: &str, params: &Map<String, Value>) -> Result<bool, RpcError> {
        let requested = params
            .get("_meta")
            .and_then(|meta| meta.get(META_VERSION_KEY));
        match requested {
            Some(Value::String(v)) if v == STATELESS_VERSION => return Ok(true),
            Some(Value::String(v)) if SESSION_VERSIONS.contains(&v.as_str()) => {}
            Some(other) => {
                let shown = other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_string);
                let error = RpcError::new(
                    rpc::UNSUPPORTED_PROTOCOL_VERSION,
                    format!("Unsupported protocol version: {shown}"),
                );
                let data = json!({ "supported": SUPPORTED_VERSIONS, "requested": other });
                return Err(error.with_data(data));
            }
            None => {}
        }
        let allowed_early = matches!(method, "initialize" | "ping" | "server/discover");
        if self.negotiated.is_none() && !allowed_early {
            return Err(RpcError::new(
                rpc::INVALID_REQUEST,
                "Server not initialized",
            ));
        }
        Ok(false)
    }

    /// `initialize`: echoes a supported revision, else offers the latest.
    fn initialize(&mut self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let Some(requested) = params.get("protocolVersion").and_then(Value::as_str) else {
            let message = "Invalid params: initialize requires a string protocolVersion";
            return Err(RpcError::new(rpc::INVALID_PARAMS, message));
        };
        let version = SESSION_VERSIONS
            .into_iter()
            .find(|v| *v == requested)
            .unwrap_or(LATEST_SESSION_VERSION);
        tracing::info!(requested, version, "initialize");
        self.negotiated = Some(version);
        Ok(json!({
            "protocolVersion": version,
            "capabilities": capabilities(),
            "serverInfo": server_info(),
            "instructions": INSTRUCTIONS,
        }))
    }

    /// `tools/call`: tool failures are results with `isError`, so the model
    /// sees them; only an unknown tool is a protocol error.
    fn tools_call(&mut self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            let message = "Invalid params: tools/call requires a string name";
            return Err(RpcError::new(rpc::INVALID_PARAMS, message));
        };
        let Some(outcome) = tools::call(&mut self.crm, name, params.get("arguments")) else {
            return Err(RpcError::new(
                rpc::INVALID_PARAMS,
                format!("Unknown tool: {name}"),
            ));
        };
        Ok(match outcome {
            Ok(payload) => {
                tracing::info!(tool = name, "tool call succeeded");
                let text =
                    serde_json::to_string_pretty(&payload).unwrap_or_else(|_| payload.to_string());
                json!({ "content": [{ "type": "text", "text": text }], "structuredContent": payload })
            }
            Err(error) => {
                let text = error.render(name);
                tracing::info!(tool = name, error = %text, "tool call failed");
                json!({ "content": [{ "type": "text", "text": text }], "isError": true })
            }
        })
    }
}

/// `server/discover` (2026-07-28).
fn discover() -> Value {
    json!({
        "resultType": "complete",
        "supportedVersions": SUPPORTED_VERSIONS,
        "capabilities": capabilities(),
        "serverInfo": server_info(),
        "instructions": INSTRUCTIONS,
        "ttlMs": 0,
        "cacheScope": "public",
    })
}

/// `tools/list`: one page holding every tool, so no cursor is ever valid.
fn tools_list(params: &Map<String, Value>) -> Result<Value, RpcError> {
    match params.get("cursor") {
        None | Some(Value::Null) => Ok(json!({ "tools": catalog::list() })),
        Some(_) => Err(RpcError::new(rpc::INVALID_PARAMS, "Invalid cursor")),
    }
}
