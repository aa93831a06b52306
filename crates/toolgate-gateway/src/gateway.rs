//! The gateway's shared state: servers, grants, sessions, pipeline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use toolgate_config::Config;

use toolgate_limits::{CounterStore, MemoryStore};

use crate::clock::SystemClock;
use crate::pipeline::{LogAudit, NoApprovals, Pipeline};
use crate::policy::{LoadError, PolicyAuthorizer, PolicyLimiter, PolicyStore, WhenUnavailable};
use crate::runtime::ServerRuntime;
use crate::server::auth::GrantTable;
use crate::server::edge::EdgePolicy;
use crate::session::SessionTable;
use crate::upstream::HttpClient;

/// Everything a request handler needs.
pub struct Gateway {
    /// The configuration it was built from.
    pub config: Arc<Config>,
    /// Upstream servers by name.
    pub servers: BTreeMap<String, Arc<ServerRuntime>>,
    /// Credentials.
    pub grants: GrantTable,
    /// Open sessions.
    pub sessions: Arc<SessionTable>,
    /// The request pipeline.
    pub pipeline: Arc<Pipeline>,
    /// The policies, when the pipeline is the standard one.
    pub policies: Option<Arc<PolicyStore>>,
    pub(crate) edge: EdgePolicy,
}

impl Gateway {
    /// The gateway with its standard pipeline: the configured policies
    /// authorize, an in-memory counter store limits, decisions are logged.
    /// Fails if a policy file does not compile.
    pub fn standard(config: Config) -> Result<Arc<Gateway>, LoadError> {
        let policies = PolicyStore::load(&config)?;
        let store: Arc<dyn CounterStore> = Arc::new(MemoryStore::new());
        let pipeline = Pipeline::new(
            Arc::new(PolicyAuthorizer::new(policies.clone())),
            Arc::new(PolicyLimiter::new(store, WhenUnavailable::Deny)),
            Arc::new(NoApprovals),
            Arc::new(LogAudit),
            Arc::new(SystemClock),
        );
        Ok(Gateway::build(config, pipeline, Some(policies)))
    }

    /// Builds the gateway with a custom pipeline; nothing is started or
    /// connected yet.
    pub fn new(config: Config, pipeline: Pipeline) -> Arc<Gateway> {
        Gateway::build(config, pipeline, None)
    }

    fn build(
        config: Config,
        pipeline: Pipeline,
        policies: Option<Arc<PolicyStore>>,
    ) -> Arc<Gateway> {
        let pipeline = Arc::new(pipeline);
        let client = HttpClient::new(Duration::from_secs(10));
        let servers = config
            .servers
            .iter()
            .map(|(name, cfg)| {
                let cwd = cfg.cwd.as_deref().map(|c| config.resolve_path(c));
                (
                    name.clone(),
                    Arc::new(ServerRuntime::new(name, cfg, cwd, client.clone())),
                )
            })
            .collect();
        let edge = EdgePolicy::new(
            config.listen_addr(),
            &config.http.allowed_hosts,
            &config.http.allowed_origins,
        );
        let sessions = SessionTable::new(config.sessions.max_sessions, pipeline.clone());
        Arc::new(Gateway {
            grants: GrantTable::from_config(&config.grants),
            config: Arc::new(config),
            servers,
            sessions,
            pipeline,
            policies,
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
    }

    /// True when every upstream has been probed successfully.
    pub fn all_ready(&self) -> bool {
        self.servers.values().all(|s| s.health().ready)
    }

    /// Ends every session and stops shared upstream connections.
    pub async fn shutdown(&self) {
        self.sessions.close_all().await;
        for server in self.servers.values() {
            server.shutdown().await;
        }
    }
}
