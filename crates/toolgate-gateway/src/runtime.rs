//! One configured upstream server at run time: how to reach it, what it
//! speaks (found by probing), whether it is ready, and the shared
//! connection used for stateless clients.

mod tools;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use parking_lot::RwLock;
use tokio::sync::broadcast;
use toolgate_config::{Instances, ProtocolChoice, ServerConfig, Transport};
use toolgate_mcp::{ErrorObject, Message, ProtocolVersion, codes};

use crate::metrics::Metrics;
use crate::upstream::handshake::{self, HandshakeError, ServerInfo};
use crate::upstream::http::HttpTarget;

/// Longest pause between probes of an upstream that is not ready.
const MAX_PROBE_BACKOFF: Duration = Duration::from_secs(30);
use crate::upstream::{
    ChannelCore, Generation, HttpClient, HttpConn, Inbound, StdioOptions, UnrelatedRoute,
    UpstreamConn, UpstreamError, connect_legacy_sse, spawn_stdio,
};

/// The wire transport found for a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// A child process.
    Stdio,
    /// Streamable HTTP.
    StreamableHttp,
    /// Legacy HTTP+SSE.
    Sse,
}

/// What probing learned about a server.
#[derive(Clone, Debug)]
pub struct Profile {
    /// The transport.
    pub transport: TransportKind,
    /// Sessionful or stateless.
    pub generation: Generation,
    /// Its `initialize` or `server/discover` answer.
    pub info: ServerInfo,
}

/// Readiness, for `/healthz`.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// True once a probe succeeded (and no later one failed).
    pub ready: bool,
    /// The last probe failure, if any.
    pub error: Option<String>,
}

/// A server's runtime state.
pub struct ServerRuntime {
    /// The name in the config (the URL path segment).
    pub name: Arc<str>,
    cfg: ServerConfig,
    cwd: Option<PathBuf>,
    client: HttpClient,
    profile: RwLock<Option<Profile>>,
    health: RwLock<Health>,
    shared: tokio::sync::Mutex<Option<Arc<UpstreamConn>>>,
    events: broadcast::Sender<Message>,
    probing: std::sync::atomic::AtomicBool,
    metrics: Arc<Metrics>,
}

/// A connection for a downstream session.
pub struct SessionConn {
    /// The connection.
    pub conn: Arc<UpstreamConn>,
    /// What the server speaks.
    pub profile: Profile,
    /// True when the connection is shared and already initialized by the
    /// gateway: the client's `initialize` is then answered by the gateway.
    pub shared: bool,
}

impl ServerRuntime {
    /// A runtime for one configured server; nothing is started yet.
    pub(crate) fn new(
        name: &str,
        cfg: &ServerConfig,
        cwd: Option<PathBuf>,
        client: HttpClient,
        metrics: Arc<Metrics>,
    ) -> ServerRuntime {
        ServerRuntime {
            name: name.into(),
            cfg: cfg.clone(),
            cwd,
            client,
            profile: RwLock::new(None),
            health: RwLock::new(Health::default()),
            shared: tokio::sync::Mutex::new(None),
            events: broadcast::channel(256).0,
            probing: std::sync::atomic::AtomicBool::new(false),
            metrics,
        }
    }

    /// The server's configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    /// How long one upstream request may take.
    pub fn request_timeout(&self) -> Duration {
        self.cfg.timeout.0
    }

    /// Current readiness.
    pub fn health(&self) -> Health {
        self.health.read().clone()
    }

    /// The probed profile, if a probe succeeded.
    pub fn profile(&self) -> Option<Profile> {
        self.profile.read().clone()
    }

    fn connect_timeout(&self) -> Duration {
        self.cfg.connect_timeout.0
    }

    /// Probes the server: starts it or connects, handshakes, records what it
    /// speaks. A stateless server's probe connection becomes the shared one.
    pub async fn probe(&self) -> Result<Profile, String> {
        match self.detect().await {
            Ok((profile, conn)) => {
                *self.health.write() = Health {
                    ready: true,
                    error: None,
                };
                *self.profile.write() = Some(profile.clone());
                if self.is_shared(&profile) {
                    self.install_shared(&mut *self.shared.lock().await, conn);
                } else {
                    conn.close().await;
                }
                tracing::info!(server = %self.name, transport = ?profile.transport, generation = ?profile.generation,
                    protocol = ?profile.info.protocol, "upstream ready");
                Ok(profile)
            }
            Err(e) => {
                let msg = e.to_string();
                *self.health.write() = Health {
                    ready: false,
                    error: Some(msg.clone()),
                };
                Err(msg)
            }
        }
    }

    /// Probes until the server is ready, backing off between attempts; a
    /// no-op if such a loop is already running.
    pub fn spawn_probe_loop(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.probing.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(500);
            while let Err(e) = me.probe().await {
                tracing::warn!(server = %me.name, error = %e, retry_in = ?backoff, "upstream not ready");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_PROBE_BACKOFF);
            }
            me.probing.store(false, Ordering::SeqCst);
        });
    }

    /// Records that the server could not be reached: `/healthz` reports it
    /// until a new probe succeeds.
    pub fn report_unreachable(self: &Arc<Self>, err: &UpstreamError) {
        let unreachable = matches!(err, UpstreamError::Connect(_) | UpstreamError::Spawn { .. });
        if !unreachable {
            return;
        }
        *self.health.write() = Health {
            ready: false,
            error: Some(err.to_string()),
        };
        self.spawn_probe_loop();
    }

    /// Returns the profile, probing first if there is none yet.
    pub async fn ensure_profile(&self) -> Result<Profile, UpstreamError> {
        if let Some(p) = self.profile() {
            return Ok(p);
        }
        self.probe().await.map_err(UpstreamError::Connect)
    }

    async fn detect(&self) -> Result<(Profile, Arc<UpstreamConn>), HandshakeError> {
        let timeout = self.connect_timeout();
        if self.cfg.command.is_some() {
            let conn = Arc::new(self.spawn(UnrelatedRoute::Unsolicited)?);
            let (generation, info) = match self.cfg.protocol {
                ProtocolChoice::Stateless => (
                    Generation::Stateless,
                    handshake::discover(&conn, timeout).await?,
                ),
                ProtocolChoice::Sessionful => (
                    Generation::Sessionful,
                    handshake::initialize(&conn, timeout).await?,
                ),
                ProtocolChoice::Auto => match handshake::initialize(&conn, timeout).await {
                    Ok(info) => (Generation::Sessionful, info),
                    Err(HandshakeError::Refused(_)) => (
                        Generation::Stateless,
                        handshake::discover(&conn, timeout).await?,
                    ),
                    Err(e) => return Err(e),
                },
            };
            let profile = Profile {
                transport: TransportKind::Stdio,
                generation,
                info,
            };
            return Ok((profile, conn));
        }
        self.detect_remote(timeout).await
    }

    async fn detect_remote(
        &self,
        timeout: Duration,
    ) -> Result<(Profile, Arc<UpstreamConn>), HandshakeError> {
        let target = self.http_target()?;
        if self.cfg.transport == Transport::Sse {
            return self.detect_legacy(&target, timeout).await;
        }
        if self.cfg.protocol != ProtocolChoice::Sessionful {
            let conn = Arc::new(UpstreamConn::Http(HttpConn::new(
                self.client.clone(),
                target.clone(),
                Generation::Stateless,
            )));
            match handshake::discover(&conn, timeout).await {
                Ok(info) => {
                    let profile = Profile {
                        transport: TransportKind::StreamableHttp,
                        generation: Generation::Stateless,
                        info,
                    };
                    return Ok((profile, conn));
                }
                Err(e) if e.is_modern() || self.cfg.protocol == ProtocolChoice::Stateless => {
                    return Err(e);
                }
                Err(e) => {
                    tracing::debug!(server = %self.name, error = %e, "not a stateless server; trying initialize")
                }
            }
        }
        let conn = Arc::new(UpstreamConn::Http(HttpConn::new(
            self.client.clone(),
            target.clone(),
            Generation::Sessionful,
        )));
        match handshake::initialize(&conn, timeout).await {
            Ok(info) => {
                let profile = Profile {
                    transport: TransportKind::StreamableHttp,
                    generation: Generation::Sessionful,
                    info,
                };
                Ok((profile, conn))
            }
            Err(e) if e.suggests_legacy_sse() && self.cfg.transport == Transport::Auto => {
                tracing::debug!(server = %self.name, error = %e, "not Streamable HTTP; trying legacy HTTP+SSE");
                self.detect_legacy(&target, timeout).await
            }
            Err(e) => Err(e),
        }
    }

    async fn detect_legacy(
        &self,
        target: &HttpTarget,
        timeout: Duration,
    ) -> Result<(Profile, Arc<UpstreamConn>), HandshakeError> {
        let core =
            connect_legacy_sse(&self.client, target, UnrelatedRoute::Unsolicited, timeout).await?;
        let conn = Arc::new(UpstreamConn::Channel(core));
        let info = handshake::initialize(&conn, timeout).await?;
        let profile = Profile {
            transport: TransportKind::Sse,
            generation: Generation::Sessionful,
            info,
        };
        Ok((profile, conn))
    }

    fn spawn(&self, route: UnrelatedRoute) -> Result<UpstreamConn, UpstreamError> {
        let opts = StdioOptions {
            server: self.name.to_string(),
            command: self.cfg.command.clone().unwrap_or_default(),
            env: self.cfg.env.clone(),
            cwd: self.cwd.clone(),
            inherit: self.cfg.inherit_env,
            max_line: self.cfg.max_message_bytes.0,
            route,
            metrics: Some(self.metrics.clone()),
        };
        let core: Arc<ChannelCore> = spawn_stdio(&opts)?;
        Ok(UpstreamConn::Channel(core))
    }

    pub(crate) fn http_target(&self) -> Result<HttpTarget, UpstreamError> {
        let url = self.cfg.url.as_deref().unwrap_or_default();
        let url: Uri = url.parse().map_err(|e| {
            // Shown in logs and /healthz: no userinfo password or token parameter.
            let url = toolgate_config::redact_url(url);
            UpstreamError::Connect(format!("invalid url {url:?}: {e}"))
        })?;
        let mut headers = HeaderMap::new();
        for (k, v) in &self.cfg.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| UpstreamError::Connect(format!("invalid header name {k:?}")))?;
            let mut value = HeaderValue::from_str(v)
                .map_err(|_| UpstreamError::Connect(format!("invalid value for header {k:?}")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(HttpTarget {
            server: self.name.to_string(),
            url,
            headers,
            max_message: self.cfg.max_message_bytes.0,
        })
    }

    /// A connection for a new sessionful downstream session. For sessionful
    /// upstreams it is fresh and not yet initialized (the client's own
    /// `initialize` goes through it); for stateless or shared upstreams it
    /// is the shared connection.
    pub async fn session_conn(&self) -> Result<SessionConn, UpstreamError> {
        let profile = self.ensure_profile().await?;
        if self.is_shared(&profile) {
            let conn = self.shared_conn().await?;
            let profile = self.profile().unwrap_or(profile);
            return Ok(SessionConn {
                conn,
                profile,
                shared: true,
            });
        }
        let conn = match profile.transport {
            TransportKind::Stdio => self.spawn(UnrelatedRoute::NewestRequest)?,
            TransportKind::StreamableHttp => UpstreamConn::Http(HttpConn::new(
                self.client.clone(),
                self.http_target()?,
                Generation::Sessionful,
            )),
            TransportKind::Sse => {
                let core = connect_legacy_sse(
                    &self.client,
                    &self.http_target()?,
                    UnrelatedRoute::NewestRequest,
                    self.connect_timeout(),
                )
                .await?;
                UpstreamConn::Channel(core)
            }
        };
        Ok(SessionConn {
            conn: Arc::new(conn),
            profile,
            shared: false,
        })
    }

    /// A connection re-attached to a Streamable HTTP upstream session that
    /// another replica initialized (`session_id` as the upstream gave it,
    /// `protocol` as negotiated). Nothing is sent: the session is already
    /// initialized. Fails when this replica's configuration or probe says
    /// the server is not a sessionful Streamable HTTP server with a session
    /// per client (the replicas' configs disagree).
    pub(crate) fn attach_session(
        &self,
        session_id: Option<&str>,
        protocol: ProtocolVersion,
    ) -> Result<UpstreamConn, UpstreamError> {
        let mismatch = |what: &str| {
            UpstreamError::Connect(format!(
                "cannot continue a Streamable HTTP session here: {what}"
            ))
        };
        if self.cfg.url.is_none() || self.cfg.transport == Transport::Sse {
            return Err(mismatch("the server is not a Streamable HTTP server"));
        }
        if self.cfg.instances == Instances::Shared {
            return Err(mismatch("the server is configured `instances: shared`"));
        }
        if let Some(p) = self.profile()
            && (p.transport != TransportKind::StreamableHttp
                || p.generation != Generation::Sessionful)
        {
            return Err(mismatch("the upstream was probed as another kind"));
        }
        let session_id = session_id
            .map(HeaderValue::from_str)
            .transpose()
            .map_err(|_| mismatch("the upstream session id is not a header value"))?;
        Ok(UpstreamConn::Http(HttpConn::attached(
            self.client.clone(),
            self.http_target()?,
            session_id,
            protocol,
        )))
    }

    fn is_shared(&self, profile: &Profile) -> bool {
        profile.generation == Generation::Stateless || self.cfg.instances == Instances::Shared
    }

    /// Subscribes to the notifications of the shared connection that belong
    /// to no request (list changes, resource updates).
    pub fn shared_events(&self) -> broadcast::Receiver<Message> {
        self.events.subscribe()
    }

    /// Makes `conn` the shared connection and fans its unrelated messages
    /// out to every subscriber. Server→client requests cannot be routed to
    /// one client of a shared connection, so they are refused.
    fn install_shared(&self, slot: &mut Option<Arc<UpstreamConn>>, conn: Arc<UpstreamConn>) {
        if let Some(mut rx) = conn.take_unsolicited() {
            conn.open_unsolicited_stream();
            let events = self.events.clone();
            let weak = Arc::downgrade(&conn);
            let server = self.name.clone();
            tokio::spawn(async move {
                while let Some(item) = rx.recv().await {
                    match item {
                        Inbound::Notification(n) => {
                            let _ = events.send(n);
                        }
                        Inbound::Request(r) => {
                            tracing::warn!(%server, method = ?r.method(), "shared upstream sent a request no single client can answer; refused");
                            if let Some(conn) = weak.upgrade() {
                                let err = ErrorObject::new(
                                    codes::METHOD_NOT_FOUND,
                                    "the gateway does not relay requests on a shared upstream session",
                                );
                                let _ = conn.respond(Message::error(r.id().cloned(), &err)).await;
                            }
                        }
                    }
                }
            });
        }
        *slot = Some(conn);
    }

    /// The connection shared by stateless clients (and by every session
    /// under `instances: shared`), (re)established on demand with the
    /// gateway's own handshake.
    pub async fn shared_conn(&self) -> Result<Arc<UpstreamConn>, UpstreamError> {
        let mut shared = self.shared.lock().await;
        if let Some(conn) = shared.as_ref().filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        let (profile, conn) = self.detect().await.map_err(|e| match e {
            HandshakeError::Upstream(u) => u,
            HandshakeError::Refused(r) => {
                UpstreamError::Protocol(format!("handshake refused: {}", r.message))
            }
        })?;
        *self.profile.write() = Some(profile);
        self.install_shared(&mut shared, conn.clone());
        Ok(conn)
    }

    /// Stops the shared connection (at shutdown).
    pub async fn shutdown(&self) {
        if let Some(conn) = self.shared.lock().await.take() {
            conn.close().await;
        }
    }
}
