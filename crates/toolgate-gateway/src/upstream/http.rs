//! Streamable HTTP upstreams: one POST per message; replies as JSON or as an
//! SSE stream scoped to the request; a standalone GET stream for messages
//! that belong to no request; DELETE to end the session.

use foldhash::{HashMap, HashMapExt as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::{AbortHandle as ExchangeAbort, abortable};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use http_body_util::Full;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use toolgate_mcp::{Id, Kind, Message, Payload, ProtocolVersion, headers as mcp_headers};

use super::exchange::ExchangeOwner;
use super::http_client::{HttpClient, body_snippet, read_body};
use super::rewrite::{self, Originals};
use super::sse_body::SseBody;
use super::{Exchange, Generation, Inbound, UpstreamError};
use crate::header_names;

const EVENT_QUEUE: usize = 256;
/// How often a broken request stream is resumed with `Last-Event-ID`.
const MAX_RESUMES: u32 = 5;
/// Reconnection delay when the server names none.
const DEFAULT_RETRY: Duration = Duration::from_millis(500);

/// Settings of one remote upstream.
#[derive(Clone, Debug)]
pub(crate) struct HttpTarget {
    /// The server's name in the config (for logs).
    pub(crate) server: String,
    /// The MCP endpoint.
    pub(crate) url: Uri,
    /// Headers added to every request (credentials from the config).
    pub(crate) headers: HeaderMap,
    /// Largest SSE event or JSON body accepted.
    pub(crate) max_message: usize,
}

struct Shared {
    session_id: Option<HeaderValue>,
    protocol: Option<ProtocolVersion>,
    closed: Option<UpstreamError>,
    /// Requests in flight, to cut short when the connection closes.
    inflight: HashMap<u64, ExchangeAbort>,
    get_stream: Option<AbortHandle>,
}

/// A connection to a Streamable HTTP server.
pub struct HttpConn {
    client: HttpClient,
    target: HttpTarget,
    generation: Generation,
    next_id: AtomicU64,
    shared: Mutex<Shared>,
    unsolicited_tx: mpsc::Sender<Inbound>,
    unsolicited_rx: Mutex<Option<mpsc::Receiver<Inbound>>>,
    me: Weak<HttpConn>,
}

impl HttpConn {
    /// A connection speaking `generation`. No request is sent yet.
    pub(crate) fn new(
        client: HttpClient,
        target: HttpTarget,
        generation: Generation,
    ) -> Arc<HttpConn> {
        let (unsolicited_tx, unsolicited_rx) = mpsc::channel(EVENT_QUEUE);
        Arc::new_cyclic(|me| HttpConn {
            client,
            target,
            generation,
            next_id: AtomicU64::new(1),
            shared: Mutex::new(Shared {
                session_id: None,
                protocol: None,
                closed: None,
                inflight: HashMap::new(),
                get_stream: None,
            }),
            unsolicited_tx,
            unsolicited_rx: Mutex::new(Some(unsolicited_rx)),
            me: me.clone(),
        })
    }

    /// A sessionful connection re-attached to an upstream session that was
    /// initialized elsewhere (another replica): no handshake, the session
    /// id and the negotiated revision go on every request as before.
    pub(crate) fn attached(
        client: HttpClient,
        target: HttpTarget,
        session_id: Option<HeaderValue>,
        protocol: ProtocolVersion,
    ) -> Arc<HttpConn> {
        let conn = HttpConn::new(client, target, Generation::Sessionful);
        {
            let mut shared = conn.shared.lock();
            shared.session_id = session_id;
            shared.protocol = Some(protocol);
        }
        conn
    }

    /// The upstream's session id, once it gave one.
    pub(crate) fn session_id(&self) -> Option<String> {
        let shared = self.shared.lock();
        let sid = shared.session_id.as_ref()?;
        sid.to_str().ok().map(str::to_owned)
    }

    pub(crate) fn protocol(&self) -> Option<ProtocolVersion> {
        self.shared.lock().protocol
    }

    pub(crate) fn set_protocol(&self, v: ProtocolVersion) {
        self.shared.lock().protocol = Some(v);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.shared.lock().closed.is_some()
    }

    pub(crate) fn take_unsolicited(&self) -> Option<mpsc::Receiver<Inbound>> {
        self.unsolicited_rx.lock().take()
    }

    /// Sends a request; its reply is read as the exchange is awaited.
    pub(crate) fn request(&self, msg: Message) -> Result<Exchange, UpstreamError> {
        self.request_with(msg, HeaderMap::new())
    }

    /// Sends a request with extra headers (`Mcp-Param-*` passed through from
    /// a stateless client).
    pub(crate) fn request_with(
        &self,
        mut msg: Message,
        extra: HeaderMap,
    ) -> Result<Exchange, UpstreamError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let originals = rewrite::map_request(&mut msg, id)?;
        let req = self.build_post(&msg, extra);
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let (resp_tx, resp_rx) = oneshot::channel();
        let me = self.me.clone();
        let streamed = Arc::new(AtomicBool::new(false));
        let flag = streamed.clone();
        let (driver, abort) = abortable(async move {
            let result = match me.upgrade() {
                Some(conn) => {
                    conn.run_exchange(req, id, &originals, &events_tx, &flag)
                        .await
                }
                None => Err(UpstreamError::Closed),
            };
            let result = result.map(|mut m| {
                m.set_id(Some(originals.id.clone()));
                m
            });
            if let Some(conn) = me.upgrade() {
                conn.shared.lock().inflight.remove(&id);
            }
            let _ = resp_tx.send(result);
        });
        {
            // Checked under the lock that registers the exchange: a
            // `detach` or `close` in between would miss it, and the request
            // would still go out on a connection handed over elsewhere.
            let mut shared = self.shared.lock();
            if let Some(e) = &shared.closed {
                return Err(e.clone());
            }
            shared.inflight.insert(id, abort);
        }
        let owner: Weak<dyn ExchangeOwner> = self.me.clone();
        Ok(Exchange::new(id, events_rx, resp_rx, owner)
            .with_streamed_flag(streamed)
            .with_driver(driver.map(drop)))
    }

    /// A request to the endpoint with the headers every request carries,
    /// built in place: `http::request::Builder` moves the whole request
    /// through each `.header()` and parses every value again (4k
    /// instructions a call, more than the rest of sending it).
    fn base_request(
        &self,
        method: Method,
        accept: &'static str,
        body: Bytes,
    ) -> http::Request<Full<Bytes>> {
        let mut req = http::Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = self.target.url.clone();
        let h = req.headers_mut();
        h.append(ACCEPT, HeaderValue::from_static(accept));
        for (k, v) in &self.target.headers {
            h.append(k, v.clone());
        }
        let shared = self.shared.lock();
        if let Some(sid) = &shared.session_id {
            h.append(header_names::SESSION_ID.clone(), sid.clone());
        }
        // A stateless request names its version itself (from `_meta`).
        if let (Some(v), Generation::Sessionful) = (shared.protocol, self.generation) {
            h.append(
                header_names::PROTOCOL_VERSION.clone(),
                HeaderValue::from_static(v.as_str()),
            );
        }
        req
    }

    fn build_post(&self, msg: &Message, extra: HeaderMap) -> http::Request<Full<Bytes>> {
        let body = Bytes::from(msg.to_bytes());
        let mut req = self.base_request(Method::POST, "application/json, text/event-stream", body);
        let h = req.headers_mut();
        h.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.generation == Generation::Stateless {
            for (name, value) in stateless_headers(msg) {
                h.append(name, value);
            }
        }
        for (k, v) in &extra {
            h.append(k, v.clone());
        }
        req
    }

    async fn run_exchange(
        &self,
        req: http::Request<Full<Bytes>>,
        id: u64,
        originals: &Originals,
        events: &mpsc::Sender<Inbound>,
        streamed: &AtomicBool,
    ) -> Result<Message, UpstreamError> {
        let sent_session = req.headers().contains_key(&header_names::SESSION_ID);
        let resp = self.client.send(req).await?;
        self.capture_session(resp.headers());
        let status = resp.status();
        let is_sse = content_type(resp.headers()).starts_with("text/event-stream");
        if status.is_success() && is_sse {
            streamed.store(true, Ordering::Relaxed);
            let mut sse = SseBody::new(resp.into_body(), self.target.max_message);
            return self
                .read_reply_stream(&mut sse, id, originals, events)
                .await;
        }
        let is_json = content_type(resp.headers()).starts_with("application/json");
        let body = read_body(resp.into_body(), self.target.max_message).await?;
        if is_json && let Some(m) = find_response(&body, id) {
            return Ok(m);
        }
        Err(self.status_error(status, sent_session, &body))
    }

    /// Classifies a non-answer. An upstream that forgot our session says
    /// 404 (the spec) or, like the TypeScript SDK, 400 naming the session.
    fn status_error(&self, status: StatusCode, sent_session: bool, body: &[u8]) -> UpstreamError {
        let text: String = String::from_utf8_lossy(body).chars().take(300).collect();
        let expired = sent_session
            && (status == StatusCode::NOT_FOUND
                || (status == StatusCode::BAD_REQUEST
                    && text.to_ascii_lowercase().contains("session")));
        if expired {
            self.shared
                .lock()
                .closed
                .get_or_insert(UpstreamError::SessionExpired);
            return UpstreamError::SessionExpired;
        }
        UpstreamError::Http {
            status: status.as_u16(),
            body: text,
        }
    }

    async fn read_reply_stream(
        &self,
        sse: &mut SseBody,
        id: u64,
        originals: &Originals,
        events: &mpsc::Sender<Inbound>,
    ) -> Result<Message, UpstreamError> {
        let mut resumes = 0;
        loop {
            while let Some(ev) = sse.next().await {
                let ev = ev?;
                if ev.data.is_empty() {
                    continue; // a priming event: only its id matters
                }
                let Ok(Payload::Single(Ok(mut msg))) = Payload::parse(ev.data.as_bytes()) else {
                    tracing::warn!(server = %self.target.server, "upstream sent an SSE event that is not a JSON-RPC message; ignored");
                    continue;
                };
                match msg.kind() {
                    Kind::Response if msg.id().and_then(Id::as_u64) == Some(id) => return Ok(msg),
                    Kind::Response => {
                        tracing::debug!("response for another request on this stream; ignored")
                    }
                    Kind::Notification => {
                        if let Some((_, by)) = rewrite::related_upstream_id(&msg) {
                            rewrite::restore_related(&mut msg, by, originals);
                        }
                        // Waiting here slows the upstream stream to the
                        // client's pace instead of buffering without bound.
                        let _ = events.send(Inbound::Notification(msg)).await;
                    }
                    Kind::Request => {
                        let _ = events.send(Inbound::Request(msg)).await;
                    }
                }
            }
            // The stream ended without the response: resume it if we can.
            let Some(last) = sse.last_event_id.clone() else {
                return Err(UpstreamError::Exited(
                    "upstream closed the stream before answering".into(),
                ));
            };
            resumes += 1;
            if resumes > MAX_RESUMES || self.generation == Generation::Stateless {
                return Err(UpstreamError::Exited(
                    "upstream stream ended without an answer".into(),
                ));
            }
            let delay = sse.retry_ms.map_or(DEFAULT_RETRY, Duration::from_millis);
            tokio::time::sleep(delay.min(Duration::from_secs(30))).await;
            let resp = self.get_stream_request(Some(&last)).await?;
            let retry = sse.retry_ms;
            *sse = SseBody::new(resp, self.target.max_message);
            sse.last_event_id = Some(last);
            sse.retry_ms = retry;
        }
    }

    async fn get_stream_request(
        &self,
        last_event_id: Option<&str>,
    ) -> Result<super::http_client::UpstreamBody, UpstreamError> {
        let mut req = self.base_request(Method::GET, "text/event-stream", Bytes::new());
        if let Some(last) = last_event_id {
            let last = HeaderValue::from_str(last)
                .map_err(|e| UpstreamError::Protocol(format!("Last-Event-ID: {e}")))?;
            req.headers_mut()
                .append(header_names::LAST_EVENT_ID.clone(), last);
        }
        let resp = self.client.send(req).await?;
        let status = resp.status();
        if status.is_success() && content_type(resp.headers()).starts_with("text/event-stream") {
            return Ok(resp.into_body());
        }
        let body = body_snippet(resp.into_body()).await;
        Err(self.status_error(status, true, body.as_bytes()))
    }

    fn capture_session(&self, headers: &HeaderMap) {
        if self.generation == Generation::Stateless {
            return;
        }
        if let Some(sid) = headers.get(&header_names::SESSION_ID) {
            let mut shared = self.shared.lock();
            if shared.session_id.is_none() {
                shared.session_id = Some(sid.clone());
            }
        }
    }

    /// POSTs a notification or a response (answered 202 by the server).
    pub(crate) async fn post_one_way(&self, msg: Message) -> Result<(), UpstreamError> {
        if let Some(e) = &self.shared.lock().closed {
            return Err(e.clone());
        }
        let req = self.build_post(&msg, HeaderMap::new());
        let sent_session = req.headers().contains_key(&header_names::SESSION_ID);
        let resp = self.client.send(req).await?;
        let status = resp.status();
        let body = read_body(resp.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        if status.is_success() {
            return Ok(());
        }
        Err(self.status_error(status, sent_session, &body))
    }

    /// Opens the standalone GET stream once; its messages go to the
    /// unsolicited channel. Reconnects with `Last-Event-ID` if it drops.
    pub(crate) fn open_get_stream(&self) {
        if self.generation == Generation::Stateless {
            return;
        }
        let mut shared = self.shared.lock();
        if shared.get_stream.is_some() || shared.closed.is_some() {
            return;
        }
        let me = self.me.clone();
        let task = tokio::spawn(async move { get_stream_loop(me).await });
        shared.get_stream = Some(task.abort_handle());
    }

    /// Ends the session: stops every stream and sends DELETE.
    pub(crate) async fn close(&self) {
        let session = self.detach();
        if session.is_some() {
            let req = self.base_request(Method::DELETE, "application/json", Bytes::new());
            let _ = tokio::time::timeout(Duration::from_secs(2), self.client.send(req)).await;
        }
    }

    /// Stops every stream without ending the upstream session (another
    /// replica may go on with it). Returns the session id.
    pub(crate) fn detach(&self) -> Option<HeaderValue> {
        let (exchanges, stream, session) = {
            let mut shared = self.shared.lock();
            shared.closed.get_or_insert(UpstreamError::Closed);
            let exchanges: Vec<ExchangeAbort> = shared.inflight.drain().map(|(_, t)| t).collect();
            let stream = shared.get_stream.take();
            (exchanges, stream, shared.session_id.clone())
        };
        for e in exchanges {
            e.abort();
        }
        if let Some(t) = stream {
            t.abort();
        }
        session
    }
}

async fn get_stream_loop(me: Weak<HttpConn>) {
    let mut last: Option<String> = None;
    let mut failures = 0u32;
    loop {
        let Some(conn) = me.upgrade() else { return };
        let body = match conn.get_stream_request(last.as_deref()).await {
            Ok(b) => b,
            Err(UpstreamError::Http { status: 405, .. }) => {
                tracing::debug!(server = %conn.target.server, "upstream offers no GET stream");
                return;
            }
            Err(e) => {
                failures += 1;
                if failures > MAX_RESUMES || conn.is_closed() {
                    tracing::debug!(server = %conn.target.server, error = %e, "upstream GET stream gave up");
                    return;
                }
                drop(conn);
                tokio::time::sleep(DEFAULT_RETRY * failures).await;
                continue;
            }
        };
        failures = 0;
        let mut sse = SseBody::new(body, conn.target.max_message);
        let tx = conn.unsolicited_tx.clone();
        drop(conn);
        while let Some(Ok(ev)) = sse.next().await {
            if ev.data.is_empty() {
                continue;
            }
            if let Ok(Payload::Single(Ok(msg))) = Payload::parse(ev.data.as_bytes()) {
                let item = match msg.kind() {
                    Kind::Request => Inbound::Request(msg),
                    Kind::Notification => Inbound::Notification(msg),
                    Kind::Response => continue,
                };
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        }
        last = sse.last_event_id.clone().or(last);
        tokio::time::sleep(sse.retry_ms.map_or(DEFAULT_RETRY, Duration::from_millis)).await;
    }
}

impl ExchangeOwner for HttpConn {
    fn abandon(&self, upstream_id: u64, reason: Option<&str>, notify: bool) {
        let exchange = self.shared.lock().inflight.remove(&upstream_id);
        let Some(exchange) = exchange else { return };
        // Closing the stream is the cancellation for a stateless server
        // (the exchange's driver, dropped with it, holds the stream).
        exchange.abort();
        if notify && self.generation == Generation::Sessionful && !self.is_closed() {
            let msg = rewrite::cancelled(upstream_id, reason);
            if let Some(conn) = self.me.upgrade() {
                tokio::spawn(async move {
                    let _ = conn.post_one_way(msg).await;
                });
            }
        }
    }
}

/// `Mcp-Method` and `Mcp-Name` mirror the body for a stateless server.
fn stateless_headers(msg: &Message) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    let Some(method) = msg.method() else {
        return out;
    };
    if let Ok(v) = HeaderValue::from_str(&mcp_headers::encode_value(method)) {
        out.push((HeaderName::from_static(mcp_headers::METHOD), v));
    }
    let view = msg.params_view().unwrap_or_default();
    if let Some(version) = view.meta_protocol_version()
        && let Ok(v) = HeaderValue::from_str(version)
    {
        out.push((HeaderName::from_static(mcp_headers::PROTOCOL_VERSION), v));
    }
    let name = match mcp_headers::name_source(method) {
        Some(mcp_headers::NameSource::Name) => view.name,
        Some(mcp_headers::NameSource::Uri) => view.uri,
        None => None,
    };
    if let Some(name) = name
        && let Ok(v) = HeaderValue::from_str(&mcp_headers::encode_value(&name))
    {
        out.push((HeaderName::from_static(mcp_headers::NAME), v));
    }
    out
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Finds our response in a JSON body (a message or, from old servers, a
/// batch).
fn find_response(body: &[u8], id: u64) -> Option<Message> {
    let ours = |m: &Message| m.kind() == Kind::Response && m.id().and_then(Id::as_u64) == Some(id);
    match Payload::parse(body).ok()? {
        Payload::Single(Ok(m)) if ours(&m) => Some(m),
        Payload::Batch(items) => items.into_iter().flatten().find(ours),
        Payload::Single(_) => None,
    }
}
