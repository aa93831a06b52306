//! Approvals in Redis, shared by every replica that uses the same server
//! and key prefix.
//!
//! Key layout under the prefix `P`:
//! - `P a:<id>`: a hash per approval (`pending` JSON, `state`, `expires`
//!   in ms, `decision` JSON once decided), expiring `retention` after the
//!   approval does;
//! - `P pending`: a sorted set of the pending ids scored by expiry, for
//!   listing;
//! - channel `P decided`: every transition publishes the approval's id.
//!
//! Every transition is one Lua script (checks the state and the expiry,
//! writes, unindexes and publishes), so two replicas deciding at once
//! cannot both win. The scripts derive key names from the prefix, so they
//! need a standalone server (or a primary), not a cluster. Every call
//! (connecting included) answers within the timeout or fails with
//! [`StateError::Unavailable`]; the connection is made on first use and
//! re-made by itself after an outage.

mod listener;
mod wait;
mod wire;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use ::redis::aio::ConnectionManager;
use ::redis::{Client, FromRedisValue, IntoConnectionInfo, RedisError, Script, ScriptInvocation};
use futures_util::future::BoxFuture;
use tokio::sync::OnceCell;

use self::listener::{Listener, Target};
use super::{Approval, ApprovalId, ApprovalState, ApprovalStore, Decision, PendingApproval};
use crate::error::StateError;
use crate::time::to_ms;
use toolgate_limits::redis_conn::{self, manager_config, redact, url_password};

/// How to use Redis for approvals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisApprovalOptions {
    /// Prepended to every key and to the channel. Default
    /// `toolgate:approvals:`.
    pub key_prefix: String,
    /// The most one call may take, connecting included; past it the call
    /// fails with [`StateError::Unavailable`]. Default 250 ms.
    pub timeout: Duration,
    /// How long an approval is kept after its expiry. Default one hour.
    pub retention: Duration,
    /// How often a waiter re-reads the state even without a message: the
    /// bound on a wake-up lost with a connection. Default 2 s.
    pub recheck_every: Duration,
}

impl Default for RedisApprovalOptions {
    fn default() -> RedisApprovalOptions {
        RedisApprovalOptions {
            key_prefix: "toolgate:approvals:".into(),
            timeout: Duration::from_millis(250),
            retention: Duration::from_secs(3600),
            recheck_every: Duration::from_secs(2),
        }
    }
}

/// Approvals in Redis.
pub struct RedisApprovals {
    client: Client,
    /// Made on first use: construction needs neither a server nor a runtime.
    connection: OnceCell<ConnectionManager>,
    /// Started by the first wait.
    listener: OnceLock<Listener>,
    options: RedisApprovalOptions,
    /// `host:port/db`, for messages.
    target: String,
    /// Never to appear in a message.
    secrets: Vec<String>,
    create: Script,
    transition: Script,
    list: Script,
}

impl RedisApprovals {
    /// A store on `url` (`redis://[user:password@]host[:port][/db]` or
    /// `unix:///path`). Fails only when the URL is invalid
    /// ([`StateError::Unavailable`], without the password): the server is
    /// connected to on first use.
    pub fn new(url: &str, options: RedisApprovalOptions) -> Result<RedisApprovals, StateError> {
        let mut secrets = url_password(url).into_iter().collect::<Vec<_>>();
        let invalid = |e: RedisError, s: &[String]| {
            StateError::Unavailable(redact(format!("invalid Redis URL: {e}"), s))
        };
        let info = url
            .into_connection_info()
            .map_err(|e| invalid(e, &secrets))?;
        secrets.extend(info.redis_settings().password().map(str::to_string));
        secrets.retain(|s| !s.is_empty());
        let target = format!("{}/{}", info.addr(), info.redis_settings().db());
        let client = Client::open(info).map_err(|e| invalid(e, &secrets))?;
        Ok(RedisApprovals {
            client,
            connection: OnceCell::new(),
            listener: OnceLock::new(),
            options,
            target,
            secrets,
            create: Script::new(include_str!("create.lua")),
            transition: Script::new(include_str!("transition.lua")),
            list: Script::new(include_str!("list.lua")),
        })
    }

    /// The options in use.
    pub fn options(&self) -> &RedisApprovalOptions {
        &self.options
    }

    async fn create_now(&self, pending: PendingApproval) -> Result<ApprovalId, StateError> {
        let json = wire::encode_pending(&pending)?;
        let lifetime = pending
            .expires_at
            .duration_since(pending.created_at)
            .unwrap_or(Duration::ZERO);
        let ttl = u64::try_from(lifetime.saturating_add(self.options.retention).as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        // 128 random bits: a second try is as unlikely as it gets.
        for _ in 0..3 {
            let id = ApprovalId::random();
            let mut call = self.create.prepare_invoke();
            call.key(self.record_key(&id))
                .key(self.index_key())
                .arg(id.as_str())
                .arg(&json)
                .arg(to_ms(pending.expires_at))
                .arg(ttl)
                .arg(to_ms(pending.created_at));
            if self.script::<i64>(&call).await? == 1 {
                return Ok(id);
            }
        }
        Err(StateError::Unavailable("no free approval id".into()))
    }

    async fn get_now(&self, id: &ApprovalId) -> Result<Approval, StateError> {
        let mut cmd = ::redis::cmd("HMGET");
        cmd.arg(self.record_key(id))
            .arg("pending")
            .arg("state")
            .arg("decision");
        let fields: Vec<Option<String>> = self
            .timed(async {
                let mut c = self.connection().await?;
                cmd.query_async(&mut c).await
            })
            .await?;
        match fields.as_slice() {
            [Some(pending), Some(state), decision] => {
                wire::decode(id, pending, state, decision.as_deref())
            }
            [None, None, None] => Err(StateError::NotFound),
            _ => Err(StateError::Corrupt(format!(
                "approval {id}: fields missing"
            ))),
        }
    }

    async fn list_now(
        &self,
        server: Option<&str>,
        now: SystemTime,
    ) -> Result<Vec<Approval>, StateError> {
        let mut call = self.list.prepare_invoke();
        call.key(self.index_key())
            .arg(to_ms(now))
            .arg(format!("{}a:", self.options.key_prefix));
        let flat: Vec<String> = self.script(&call).await?;
        let mut found = Vec::with_capacity(flat.len() / 2);
        for pair in flat.chunks(2) {
            let [id, pending] = pair else {
                return Err(StateError::Corrupt("odd reply listing approvals".into()));
            };
            let id = ApprovalId::parse(id)
                .ok_or_else(|| StateError::Corrupt("malformed approval id in the index".into()))?;
            let approval = wire::decode(&id, pending, "pending", None)?;
            if server.is_none_or(|s| approval.pending.server == s) {
                found.push(approval);
            }
        }
        found.sort_by(|a, b| (a.pending.created_at, &a.id).cmp(&(b.pending.created_at, &b.id)));
        Ok(found)
    }

    async fn decide_now(&self, id: &ApprovalId, d: Decision) -> Result<Approval, StateError> {
        let json = wire::encode_decision(&d)?;
        let (code, approval) = self
            .run_transition(id, to_ms(d.at), wire::decided_state(&d), &json)
            .await?;
        match code {
            Transition::Done => Ok(approval),
            Transition::AlreadyFinal => Err(StateError::AlreadyDecided),
            Transition::Expired => Err(StateError::Expired),
        }
    }

    /// Marks a still-pending approval expired; returns its final state.
    async fn expire(&self, id: &ApprovalId, at: SystemTime) -> Result<ApprovalState, StateError> {
        let (_, approval) = self.run_transition(id, to_ms(at), "expired", "").await?;
        Ok(approval.state)
    }

    async fn run_transition(
        &self,
        id: &ApprovalId,
        at_ms: u64,
        final_state: &str,
        decision: &str,
    ) -> Result<(Transition, Approval), StateError> {
        let mut call = self.transition.prepare_invoke();
        call.key(self.record_key(id))
            .key(self.index_key())
            .arg(id.as_str())
            .arg(self.channel())
            .arg(at_ms)
            .arg(final_state)
            .arg(decision);
        let reply: Vec<String> = self.script(&call).await?;
        let (code, rest) = match reply.split_first() {
            Some((code, [pending, state, decision])) => (code.as_str(), (pending, state, decision)),
            Some((code, [])) if code == "0" => return Err(StateError::NotFound),
            _ => return Err(StateError::Corrupt("unexpected transition reply".into())),
        };
        let code = match code {
            "1" => Transition::AlreadyFinal,
            "2" => Transition::Expired,
            "3" => Transition::Done,
            _ => return Err(StateError::Corrupt("unexpected transition code".into())),
        };
        let (pending, state, decision) = rest;
        Ok((code, wire::decode(id, pending, state, Some(decision))?))
    }

    /// The subscription, started on first use (inside the caller's runtime).
    fn listener(&self) -> &Listener {
        self.listener.get_or_init(|| {
            Listener::start(Target {
                client: self.client.clone(),
                channel: self.channel(),
                name: self.target.clone(),
                secrets: self.secrets.clone(),
            })
        })
    }

    async fn script<T: FromRedisValue>(
        &self,
        call: &ScriptInvocation<'_>,
    ) -> Result<T, StateError> {
        self.timed(async {
            let mut c = self.connection().await?;
            call.invoke_async(&mut c).await
        })
        .await
    }

    /// Runs `attempt` within the timeout, as a [`StateError`].
    async fn timed<T>(
        &self,
        attempt: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StateError> {
        redis_conn::timed(self.options.timeout, &self.target, &self.secrets, attempt)
            .await
            .map_err(StateError::Unavailable)
    }

    /// The shared, self-reconnecting connection, made on first use.
    async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        self.connection
            .get_or_try_init(|| async {
                // `timed` times every call out itself, connecting included.
                let config = manager_config(self.options.timeout);
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
    }

    fn record_key(&self, id: &ApprovalId) -> String {
        format!("{}a:{id}", self.options.key_prefix)
    }

    fn index_key(&self) -> String {
        format!("{}pending", self.options.key_prefix)
    }

    fn channel(&self) -> String {
        format!("{}decided", self.options.key_prefix)
    }
}

/// How a transition script ended (not found is an error).
enum Transition {
    Done,
    AlreadyFinal,
    Expired,
}

impl std::fmt::Debug for RedisApprovals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisApprovals")
            .field("target", &self.target)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ApprovalStore for RedisApprovals {
    fn create(&self, pending: PendingApproval) -> BoxFuture<'_, Result<ApprovalId, StateError>> {
        Box::pin(self.create_now(pending))
    }

    fn get<'a>(&'a self, id: &'a ApprovalId) -> BoxFuture<'a, Result<Approval, StateError>> {
        Box::pin(self.get_now(id))
    }

    fn list_pending<'a>(
        &'a self,
        server: Option<&'a str>,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<Approval>, StateError>> {
        Box::pin(self.list_now(server, now))
    }

    fn decide<'a>(
        &'a self,
        id: &'a ApprovalId,
        decision: Decision,
    ) -> BoxFuture<'a, Result<Approval, StateError>> {
        Box::pin(self.decide_now(id, decision))
    }

    fn wait<'a>(
        &'a self,
        id: &'a ApprovalId,
        now: SystemTime,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ApprovalState, StateError>> {
        Box::pin(wait::wait(self, id, now, timeout))
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
