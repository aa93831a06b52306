//! Downstream sessions (sessionful clients, 2024-11-05 to 2025-11-25) and
//! the handling of stateless (2026-07-28) requests.
//!
//! A [`Session`] pairs one client session with one upstream connection
//! (its own, or the server's shared one), keeps the maps that translate ids
//! between the two sides, and forwards each request through the pipeline.
//! Transports (HTTP, stdio) hand it parsed messages and a [`Sink`] to write
//! replies to; it never sees HTTP.

mod bridge;
mod forward;
mod ids;
pub(crate) mod initialize;
mod stateless;
pub mod stream;
mod table;
mod unsolicited;
mod work;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use serde_json::value::RawValue;
use tokio::sync::oneshot;
use toolgate_mcp::{ErrorObject, Id, Kind, Message, ProtocolVersion, codes};

pub use forward::{Env, StatelessEnv};
pub use initialize::{InitializeError, Initialized};
pub use stateless::{check_meta, handle_stateless, unsupported_version};
pub use stream::{Mode, OutStream, Sink, Streams};
pub use table::{Lookup, SessionTable};
pub use work::{Work, beside};

use crate::pipeline::{Pipeline, Principal};
use crate::runtime::ServerRuntime;
use crate::upstream::{Generation, UpstreamConn};

/// Where the client's answer to a server→client request goes.
pub(crate) enum Pending {
    /// Back to the upstream, under the upstream's own id.
    Upstream(Id),
    /// To the gateway itself (bridging an `input_required` result).
    Local(oneshot::Sender<Message>),
}

/// One sessionful client session.
pub struct Session {
    /// The session id (`Mcp-Session-Id`): its claims sealed under the
    /// session key, unforgeable and unique (see `ids`).
    pub id: Arc<str>,
    /// The upstream server.
    pub server: Arc<ServerRuntime>,
    /// The caller; every request on the session must come from this grant.
    /// Swapped for the latest request's principal, so the policy sees the
    /// claims of the access token in use, not of the one that initialized.
    principal: arc_swap::ArcSwap<Principal>,
    /// The revision negotiated with the client.
    pub protocol: ProtocolVersion,
    /// Streams kept for `Last-Event-ID` replay.
    pub streams: Streams,
    pub(crate) conn: Arc<UpstreamConn>,
    pub(crate) upstream: Generation,
    /// The connection is the server's shared one: never close it here.
    pub(crate) shared_conn: bool,
    /// Other replicas can continue the session: letting it go here (idle,
    /// shutdown) must not end the upstream session.
    pub(crate) portable: bool,
    /// The client's `initialize` params (capabilities, clientInfo), used when
    /// bridging to a stateless upstream.
    pub(crate) client_init: Option<Box<RawValue>>,
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) log_level: Mutex<Option<String>>,
    inflight: Mutex<HashMap<Id, oneshot::Sender<String>>>,
    server_requests: Mutex<HashMap<Id, Pending>>,
    next_server_request: AtomicU64,
    standalone: Mutex<Option<Arc<dyn Sink>>>,
    last_active: Mutex<tokio::time::Instant>,
    terminated: AtomicBool,
    /// The `subscriptions/listen` held open on a stateless upstream for
    /// this session (list changes, subscribed resources), if any.
    listener: Mutex<Option<tokio::task::AbortHandle>>,
    /// Resource URIs the client subscribed to (bridged to a stateless
    /// upstream's `subscriptions/listen`).
    pub(crate) resource_subscriptions: Mutex<std::collections::BTreeSet<String>>,
    /// Cancelled when the session ends.
    pub(crate) closed: tokio_util::sync::CancellationToken,
}

impl Session {
    pub(crate) fn new(
        init: Initialized,
        id: Arc<str>,
        portable: bool,
        principal: Arc<Principal>,
        pipeline: Arc<Pipeline>,
    ) -> Arc<Session> {
        Arc::new(Session {
            id,
            server: init.server,
            principal: arc_swap::ArcSwap::new(principal),
            protocol: init.protocol,
            streams: Streams::default(),
            conn: init.conn,
            upstream: init.upstream,
            shared_conn: init.shared,
            portable,
            client_init: init.client_params,
            pipeline,
            log_level: Mutex::new(None),
            inflight: Mutex::new(HashMap::new()),
            server_requests: Mutex::new(HashMap::new()),
            next_server_request: AtomicU64::new(1),
            standalone: Mutex::new(None),
            last_active: Mutex::new(tokio::time::Instant::now()),
            terminated: AtomicBool::new(false),
            listener: Mutex::new(None),
            resource_subscriptions: Mutex::new(std::collections::BTreeSet::new()),
            closed: tokio_util::sync::CancellationToken::new(),
        })
    }

    /// The caller, as of its latest request.
    pub fn principal(&self) -> Arc<Principal> {
        self.principal.load_full()
    }

    /// Whether `caller` owns the session; if it does and brings fresher
    /// claims (a refreshed access token), they replace the old ones.
    pub(crate) fn owned_by(&self, caller: &Arc<Principal>) -> bool {
        let current = self.principal.load();
        if !current.same_caller(caller) {
            return false;
        }
        if **current != **caller {
            self.principal.store(caller.clone());
        }
        true
    }

    /// Handles one client message. A request forwarded upstream is
    /// answered through `sink` by the returned work, which the caller runs
    /// beside its reply or detaches; anything else is done when this
    /// returns.
    pub fn handle(self: &Arc<Self>, msg: Message, sink: Arc<dyn Sink>) -> Option<Work> {
        self.touch();
        match msg.kind() {
            Kind::Request => return self.handle_request(msg, sink),
            Kind::Notification => self.handle_notification(msg),
            Kind::Response => self.handle_response(msg),
        }
        None
    }

    fn handle_request(self: &Arc<Self>, msg: Message, sink: Arc<dyn Sink>) -> Option<Work> {
        if let Some(answer) = self.answer_locally(&msg) {
            sink.finalize(answer);
            return None;
        }
        let env = Env::Session(self.clone());
        Some(Work::new(forward::forward(env, msg, sink)))
    }

    /// Requests the gateway answers itself instead of forwarding.
    fn answer_locally(self: &Arc<Self>, msg: &Message) -> Option<Message> {
        let id = msg.id().cloned()?;
        match msg.method()? {
            "initialize" => Some(Message::error(
                Some(id),
                &ErrorObject::new(codes::INVALID_REQUEST, "the session is already initialized"),
            )),
            "ping" if self.shared_conn || self.upstream == Generation::Stateless => {
                Some(Message::result(id, empty_object()))
            }
            _ if self.upstream == Generation::Stateless => {
                bridge::answer_for_stateless_upstream(self, msg, id)
            }
            _ => None,
        }
    }

    fn handle_notification(self: &Arc<Self>, msg: Message) {
        match msg.method() {
            Some("notifications/cancelled") => {
                let target = msg
                    .params_view()
                    .ok()
                    .and_then(|v| v.request_id)
                    .and_then(|raw| Id::from_json(raw.get()));
                let reason = bridge::cancel_reason(&msg);
                if let Some(cancel) = target.and_then(|id| self.inflight.lock().remove(&id)) {
                    let _ = cancel.send(reason);
                }
            }
            // A shared or stateless upstream was initialized by the gateway;
            // there is nothing to tell it.
            Some("notifications/initialized")
                if self.shared_conn || self.upstream == Generation::Stateless => {}
            _ if self.upstream == Generation::Stateless => {}
            _ => {
                let me = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = me.conn.notify(msg).await {
                        tracing::debug!(session = %me.id, error = %e, "could not forward a notification");
                    }
                });
            }
        }
    }

    fn handle_response(self: &Arc<Self>, mut msg: Message) {
        let pending = msg
            .id()
            .and_then(|id| self.server_requests.lock().remove(id));
        match pending {
            Some(Pending::Upstream(upstream_id)) => {
                msg.set_id(Some(upstream_id));
                let me = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = me.conn.respond(msg).await {
                        tracing::debug!(session = %me.id, error = %e, "could not relay a response upstream");
                    }
                });
            }
            Some(Pending::Local(tx)) => {
                let _ = tx.send(msg);
            }
            None => {
                tracing::debug!(session = %self.id, id = ?msg.id(), "response to no pending server request; dropped")
            }
        }
    }

    /// Gives a server→client request a session-unique id and remembers
    /// where its answer goes.
    pub(crate) fn map_server_request(&self, mut req: Message, pending: Pending) -> Message {
        let id = Id::from_string(&format!(
            "tg-{}",
            self.next_server_request.fetch_add(1, Ordering::Relaxed)
        ));
        self.server_requests.lock().insert(id.clone(), pending);
        req.set_id(Some(id));
        req
    }

    pub(crate) fn register_inflight(&self, id: &Id) -> oneshot::Receiver<String> {
        let (tx, rx) = oneshot::channel();
        self.inflight.lock().insert(id.clone(), tx);
        rx
    }

    pub(crate) fn unregister_inflight(&self, id: &Id) {
        self.inflight.lock().remove(id);
    }

    /// Sets the sink for messages that belong to no request (the GET
    /// stream). Replaces any earlier one.
    pub fn set_standalone(&self, sink: Option<Arc<dyn Sink>>) {
        *self.standalone.lock() = sink;
    }

    /// The GET stream's sink, if one is open.
    pub fn standalone(&self) -> Option<Arc<dyn Sink>> {
        self.standalone.lock().clone()
    }

    /// Marks the session used now.
    pub fn touch(&self) {
        *self.last_active.lock() = tokio::time::Instant::now();
    }

    /// When the session was last used.
    pub fn last_active(&self) -> tokio::time::Instant {
        *self.last_active.lock()
    }

    /// True when requests are in flight (an idle session is one without).
    pub fn busy(&self) -> bool {
        !self.inflight.lock().is_empty()
    }

    /// True once the session ended.
    pub fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::SeqCst)
    }

    /// Ends the session: stops its upstream connection (unless shared).
    /// Returns false when it had already ended.
    pub async fn terminate(&self, why: &str) -> bool {
        if !self.end(why) {
            return false;
        }
        if !self.shared_conn {
            self.conn.close().await;
        }
        true
    }

    /// Lets the session go from this replica without ending the upstream
    /// session, which another replica may be serving (idle expiry and
    /// shutdown of a portable session). Returns false when it had already
    /// ended.
    pub async fn release(&self, why: &str) -> bool {
        if !self.end(why) {
            return false;
        }
        if !self.shared_conn {
            self.conn.detach().await;
        }
        true
    }

    /// Marks the session ended at once (its next request gets 404); the
    /// caller closes the upstream connection. Returns false when it had
    /// already ended.
    pub(crate) fn end(&self, why: &str) -> bool {
        if self.terminated.swap(true, Ordering::SeqCst) {
            return false;
        }
        tracing::info!(session = %self.id, server = %self.server.name, grant = %self.principal().grant, why, "session ended");
        self.closed.cancel();
        if let Some(listener) = self.listener.lock().take() {
            listener.abort();
        }
        self.set_standalone(None);
        true
    }
}

pub(crate) fn empty_object() -> Box<RawValue> {
    toolgate_mcp::message::to_raw(&serde_json::json!({}))
}
