//! The Redis store: counters shared by every replica of the gateway.
//!
//! Each decision is one round trip: a Lua script (sent as `EVALSHA`, loaded
//! again after `NOSCRIPT`) checks every charge, charges all or none, and
//! works out when a full counter frees up. A second script gives a
//! reservation back. Redis runs a script alone, so decisions are exact
//! however many replicas share the server.
//!
//! The scripts read Redis's clock (`TIME`), not the caller's: replicas'
//! clocks drift apart, and a shared counter needs one clock, the same one
//! that expires its keys. The `now` passed to [`CounterStore::reserve`] is
//! therefore ignored.
//!
//! Key layout, under the configured prefix `P` and a charge's key `K`:
//! - fixed windows: `P K:<window start, ms>`, a string counted with
//!   `INCRBY`, expiring a second after its window ends;
//! - sliding windows: `P K:sliding`, a sorted set of entries (member
//!   `<id>:<amount>`, score the time in ms), and `P K:sliding:meta`, a hash
//!   with the running `sum` of the amounts and the `next` entry id; both
//!   expire a second after their newest entry leaves the window.
//!
//! The last segment (digits, `sliding`, `meta`) tells them apart whatever
//! `K` holds. A policy reload that changes a window keeps the counts made
//! since the new window's start (fixed) or within its length (sliding),
//! where the memory store starts afresh: two replicas briefly holding
//! different policies then agree on one counter instead of resetting each
//! other's. The scripts derive key names from the keys they are given, so
//! they need a standalone server (or a primary), not a cluster.
//!
//! Counts are Lua numbers (doubles): `max`, `amount` and window lengths are
//! capped at 2^53 − 1.

use std::time::{Duration, SystemTime};

use ::redis::aio::ConnectionManager;
use ::redis::io::tcp::TcpSettings;
use ::redis::{Client, IntoConnectionInfo, RedisError, Script, ScriptInvocation};
use futures_util::future::BoxFuture;
use tokio::sync::OnceCell;

use crate::redis_conn::{manager_config, redact, timed, url_password};
use crate::{Charge, CounterStore, Exceeded, LimitError, Reserved, ReservedItem, at_millis};

/// The largest count, amount or window (ms) a script handles exactly.
const MAX_EXACT: u64 = (1 << 53) - 1;
/// Unacknowledged writes fail the connection after this (Linux), so that a
/// server gone silent (no reset) is replaced rather than waited on forever.
#[cfg(target_os = "linux")]
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach and use Redis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisOptions {
    /// Prepended to every key, so several gateways (or other programs) can
    /// share one server. Default `toolgate:limits:`.
    pub key_prefix: String,
    /// The most one decision or release may take, connecting included;
    /// past it the call fails with [`LimitError::Unavailable`]. Default
    /// 50 ms.
    pub timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> RedisOptions {
        RedisOptions {
            key_prefix: "toolgate:limits:".into(),
            timeout: Duration::from_millis(50),
        }
    }
}

/// The Redis URL could not be used (its password is never shown).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid Redis URL: {0}")]
pub struct RedisUrlError(String);

/// Counters in Redis, shared by every process that uses the same server and
/// key prefix.
pub struct RedisStore {
    client: Client,
    /// Made on first use: construction needs neither a server nor a runtime.
    connection: OnceCell<ConnectionManager>,
    options: RedisOptions,
    /// `host:port/db`, for messages.
    target: String,
    /// Never to appear in a message.
    secrets: Vec<String>,
    reserve: Script,
    release: Script,
}

impl RedisStore {
    /// A store on `url` (`redis://[user:password@]host[:port][/db]` or
    /// `unix:///path`; TLS is not built in). Fails only when the URL is
    /// invalid: the server is connected to on first use, so a gateway
    /// starts (and fails closed) while Redis is down, and reconnects by
    /// itself afterwards.
    pub fn new(url: &str, options: RedisOptions) -> Result<RedisStore, RedisUrlError> {
        let mut secrets = url_password(url).into_iter().collect::<Vec<_>>();
        let info = url
            .into_connection_info()
            .map_err(|e| RedisUrlError(redact(e.to_string(), &secrets)))?;
        secrets.extend(info.redis_settings().password().map(str::to_string));
        secrets.retain(|s| !s.is_empty());
        let target = format!("{}/{}", info.addr(), info.redis_settings().db());
        let info = info.set_tcp_settings(tcp_settings());
        let client =
            Client::open(info).map_err(|e| RedisUrlError(redact(e.to_string(), &secrets)))?;
        Ok(RedisStore {
            client,
            connection: OnceCell::new(),
            options,
            target,
            secrets,
            reserve: Script::new(include_str!("redis/reserve.lua")),
            release: Script::new(include_str!("redis/release.lua")),
        })
    }

    /// The options in use.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    /// Runs the reserve script; `at` (ms) replaces Redis's clock in tests.
    fn reserve_at(
        &self,
        charges: &[Charge],
        at: Option<u64>,
    ) -> BoxFuture<'_, Result<Reserved, LimitError>> {
        let mut call = self.reserve.prepare_invoke();
        call.arg(at.map(|ms| ms.to_string()).unwrap_or_default());
        for c in charges {
            call.key(self.key(&c.key))
                .arg(c.max.min(MAX_EXACT))
                .arg(c.amount.min(MAX_EXACT))
                .arg(window_ms(c))
                .arg(u8::from(c.sliding));
        }
        let charged: Vec<Charged> = charges
            .iter()
            .map(|c| Charged {
                key: c.key.clone(),
                amount: c.amount,
                max: c.max,
            })
            .collect();
        Box::pin(async move {
            if charged.is_empty() {
                return Ok(Reserved::default());
            }
            let reply: Vec<i64> = self.run(&call).await?;
            decode_reserve(&reply, charged)
        })
    }

    async fn release_now(&self, reserved: Reserved) {
        if reserved.items.is_empty() {
            return;
        }
        let mut call = self.release.prepare_invoke();
        for item in &reserved.items {
            call.key(self.key(&item.key))
                .arg(item.token)
                .arg(item.amount.min(MAX_EXACT));
        }
        if let Err(e) = self.run::<i64>(&call).await {
            // The counts stay charged until their window ends: the safe side.
            tracing::warn!(store = "redis", error = %e, "could not release a reservation");
        }
    }

    /// Runs a script within the timeout, connecting first if need be.
    async fn run<T: ::redis::FromRedisValue>(
        &self,
        call: &ScriptInvocation<'_>,
    ) -> Result<T, LimitError> {
        let attempt = async {
            let mut connection = self.connection().await?;
            call.invoke_async(&mut connection).await
        };
        timed(self.options.timeout, &self.target, &self.secrets, attempt)
            .await
            .map_err(LimitError::Unavailable)
    }

    /// The shared, self-reconnecting connection, made on first use (inside
    /// the caller's runtime, which the manager's background task needs).
    async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        self.connection
            .get_or_try_init(|| async {
                // `run` times every call out itself, connecting included.
                let config = manager_config(self.options.timeout);
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.options.key_prefix)
    }
}

fn window_ms(c: &Charge) -> u64 {
    u64::try_from(c.window.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_EXACT)
}

/// What a reply is matched against.
struct Charged {
    key: String,
    amount: u64,
    max: u64,
}

/// Turns the reserve script's reply, `{1, token...}` or `{0, index,
/// current, resets_at}`, into a reservation or a refusal.
fn decode_reserve(reply: &[i64], charged: Vec<Charged>) -> Result<Reserved, LimitError> {
    let bad = || LimitError::Unavailable(format!("unexpected reply from Redis: {reply:?}"));
    let unsigned = |v: &i64| u64::try_from(*v).map_err(|_| bad());
    match reply.split_first() {
        Some((1, tokens)) if tokens.len() == charged.len() => {
            let items = charged
                .into_iter()
                .zip(tokens)
                .map(|(c, token)| {
                    Ok(ReservedItem {
                        key: c.key,
                        amount: c.amount,
                        token: unsigned(token)?,
                    })
                })
                .collect::<Result<_, LimitError>>()?;
            Ok(Reserved { items })
        }
        Some((0, [index, current, resets_at])) => {
            let index = usize::try_from(*index).map_err(|_| bad())?;
            let max = charged.get(index).ok_or_else(bad)?.max;
            Err(LimitError::Exceeded(Exceeded {
                index,
                current: unsigned(current)?,
                max,
                resets_at: at_millis(unsigned(resets_at)?),
            }))
        }
        _ => Err(bad()),
    }
}

fn tcp_settings() -> TcpSettings {
    // Decisions are small requests that wait on their answer: no Nagle.
    let settings = TcpSettings::default().set_nodelay(true);
    #[cfg(target_os = "linux")]
    let settings = settings.set_user_timeout(TCP_USER_TIMEOUT);
    settings
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("target", &self.target)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl CounterStore for RedisStore {
    /// Reserves on Redis's clock: `now` is ignored (see the module docs).
    fn reserve(
        &self,
        charges: &[Charge],
        _now: SystemTime,
    ) -> BoxFuture<'_, Result<Reserved, LimitError>> {
        self.reserve_at(charges, None)
    }

    fn release(&self, reserved: Reserved) -> BoxFuture<'_, ()> {
        Box::pin(self.release_now(reserved))
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests;
