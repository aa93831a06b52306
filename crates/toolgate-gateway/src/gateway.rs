//! The gateway's shared state: servers, grants, sessions, pipeline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use toolgate_config::Config;

use toolgate_limits::{CounterStore, MemoryStore, RedisOptions, RedisStore};

use crate::audit::AuditLog;
use crate::auth::{Authenticator, OAuthSetupError, StoreOpenError};
use crate::clock::SystemClock;
use crate::metrics::Metrics;
use crate::pipeline::{Audit, LogAudit, NoApprovals, Pipeline};
use crate::policy::{LoadError, PolicyAuthorizer, PolicyLimiter, PolicyStore, WhenUnavailable};
use crate::runtime::ServerRuntime;
use crate::server::edge::EdgePolicy;
use crate::session::SessionTable;
use crate::upstream::HttpClient;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A policy file is missing or invalid.
    #[error(transparent)]
    Policy(#[from] LoadError),
    /// The audit sink could not be opened.
    #[error("audit log: {0}")]
    Audit(#[from] toolgate_audit::AuditError),
    /// The counter store's URL is invalid.
    #[error("limits.store: {0}")]
    Limits(#[from] toolgate_limits::RedisUrlError),
    /// The grant store could not be opened.
    #[error(transparent)]
    GrantStore(#[from] StoreOpenError),
    /// An OAuth section could not be set up (its key file, say).
    #[error(transparent)]
    OAuth(#[from] OAuthSetupError),
}

/// Everything a request handler needs.
pub struct Gateway {
    /// The configuration it was built from.
    pub config: Arc<Config>,
    /// Upstream servers by name.
    pub servers: BTreeMap<String, Arc<ServerRuntime>>,
    /// Who is calling: grants, the grant store, OAuth.
    pub auth: Authenticator,
    /// Open sessions.
    pub sessions: Arc<SessionTable>,
    /// The request pipeline.
    pub pipeline: Arc<Pipeline>,
    /// The policies, when the pipeline is the standard one.
    pub policies: Option<Arc<PolicyStore>>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The audit log, when a sink is configured.
    pub audit: Option<Arc<AuditLog>>,
    pub(crate) edge: EdgePolicy,
    pub(crate) inflight: Arc<crate::server::inflight::Inflight>,
}

impl Gateway {
    /// The gateway with its standard pipeline: the configured policies
    /// authorize, an in-memory counter store limits, the configured audit
    /// sink records. Fails if a policy file does not compile or the audit
    /// sink cannot be opened.
    pub async fn standard(config: Config) -> Result<Arc<Gateway>, StartError> {
        let metrics = Arc::new(Metrics::new());
        let policies = PolicyStore::load(&config, Some(metrics.clone()))?;
        let limiter = PolicyLimiter::new(counter_store(&config)?, unavailable(&config))
            .with_metrics(metrics.clone());
        let audit_log = AuditLog::open(&config).await?.map(Arc::new);
        let auth = Authenticator::new(&config, crate::auth::open_grant_store(&config).await?)?;
        let audit: Arc<dyn Audit> = match &audit_log {
            Some(log) => log.clone(),
            None => Arc::new(LogAudit),
        };
        let pipeline = Pipeline::new(
            Arc::new(PolicyAuthorizer::new(policies.clone())),
            Arc::new(limiter),
            Arc::new(NoApprovals),
            audit,
            Arc::new(SystemClock),
        )
        .with_metrics(metrics);
        let gw = Gateway::build(config, pipeline, auth, Some(policies), audit_log);
        Ok(gw)
    }

    /// Builds the gateway with a custom pipeline and the configuration's
    /// grants (no grant store); nothing is started or connected yet.
    pub fn new(config: Config, pipeline: Pipeline) -> Result<Arc<Gateway>, StartError> {
        let auth = Authenticator::new(&config, None)?;
        Ok(Gateway::build(config, pipeline, auth, None, None))
    }

    fn build(
        config: Config,
        pipeline: Pipeline,
        auth: Authenticator,
        policies: Option<Arc<PolicyStore>>,
        audit: Option<Arc<AuditLog>>,
    ) -> Arc<Gateway> {
        let metrics = pipeline.metrics.clone().unwrap_or_default();
        let pipeline = Arc::new(pipeline);
        let client = HttpClient::new(Duration::from_secs(10));
        let servers = config
            .servers
            .iter()
            .map(|(name, cfg)| {
                let cwd = cfg.cwd.as_deref().map(|c| config.resolve_path(c));
                (
                    name.clone(),
                    Arc::new(ServerRuntime::new(
                        name,
                        cfg,
                        cwd,
                        client.clone(),
                        metrics.clone(),
                    )),
                )
            })
            .collect();
        let edge = EdgePolicy::new(
            config.listen_addr(),
            &config.http.allowed_hosts,
            &config.http.allowed_origins,
        );
        let sessions = SessionTable::new(&config.sessions, pipeline.clone());
        Arc::new(Gateway {
            auth,
            inflight: crate::server::inflight::Inflight::new(config.http.max_inflight_per_grant),
            config: Arc::new(config),
            servers,
            sessions,
            pipeline,
            policies,
            metrics,
            audit,
            edge,
        })
    }

    /// A server by name.
    pub fn server(&self, name: &str) -> Option<&Arc<ServerRuntime>> {
        self.servers.get(name)
    }

    /// Probes every upstream in the background, retrying with backoff until
    /// each is ready, and starts the session reaper.
    pub fn start_background(self: &Arc<Self>) {
        for server in self.servers.values() {
            server.spawn_probe_loop();
        }
        self.sessions
            .spawn_reaper(self.config.sessions.idle_timeout.0);
        // Fetch OAuth signing keys ahead of the first token; a failure is
        // logged and the first token tries again.
        let gw = self.clone();
        tokio::spawn(async move { gw.auth.warm_up().await });
    }

    /// Updates the metrics read at scrape time (open sessions, audit queue).
    pub fn refresh_metrics(&self) {
        let queue = self.audit.as_ref().map_or(0, |a| a.writer().queue_depth());
        self.metrics.set_gauges(self.sessions.len(), queue);
        if let Some(a) = &self.audit {
            let stats = a.writer().stats();
            self.metrics
                .set_audit_totals(stats.committed, stats.failed_batches);
        }
    }

    /// True when every upstream has been probed successfully.
    pub fn all_ready(&self) -> bool {
        self.servers.values().all(|s| s.health().ready)
    }

    /// Ends every session, stops shared upstream connections, and flushes
    /// the audit log.
    pub async fn shutdown(&self) {
        self.sessions.close_all().await;
        for server in self.servers.values() {
            server.shutdown().await;
        }
        if let Some(a) = &self.audit {
            // A sink that stays down must not hold the process forever; what
            // could not be written is said, never silently dropped.
            let limit = std::time::Duration::from_secs(30);
            if tokio::time::timeout(limit, a.writer().shutdown())
                .await
                .is_err()
            {
                tracing::error!(
                    queued = a.writer().queue_depth(),
                    "audit log could not be flushed within 30 s; queued records are lost"
                );
            }
        }
    }
}

/// The configured counter store. Redis is connected lazily: a gateway
/// starts while Redis is down and fails closed until it is back.
fn counter_store(config: &Config) -> Result<Arc<dyn CounterStore>, StartError> {
    let l = &config.limits;
    if l.store == "memory" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    let options = RedisOptions {
        key_prefix: l.key_prefix.clone(),
        timeout: l.timeout.0,
    };
    Ok(Arc::new(RedisStore::new(&l.store, options)?))
}

fn unavailable(config: &Config) -> WhenUnavailable {
    match config.limits_unavailable {
        toolgate_config::Unavailable::Deny => WhenUnavailable::Deny,
        toolgate_config::Unavailable::Allow => WhenUnavailable::Allow,
    }
}
