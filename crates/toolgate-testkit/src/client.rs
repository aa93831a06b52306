//! A raw MCP client over Streamable HTTP for tests: it speaks any protocol
//! revision on request (sessionful ones with `initialize`, 2026-07-28 with
//! per-request `_meta` and mirrored headers) and shows the test everything
//! on the wire: statuses, headers, every SSE event.
//!
//! It parses SSE and JSON itself, independently of the gateway's own code,
//! so a bug there cannot hide on both sides.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

/// The stateless revision.
pub const STATELESS: &str = "2026-07-28";

/// A client of one MCP endpoint.
pub struct Client {
    http: reqwest::Client,
    /// The endpoint URL.
    pub url: String,
    token: Option<String>,
    /// The protocol revision this client speaks.
    pub version: String,
    /// The session id, once initialized (sessionful revisions).
    pub session: Option<String>,
    next_id: AtomicU64,
    capabilities: Value,
}

/// Everything a POST got back.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The messages: the JSON body (array elements one by one) or each SSE
    /// event's data, in order.
    pub messages: Vec<Value>,
    /// The SSE event ids (None for events without one, and for JSON).
    pub event_ids: Vec<Option<String>>,
    /// True when the body was an SSE stream.
    pub sse: bool,
}

impl Reply {
    /// The response with this id.
    pub fn response(&self, id: &Value) -> Option<&Value> {
        self.messages.iter().find(|m| {
            m.get("id") == Some(id) && (m.get("result").is_some() || m.get("error").is_some())
        })
    }

    /// The first response's `result` (panics with the whole reply if none:
    /// tests want to see what came instead).
    pub fn result(&self) -> &Value {
        self.messages
            .iter()
            .find_map(|m| m.get("result"))
            .unwrap_or_else(|| panic!("no result in reply: {self:#?}"))
    }

    /// The first response's `error`, if any.
    pub fn error(&self) -> Option<&Value> {
        self.messages.iter().find_map(|m| m.get("error"))
    }

    /// The messages that are notifications (no id), in order.
    pub fn notifications(&self) -> Vec<&Value> {
        self.messages
            .iter()
            .filter(|m| m.get("id").is_none())
            .collect()
    }

    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Client {
    /// A client of `url` speaking `version`, with an optional bearer token.
    pub fn new(url: &str, token: Option<&str>, version: &str) -> Client {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(4)
            .build()
            .unwrap_or_default();
        Client {
            http,
            url: url.to_owned(),
            token: token.map(str::to_owned),
            version: version.to_owned(),
            session: None,
            next_id: AtomicU64::new(1),
            capabilities: json!({"sampling": {}, "elicitation": {}, "roots": {"listChanged": true}}),
        }
    }

    /// Sends `token` from now on (a refreshed access token, another caller).
    pub fn set_token(&mut self, token: Option<&str>) {
        self.token = token.map(str::to_owned);
    }

    /// True for the 2026-07-28 revision.
    pub fn is_stateless(&self) -> bool {
        self.version.as_str() >= STATELESS
    }

    /// A fresh request id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sessionful: `initialize` then `notifications/initialized`; returns
    /// the initialize reply. Stateless: `server/discover`.
    pub async fn initialize(&mut self) -> Reply {
        if self.is_stateless() {
            return self.request("server/discover", json!({})).await;
        }
        let params = json!({
            "protocolVersion": self.version,
            "capabilities": self.capabilities,
            "clientInfo": {"name": "toolgate-testkit", "version": "1.0.0"},
        });
        let reply = self.request("initialize", params).await;
        if let Some(sid) = reply.header("mcp-session-id") {
            self.session = Some(sid.to_owned());
        }
        if reply.status == 200 && self.session.is_some() {
            let status = self.notify("notifications/initialized", None).await;
            assert_eq!(status, 202, "notifications/initialized");
        }
        reply
    }

    fn headers(&self, body: &Value) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert(
            "accept",
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        if let Some(t) = &self.token
            && let Ok(v) = HeaderValue::from_str(&format!("Bearer {t}"))
        {
            h.insert("authorization", v);
        }
        if let Some(sid) = &self.session
            && let Ok(v) = HeaderValue::from_str(sid)
        {
            h.insert("mcp-session-id", v);
        }
        let initializing = body.get("method") == Some(&json!("initialize"));
        if !initializing && let Ok(v) = HeaderValue::from_str(&self.version) {
            h.insert("mcp-protocol-version", v);
        }
        if self.is_stateless()
            && let Some(m) = body.get("method").and_then(Value::as_str)
        {
            insert(&mut h, "mcp-method", m);
            let name = match m {
                "tools/call" | "prompts/get" => body["params"]["name"].as_str(),
                "resources/read" => body["params"]["uri"].as_str(),
                _ => None,
            };
            if let Some(n) = name {
                insert(&mut h, "mcp-name", n);
            }
        }
        h
    }

    /// The body of a request with this client's conventions (`_meta` for
    /// stateless revisions).
    pub fn request_body(&self, id: u64, method: &str, mut params: Value) -> Value {
        if self.is_stateless() {
            if !params.is_object() {
                params = json!({});
            }
            let meta = params
                .as_object_mut()
                .map(|p| p.entry("_meta").or_insert_with(|| json!({})));
            if let Some(meta) = meta {
                meta["io.modelcontextprotocol/protocolVersion"] = json!(self.version);
                meta["io.modelcontextprotocol/clientCapabilities"] = self.capabilities.clone();
                meta["io.modelcontextprotocol/clientInfo"] =
                    json!({"name": "toolgate-testkit", "version": "1.0.0"});
            }
        }
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
    }

    /// Sends a request and reads the whole reply.
    pub async fn request(&self, method: &str, params: Value) -> Reply {
        let body = self.request_body(self.next_id(), method, params);
        self.post(&body, &[]).await
    }

    /// `tools/call`; returns the reply.
    pub async fn call_tool(&self, name: &str, args: Value) -> Reply {
        self.request("tools/call", json!({"name": name, "arguments": args}))
            .await
    }

    /// `tools/call` that reports a failed connection instead of panicking
    /// (for load against a gateway that may be killed).
    pub async fn try_call_tool(&self, name: &str, args: Value) -> Result<Reply, reqwest::Error> {
        let body = self.request_body(
            self.next_id(),
            "tools/call",
            json!({"name": name, "arguments": args}),
        );
        let resp = self
            .http
            .post(&self.url)
            .headers(self.headers(&body))
            .body(body.to_string())
            .send()
            .await?;
        Ok(read_reply(resp).await)
    }

    /// Sends a notification; returns the HTTP status.
    pub async fn notify(&self, method: &str, params: Option<Value>) -> u16 {
        let mut body = json!({"jsonrpc": "2.0", "method": method});
        if let Some(p) = params {
            body["params"] = p;
        }
        self.post(&body, &[]).await.status
    }

    /// Answers a server→client request; returns the HTTP status.
    pub async fn respond(&self, id: &Value, result: Value) -> u16 {
        let body = json!({"jsonrpc": "2.0", "id": id, "result": result});
        self.post(&body, &[]).await.status
    }

    /// POSTs a JSON value with extra headers (which override the defaults)
    /// and reads the whole reply.
    pub async fn post(&self, body: &Value, extra: &[(&str, &str)]) -> Reply {
        let resp = self.send_post(body.to_string(), body, extra).await;
        read_reply(resp).await
    }

    /// POSTs raw bytes (malformed JSON, batches, oversized bodies).
    pub async fn post_raw(&self, raw: impl Into<reqwest::Body>, extra: &[(&str, &str)]) -> Reply {
        let resp = self.send_post(raw, &Value::Null, extra).await;
        read_reply(resp).await
    }

    async fn send_post(
        &self,
        raw: impl Into<reqwest::Body>,
        body: &Value,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut headers = self.headers(body);
        for (k, v) in extra {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                headers.insert(k, v);
            }
        }
        self.http
            .post(&self.url)
            .headers(headers)
            .body(raw)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {} failed: {e}", self.url))
    }

    /// Sends a request and returns its reply as a live stream.
    pub async fn open(&self, method: &str, params: Value) -> (u64, Stream) {
        let id = self.next_id();
        let body = self.request_body(id, method, params);
        let resp = self.send_post(body.to_string(), &body, &[]).await;
        (id, Stream::new(resp))
    }

    /// Opens the GET stream (optionally resuming after an event id).
    pub async fn get_stream(&self, last_event_id: Option<&str>) -> Stream {
        let mut headers = self.headers(&Value::Null);
        headers.insert("accept", HeaderValue::from_static("text/event-stream"));
        headers.remove("content-type");
        if let Some(last) = last_event_id {
            insert(&mut headers, "last-event-id", last);
        }
        let resp = self
            .http
            .get(&self.url)
            .headers(headers)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {} failed: {e}", self.url));
        Stream::new(resp)
    }

    /// Ends the session; returns the HTTP status.
    pub async fn delete(&self) -> u16 {
        let mut headers = self.headers(&Value::Null);
        headers.remove("content-type");
        self.http
            .delete(&self.url)
            .headers(headers)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }
}

fn insert(h: &mut HeaderMap, name: &'static str, value: &str) {
    let value = if value.bytes().all(|b| (0x20..0x7f).contains(&b)) && value.trim() == value {
        value.to_owned()
    } else {
        use base64::Engine as _;
        format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(value)
        )
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert(name, v);
    }
}

async fn read_reply(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let sse = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/event-stream"));
    let text = resp.text().await.unwrap_or_default();
    let (messages, event_ids) = if sse {
        let events = parse_sse(&text);
        let ids = events
            .iter()
            .filter(|e| !e.1.is_empty())
            .map(|e| e.0.clone())
            .collect();
        let msgs = events
            .iter()
            .filter(|e| !e.1.is_empty())
            .filter_map(|e| serde_json::from_str(&e.1).ok())
            .collect();
        (msgs, ids)
    } else {
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(items)) => (items, Vec::new()),
            Ok(v) => (vec![v], Vec::new()),
            Err(_) => (Vec::new(), Vec::new()),
        }
    };
    Reply {
        status,
        headers,
        messages,
        event_ids,
        sse,
    }
}

/// Splits an SSE body into (id, data) events. Comment lines are skipped.
pub fn parse_sse(text: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let text = text.replace("\r\n", "\n");
    for block in text.split("\n\n") {
        let mut id = None;
        let mut data: Vec<&str> = Vec::new();
        let mut any = false;
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v));
                any = true;
            } else if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().to_owned());
                any = true;
            }
        }
        if any {
            out.push((id, data.join("\n")));
        }
    }
    out
}

/// A reply read as it arrives.
pub struct Stream {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    body: Option<futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>>,
    buf: String,
    /// The last event id seen.
    pub last_event_id: Option<String>,
}

impl Stream {
    fn new(resp: reqwest::Response) -> Stream {
        Stream {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: Some(resp.bytes_stream().boxed()),
            buf: String::new(),
            last_event_id: None,
        }
    }

    /// The next message (SSE event data, or the JSON body once), or `None`
    /// at the end. Gives up after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Value> {
        tokio::time::timeout(timeout, self.next_inner())
            .await
            .ok()
            .flatten()
    }

    async fn next_inner(&mut self) -> Option<Value> {
        loop {
            let normalized = self.buf.replace("\r\n", "\n");
            if let Some(end) = normalized.find("\n\n") {
                let block = normalized[..end].to_owned();
                self.buf = normalized[end + 2..].to_owned();
                for (id, data) in parse_sse(&format!("{block}\n\n")) {
                    if id.is_some() {
                        self.last_event_id = id;
                    }
                    if !data.is_empty() {
                        return serde_json::from_str(&data).ok();
                    }
                }
                continue;
            }
            let chunk = self.body.as_mut()?.next().await;
            match chunk {
                Some(Ok(bytes)) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                _ => {
                    self.body = None;
                    let rest = std::mem::take(&mut self.buf);
                    let trimmed = rest.trim();
                    if trimmed.starts_with('{') || trimmed.starts_with('[') {
                        return serde_json::from_str(trimmed).ok();
                    }
                    return None;
                }
            }
        }
    }

    /// Reads messages until one satisfies `pred`; returns it and everything
    /// read before it.
    pub async fn until(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> (Option<Value>, Vec<Value>) {
        let mut before = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(m) if pred(&m) => return (Some(m), before),
                Some(m) => before.push(m),
                None => return (None, before),
            }
        }
    }

    /// Drops the connection (a client going away).
    pub fn close(mut self) {
        self.body = None;
    }
}
