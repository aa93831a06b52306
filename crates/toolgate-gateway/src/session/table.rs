//! All open sessions: lookup, creation, idle expiry, and continuing a
//! session another replica started.
//!
//! A session id carries its own claims (see `ids`). A replica that gets an
//! id it does not hold opens it; if it was sealed under the fleet's key,
//! for this grant and server, and names a Streamable HTTP upstream session,
//! the replica re-attaches to that upstream session and serves the request
//! (it *adopts* the session). Everything else it does not hold is unknown.

use foldhash::{HashMap, HashMapExt as _};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use toolgate_config::SessionConfig;
use toolgate_mcp::{ErrorObject, Message, codes};

use super::Session;
use super::ids::{Claims, SessionIds, Upstream};
use super::initialize::{Initialized, initialize};
use crate::pipeline::{Pipeline, Principal};
use crate::runtime::{ServerRuntime, TransportKind};
use crate::upstream::Generation;

/// The open sessions of every server.
pub struct SessionTable {
    sessions: RwLock<HashMap<Arc<str>, Arc<Session>>>,
    /// Portable sessions that ended here (DELETE, upstream gone), so their
    /// ids get 404 at once instead of being adopted again; kept as long as
    /// an idle session would be.
    ended: Mutex<HashMap<Arc<str>, tokio::time::Instant>>,
    max: usize,
    pipeline: Arc<Pipeline>,
    ids: SessionIds,
}

/// Why a request's session id leads to no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Unknown, ended, another grant's or server's, or bound to the
    /// replica that started it.
    NotFound,
    /// The session could be continued here, but the table is full.
    Full(usize),
}

impl SessionTable {
    /// A table holding at most `config.max_sessions` sessions, sealing ids
    /// under `config.key` (an invalid key, which validation rejects, is
    /// replaced by a random one: sessions then stay with this process).
    pub fn new(config: &SessionConfig, pipeline: Arc<Pipeline>) -> Arc<SessionTable> {
        let key = config.key_bytes().unwrap_or_else(|why| {
            tracing::error!(
                "sessions.key: {why}; using a random key: sessions stay with this process"
            );
            None
        });
        Arc::new(SessionTable {
            sessions: RwLock::new(HashMap::new()),
            ended: Mutex::new(HashMap::new()),
            max: config.max_sessions,
            pipeline,
            ids: SessionIds::new(key),
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
        let session = self.session_for(init, principal);
        self.sessions
            .write()
            .insert(session.id.clone(), session.clone());
        tracing::info!(session = %session.id, server = %session.server.name, grant = %session.principal().grant,
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
        Ok((self.session_for(init, principal), response))
    }

    /// A new session with a fresh id sealing what another replica needs to
    /// continue it.
    fn session_for(&self, init: Initialized, principal: Arc<Principal>) -> Arc<Session> {
        let upstream = match (init.upstream, init.shared, init.transport) {
            (Generation::Stateless, _, _) => Upstream::Stateless,
            (Generation::Sessionful, true, _) => Upstream::Shared,
            (Generation::Sessionful, false, TransportKind::StreamableHttp) => {
                Upstream::Http(init.conn.upstream_session_id())
            }
            (Generation::Sessionful, false, TransportKind::Stdio) => Upstream::Stdio,
            (Generation::Sessionful, false, TransportKind::Sse) => Upstream::LegacySse,
        };
        let claims = Claims {
            upstream,
            client_protocol: init.protocol,
            upstream_protocol: init.conn.protocol().unwrap_or(init.protocol),
            created: Claims::unix_seconds(self.pipeline.clock.now()),
            random: rand::random(),
            server: init.server.name.to_string(),
            grant: principal.grant.to_string(),
        };
        let (id, upstream) = self.ids.seal(&claims);
        let portable = upstream.portable() && self.ids.shared();
        Session::new(init, id.into(), portable, principal, self.pipeline.clone())
    }

    /// The session `id` if it exists, is alive and belongs to `principal`
    /// (a session id alone does not authorize anything).
    pub fn get(&self, id: &str, principal: &Arc<Principal>) -> Option<Arc<Session>> {
        let session = self.sessions.read().get(id).cloned()?;
        usable(session, principal)
    }

    /// The session `id` for a request of `principal` to `server`: the one
    /// held here, or one another replica started that can continue here.
    pub fn find(
        &self,
        id: &str,
        principal: &Arc<Principal>,
        server: &Arc<ServerRuntime>,
    ) -> Result<Arc<Session>, Lookup> {
        // One lookup (this runs on every request of a session).
        let held = self.sessions.read().get(id).cloned();
        if let Some(session) = held {
            return usable(session, principal).ok_or(Lookup::NotFound);
        }
        // Without a configured key no other process can have sealed it.
        if !self.ids.shared() || self.ended.lock().contains_key(id) {
            return Err(Lookup::NotFound);
        }
        self.adopt(id, principal, server)
    }

    /// Continues a session another replica started: opens the id, checks
    /// it against the request, re-attaches to the upstream session.
    fn adopt(
        &self,
        id: &str,
        principal: &Arc<Principal>,
        server: &Arc<ServerRuntime>,
    ) -> Result<Arc<Session>, Lookup> {
        let claims = self.ids.open(id).ok_or(Lookup::NotFound)?;
        if *claims.grant != *principal.grant || *claims.server != *server.name {
            return Err(Lookup::NotFound);
        }
        let Upstream::Http(upstream_sid) = &claims.upstream else {
            tracing::debug!(session = %id, upstream = ?claims.upstream,
                "session belongs to the replica that started it; 404 so the client re-initializes");
            return Err(Lookup::NotFound);
        };
        if self.len() >= self.max {
            return Err(Lookup::Full(self.max));
        }
        let conn = server
            .attach_session(upstream_sid.as_deref(), claims.upstream_protocol)
            .map_err(|e| {
                tracing::warn!(session = %id, server = %server.name, error = %e, "cannot continue a session here");
                Lookup::NotFound
            })?;
        let init = Initialized {
            server: server.clone(),
            conn: Arc::new(conn),
            upstream: Generation::Sessionful,
            shared: false,
            protocol: claims.client_protocol,
            client_params: None,
            transport: TransportKind::StreamableHttp,
        };
        let fresh = Session::new(
            init,
            id.into(),
            true,
            principal.clone(),
            self.pipeline.clone(),
        );
        // Two requests may adopt the same id at once: the first one in wins,
        // the other's connection is dropped unused.
        let session = self
            .sessions
            .write()
            .entry(fresh.id.clone())
            .or_insert_with(|| fresh.clone())
            .clone();
        if Arc::ptr_eq(&session, &fresh) {
            session.start_pump();
            let age =
                Claims::unix_seconds(self.pipeline.clock.now()).saturating_sub(claims.created);
            tracing::info!(session = %session.id, server = %session.server.name, grant = %session.principal().grant,
                protocol = %session.protocol, age_s = age, "session continued from another replica");
        }
        self.get(id, principal).ok_or(Lookup::NotFound)
    }

    /// Ends and forgets a session, upstream included.
    pub async fn remove(&self, id: &str, why: &str) -> bool {
        let session = self.sessions.write().remove(id);
        match session {
            Some(s) => {
                self.remember_ended(&s);
                s.terminate(why).await
            }
            None => false,
        }
    }

    /// Forgets a session here. A portable one is let go without ending its
    /// upstream session (another replica may be serving the client, and a
    /// client that comes back here continues it); others end.
    async fn let_go(&self, id: &str, why: &str) {
        let session = self.sessions.write().remove(id);
        match session {
            Some(s) if s.portable => {
                s.release(why).await;
            }
            Some(s) => {
                s.terminate(why).await;
            }
            None => {}
        }
    }

    fn remember_ended(&self, s: &Session) {
        if !s.portable {
            return;
        }
        let mut ended = self.ended.lock();
        // Bounded: past the limit an ended id is adopted again, and the
        // upstream's 404 ends it once more.
        if ended.len() < self.max {
            ended.insert(s.id.clone(), tokio::time::Instant::now());
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

    /// Forgets sessions that ended on their own (upstream gone) and lets
    /// go of those idle here longer than `idle`.
    pub async fn reap(&self, idle: Duration) {
        let now = tokio::time::Instant::now();
        self.ended
            .lock()
            .retain(|_, at| now.duration_since(*at) < idle);
        let (gone, idle_here): (Vec<_>, Vec<_>) = self
            .sessions
            .read()
            .values()
            .filter(|s| {
                s.is_terminated() || (!s.busy() && now.duration_since(s.last_active()) >= idle)
            })
            .map(|s| (s.id.clone(), s.is_terminated()))
            .partition(|(_, terminated)| *terminated);
        for (id, _) in gone {
            self.remove(&id, "upstream ended").await;
        }
        for (id, _) in idle_here {
            self.let_go(&id, "idle timeout").await;
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

    /// Ends every session this replica alone can serve, and lets go of the
    /// portable ones, which other replicas go on serving (shutdown).
    pub async fn close_all(&self) {
        let all: Vec<Arc<Session>> = self.sessions.write().drain().map(|(_, s)| s).collect();
        for s in all {
            if s.portable {
                s.release("gateway shutting down").await;
            } else {
                s.terminate("gateway shutting down").await;
            }
        }
    }
}

/// `session`, if `principal` owns it and it has not ended.
fn usable(session: Arc<Session>, principal: &Arc<Principal>) -> Option<Arc<Session>> {
    let owned = session.owned_by(principal);
    (owned && !session.is_terminated()).then_some(session)
}
