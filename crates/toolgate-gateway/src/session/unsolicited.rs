//! Messages that belong to no request: list changes, resource updates,
//! log messages, and server→client requests outside a call. They go to the
//! session's standalone (GET) stream when one is open.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use toolgate_mcp::message::to_raw;
use toolgate_mcp::{ErrorObject, Id, Message, codes};

use super::{Pending, Session, Sink};
use crate::upstream::exchange::Step;
use crate::upstream::{Generation, Inbound};

impl Session {
    /// Starts relaying the upstream's unsolicited messages to this session.
    pub fn start_pump(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        if self.shared_conn {
            let mut rx = self.server.shared_events();
            tokio::spawn(async move {
                loop {
                    let item = match rx.recv().await {
                        Ok(n) => Inbound::Notification(n),
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return,
                    };
                    match weak.upgrade() {
                        Some(s) if !s.is_terminated() => s.deliver_unsolicited(item),
                        _ => return,
                    }
                }
            });
        } else if let Some(mut rx) = self.conn.take_unsolicited() {
            tokio::spawn(async move {
                while let Some(item) = rx.recv().await {
                    match weak.upgrade() {
                        Some(s) => s.deliver_unsolicited(item),
                        None => return,
                    }
                }
            });
        }
    }

    fn deliver_unsolicited(self: &Arc<Self>, item: Inbound) {
        let sink = self.standalone();
        match (item, sink) {
            (Inbound::Notification(n), Some(sink)) => sink.interim(n),
            (Inbound::Notification(n), None) => {
                tracing::debug!(session = %self.id, method = ?n.method(), "no GET stream open; notification dropped");
            }
            (Inbound::Request(r), Some(sink)) => match r.id().cloned() {
                Some(id) => sink.interim(self.map_server_request(r, Pending::Upstream(id))),
                None => tracing::debug!("server request without id; dropped"),
            },
            (Inbound::Request(r), None) => {
                let conn = self.conn.clone();
                let err = ErrorObject::new(
                    codes::INTERNAL_ERROR,
                    "the client has no open stream for server requests",
                );
                let reply = Message::error(r.id().cloned(), &err);
                tokio::spawn(async move {
                    let _ = conn.respond(reply).await;
                });
            }
        }
    }

    /// Makes `stream` the session's GET stream and makes sure the upstream
    /// sends what belongs on it.
    pub fn open_standalone(self: &Arc<Self>, stream: Arc<dyn Sink>) {
        self.set_standalone(Some(stream));
        match self.upstream {
            Generation::Sessionful => self.conn.open_unsolicited_stream(),
            Generation::Stateless => {
                if self.listener.lock().is_none() {
                    self.restart_listen();
                }
            }
        }
    }

    /// (Re)opens the `subscriptions/listen` on a stateless upstream with
    /// the session's current interests: list changes the upstream
    /// advertises, and the resources the client subscribed to.
    pub(crate) fn restart_listen(self: &Arc<Self>) {
        let task = tokio::spawn(listen_upstream(self.clone()));
        if let Some(old) = self.listener.lock().replace(task.abort_handle()) {
            old.abort();
        }
    }
}

/// A stateless upstream has no GET stream: list changes and resource
/// updates come from a `subscriptions/listen` request, held open while the
/// session lives.
async fn listen_upstream(session: Arc<Session>) {
    let Some(info) = session.server.profile().map(|p| p.info) else {
        return;
    };
    let mut filter = serde_json::Map::new();
    for (cap, key) in [
        ("tools", "toolsListChanged"),
        ("prompts", "promptsListChanged"),
        ("resources", "resourcesListChanged"),
    ] {
        if info.has_capability(cap) {
            filter.insert(key.into(), true.into());
        }
    }
    let resources: Vec<String> = session
        .resource_subscriptions
        .lock()
        .iter()
        .cloned()
        .collect();
    if !resources.is_empty() {
        filter.insert("resourceSubscriptions".into(), json!(resources));
    }
    if filter.is_empty() {
        return;
    }
    let params = json!({
        "notifications": filter,
        "_meta": crate::upstream::handshake::gateway_request_meta(),
    });
    let req = Message::request(
        Id::from_string("listen"),
        "subscriptions/listen",
        Some(to_raw(&params)),
    );
    let Ok(mut exchange) = session.conn.request(req).await else {
        return;
    };
    loop {
        let step = tokio::select! {
            step = exchange.next() => step,
            () = session.closed.cancelled() => return,
        };
        match step {
            Some(Step::Event(Inbound::Notification(n))) => {
                if n.method() == Some("notifications/subscriptions/acknowledged") {
                    continue;
                }
                if let Some(sink) = session.standalone() {
                    sink.interim(without_subscription_id(n));
                }
            }
            Some(Step::Event(_)) => {}
            Some(Step::Response(_)) | None => return,
        }
    }
}

/// Sessionful clients know nothing of subscription ids: keep the params,
/// drop the tag.
fn without_subscription_id(n: Message) -> Message {
    let Ok(mut params) = toolgate_mcp::RawObject::parse(n.params()) else {
        return n;
    };
    let _ = params.edit_object("_meta", |m| {
        m.remove("io.modelcontextprotocol/subscriptionId");
    });
    let mut out = n;
    out.set_params(Some(params.into_raw()));
    out
}
