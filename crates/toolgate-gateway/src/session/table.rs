//! All open sessions: lookup, creation, idle expiry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use toolgate_mcp::{ErrorObject, Message, codes};

use super::Session;
use super::initialize::initialize;
use crate::pipeline::{Pipeline, Principal};
use crate::runtime::ServerRuntime;

/// The open sessions of every server.
pub struct SessionTable {
    sessions: RwLock<HashMap<Arc<str>, Arc<Session>>>,
    max: usize,
    pipeline: Arc<Pipeline>,
}

impl SessionTable {
    /// A table holding at most `max` sessions.
    pub fn new(max: usize, pipeline: Arc<Pipeline>) -> Arc<SessionTable> {
        Arc::new(SessionTable {
            sessions: RwLock::new(HashMap::new()),
            max,
            pipeline,
        })
    }

    /// Starts a session from a client's `initialize`; returns it with the
    /// response to send, or the error to send.
    pub async fn create(
        &self,
        server: Arc<ServerRuntime>,
        principal: Arc<Principal>,
        msg: &Message,
    ) -> Result<(Arc<Session>, Message), Message> {
        if self.len() >= self.max {
            let err = ErrorObject::new(
                codes::SERVER_ERROR,
                format!("too many open sessions (limit {})", self.max),
            );
            return Err(Message::error(msg.id().cloned(), &err));
        }
        let (init, response) = initialize(server, msg).await?;
        let session = Session::new(init, principal, self.pipeline.clone());
        self.sessions
            .write()
            .insert(session.id.clone(), session.clone());
        tracing::info!(session = %session.id, server = %session.server.name, grant = %session.principal.grant,
            protocol = %session.protocol, "session started");
        Ok((session, response))
    }

    /// Starts a session that is not listed (a stdio client's: it lives as
    /// long as the client's input, not an idle timer).
    pub async fn create_detached(
        &self,
        server: Arc<ServerRuntime>,
        principal: Arc<Principal>,
        msg: &Message,
    ) -> Result<(Arc<Session>, Message), Message> {
        let (init, response) = initialize(server, msg).await?;
        Ok((
            Session::new(init, principal, self.pipeline.clone()),
            response,
        ))
    }

    /// The session `id` if it exists, is alive and belongs to `principal`
    /// (a session id alone does not authorize anything).
    pub fn get(&self, id: &str, principal: &Principal) -> Option<Arc<Session>> {
        let session = self.sessions.read().get(id).cloned()?;
        let owned = *session.principal == *principal;
        (owned && !session.is_terminated()).then_some(session)
    }

    /// Ends and forgets a session.
    pub async fn remove(&self, id: &str, why: &str) -> bool {
        let session = self.sessions.write().remove(id);
        match session {
            Some(s) => s.terminate(why).await,
            None => false,
        }
    }

    /// Number of open sessions.
    pub fn len(&self) -> usize {
        self.sessions.read().len()
    }

    /// True when no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets sessions that ended on their own (upstream gone) and ends
    /// those idle longer than `idle`.
    pub async fn reap(&self, idle: Duration) {
        let now = tokio::time::Instant::now();
        let expired: Vec<(Arc<str>, &'static str)> = self
            .sessions
            .read()
            .values()
            .filter_map(|s| {
                if s.is_terminated() {
                    Some((s.id.clone(), "upstream ended"))
                } else if !s.busy() && now.duration_since(s.last_active()) >= idle {
                    Some((s.id.clone(), "idle timeout"))
                } else {
                    None
                }
            })
            .collect();
        for (id, why) in expired {
            self.remove(&id, why).await;
        }
    }

    /// Runs [`Self::reap`] periodically until the table is dropped.
    pub fn spawn_reaper(self: &Arc<Self>, idle: Duration) {
        let weak = Arc::downgrade(self);
        let every = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(table) = weak.upgrade() else { return };
                table.reap(idle).await;
            }
        });
    }

    /// Ends every session (shutdown).
    pub async fn close_all(&self) {
        let all: Vec<Arc<Session>> = self.sessions.write().drain().map(|(_, s)| s).collect();
        for s in all {
            s.terminate("gateway shutting down").await;
        }
    }
}
