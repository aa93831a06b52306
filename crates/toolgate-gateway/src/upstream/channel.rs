//! The request/response bookkeeping for transports that carry every message
//! on one stream each way: stdio and legacy HTTP+SSE.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use toolgate_mcp::{ErrorObject, Kind, Message, Payload, ProtocolVersion, codes};

use super::exchange::ExchangeOwner;
use super::rewrite::{self, Originals};
use super::{Exchange, Inbound, UnrelatedRoute, UpstreamError};

/// Interim messages queued per request before a slow client makes the
/// gateway drop notifications (responses are never dropped).
const EVENT_QUEUE: usize = 256;

/// Shuts the transport down (stops the process, aborts the stream).
pub(crate) type Closer = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

struct Pending {
    originals: Originals,
    events: mpsc::Sender<Inbound>,
    response: oneshot::Sender<Result<Message, UpstreamError>>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    pending: BTreeMap<u64, Pending>,
    closed: Option<UpstreamError>,
}

/// One upstream message stream each way, shared by every request on it.
pub struct ChannelCore {
    label: &'static str,
    writer: mpsc::Sender<Message>,
    state: Mutex<State>,
    unsolicited_tx: mpsc::Sender<Inbound>,
    unsolicited_rx: Mutex<Option<mpsc::Receiver<Inbound>>>,
    route: UnrelatedRoute,
    protocol: Mutex<Option<ProtocolVersion>>,
    closer: Mutex<Option<Closer>>,
    me: Weak<ChannelCore>,
}

impl ChannelCore {
    /// A core whose outgoing messages go to `writer` (the transport's writer
    /// task). The transport feeds incoming messages to [`Self::on_payload`].
    pub(crate) fn new(
        label: &'static str,
        route: UnrelatedRoute,
        writer: mpsc::Sender<Message>,
    ) -> Arc<ChannelCore> {
        let (unsolicited_tx, unsolicited_rx) = mpsc::channel(EVENT_QUEUE);
        Arc::new_cyclic(|me| ChannelCore {
            label,
            writer,
            state: Mutex::new(State {
                next_id: 1,
                ..State::default()
            }),
            unsolicited_tx,
            unsolicited_rx: Mutex::new(Some(unsolicited_rx)),
            route,
            protocol: Mutex::new(None),
            closer: Mutex::new(None),
            me: me.clone(),
        })
    }

    /// Installs what [`Self::close`] runs to stop the transport.
    pub(crate) fn set_closer(&self, closer: Closer) {
        *self.closer.lock() = Some(closer);
    }

    pub(crate) fn label(&self) -> &'static str {
        self.label
    }

    pub(crate) fn protocol(&self) -> Option<ProtocolVersion> {
        *self.protocol.lock()
    }

    pub(crate) fn set_protocol(&self, v: ProtocolVersion) {
        *self.protocol.lock() = Some(v);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().closed.is_some()
    }

    pub(crate) fn take_unsolicited(&self) -> Option<mpsc::Receiver<Inbound>> {
        self.unsolicited_rx.lock().take()
    }

    /// Sends a request; see [`super::UpstreamConn::request`].
    pub(crate) async fn request(&self, mut msg: Message) -> Result<Exchange, UpstreamError> {
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let (resp_tx, resp_rx) = oneshot::channel();
        let id = {
            let mut st = self.state.lock();
            if let Some(e) = &st.closed {
                return Err(e.clone());
            }
            let id = st.next_id;
            st.next_id += 1;
            let originals = rewrite::map_request(&mut msg, id)?;
            st.pending.insert(
                id,
                Pending {
                    originals,
                    events: events_tx,
                    response: resp_tx,
                },
            );
            id
        };
        let owner: Weak<dyn ExchangeOwner> = self.me.clone();
        // stdio and legacy SSE servers stream everything they send: the
        // gateway streams its reply to the client too.
        let streamed = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let exchange = Exchange::new(id, events_rx, resp_rx, owner).with_streamed_flag(streamed);
        if self.writer.send(msg).await.is_err() {
            self.state.lock().pending.remove(&id);
            return Err(self.closed_reason());
        }
        Ok(exchange)
    }

    /// Sends a notification or a response as it is.
    pub(crate) async fn send(&self, msg: Message) -> Result<(), UpstreamError> {
        if let Some(e) = &self.state.lock().closed {
            return Err(e.clone());
        }
        self.writer
            .send(msg)
            .await
            .map_err(|_| self.closed_reason())
    }

    fn closed_reason(&self) -> UpstreamError {
        self.state
            .lock()
            .closed
            .clone()
            .unwrap_or(UpstreamError::Closed)
    }

    /// Handles whatever the transport read: a message or a batch of them.
    pub(crate) fn on_payload(&self, text: &str, server: &str) {
        match Payload::parse(text.as_bytes()) {
            Ok(Payload::Single(Ok(m))) => self.on_message(m),
            Ok(Payload::Batch(items)) => {
                for m in items.into_iter().flatten() {
                    self.on_message(m);
                }
            }
            Ok(Payload::Single(Err(e))) => {
                tracing::warn!(server, transport = self.label, error = %e, "upstream sent an invalid JSON-RPC message; ignored");
            }
            Err(e) => {
                tracing::warn!(server, transport = self.label, error = %e, "upstream sent a line that is not JSON; ignored");
            }
        }
    }

    fn on_message(&self, mut msg: Message) {
        match msg.kind() {
            Kind::Response => {
                let pending = msg
                    .id()
                    .and_then(|id| id.as_u64())
                    .and_then(|id| self.state.lock().pending.remove(&id));
                match pending {
                    Some(p) => {
                        msg.set_id(Some(p.originals.id));
                        let _ = p.response.send(Ok(msg));
                    }
                    None => {
                        tracing::debug!(id = ?msg.id(), "response to no pending request (cancelled or late); dropped")
                    }
                }
            }
            Kind::Notification => {
                if let Some((id, by)) = rewrite::related_upstream_id(&msg) {
                    let st = self.state.lock();
                    if let Some(p) = st.pending.get(&id) {
                        rewrite::restore_related(&mut msg, by, &p.originals);
                        if p.events.try_send(Inbound::Notification(msg)).is_err() {
                            tracing::warn!("client is slow; dropped an upstream notification");
                        }
                        return;
                    }
                    tracing::debug!("notification for a finished request; dropped");
                    return;
                }
                self.route_unrelated(Inbound::Notification(msg));
            }
            Kind::Request => self.route_unrelated(Inbound::Request(msg)),
        }
    }

    fn route_unrelated(&self, ev: Inbound) {
        let ev = if self.route == UnrelatedRoute::NewestRequest {
            let st = self.state.lock();
            match st.pending.values().next_back() {
                Some(p) => match p.events.try_send(ev) {
                    Ok(()) => return,
                    Err(e) => e.into_inner(),
                },
                None => ev,
            }
        } else {
            ev
        };
        if let Err(e) = self.unsolicited_tx.try_send(ev)
            && let Inbound::Request(req) = e.into_inner()
        {
            self.refuse(&req);
        }
    }

    /// Answers a server→client request nobody can take.
    fn refuse(&self, req: &Message) {
        let err = ErrorObject::new(
            codes::INTERNAL_ERROR,
            "no client stream is available for this request",
        );
        let reply = Message::error(req.id().cloned(), &err);
        let _ = self.writer.try_send(reply);
    }

    /// Fails every pending request and refuses new ones.
    pub(crate) fn fail_all(&self, err: UpstreamError) {
        let pending = {
            let mut st = self.state.lock();
            st.closed.get_or_insert(err.clone());
            std::mem::take(&mut st.pending)
        };
        for (_, p) in pending {
            let _ = p.response.send(Err(err.clone()));
        }
    }

    /// Closes the connection and stops the transport.
    pub(crate) async fn close(&self) {
        self.fail_all(UpstreamError::Closed);
        let closer = self.closer.lock().take();
        if let Some(close) = closer {
            close().await;
        }
    }
}

impl ExchangeOwner for ChannelCore {
    fn abandon(&self, upstream_id: u64, reason: Option<&str>, notify: bool) {
        let removed = self.state.lock().pending.remove(&upstream_id).is_some();
        if removed && notify && !self.is_closed() {
            let _ = self
                .writer
                .try_send(rewrite::cancelled(upstream_id, reason));
        }
    }
}
