//! The cached JWK Set of a remote authorization server.
//!
//! Fetched lazily (the first token, or [`RemoteKeys::refresh`] at startup),
//! kept for its TTL, and refetched early when a token names a `kid` the set
//! lacks (the server rotated its keys). Past its TTL the set still serves
//! tokens whose key it holds while one refetch runs in the background, so
//! no request waits on the authorization server just because the cache
//! aged (the price: a key the server withdrew verifies until that refetch
//! lands, at most the fetch timeout after the TTL). Three rules keep the
//! server safe from us and us from a flaky server:
//!
//! - single flight: concurrent validations that need a fetch wait for one
//!   fetch instead of each starting their own;
//! - at most one fetch per `min_interval`, whatever asks for it, so tokens
//!   with made-up `kid`s or an unreachable server cannot make us hammer it;
//! - a failed fetch keeps the keys we have: stale keys still verify until
//!   the server answers again, and only with nothing cached is a token
//!   refused as [`TokenError::KeysUnavailable`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::error::TokenError;
use crate::fetch::JwksFetcher;
use crate::keys::KeySet;
use crate::settings::Algorithm;

/// The longest a fetched key set is trusted, whatever `max-age` says.
const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// A remote key set and its cache.
pub(crate) struct RemoteKeys {
    fetcher: JwksFetcher,
    default_ttl: Duration,
    min_interval: Duration,
    clock: Arc<dyn Clock>,
    state: RwLock<CacheState>,
    /// Held for the duration of a fetch (single flight).
    fetching: tokio::sync::Mutex<()>,
    /// A background refetch of a stale set is under way (a watch, so
    /// [`Self::revalidated`] can wait for it to end).
    revalidating: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct CacheState {
    /// The last key set fetched, if any fetch succeeded.
    keys: Option<Arc<KeySet>>,
    /// Until when `keys` is fresh.
    fresh_until: Option<SystemTime>,
    /// When the last fetch (successful or not) started.
    last_attempt: Option<SystemTime>,
    /// How many fetches were attempted; a waiter that sees it change knows
    /// someone fetched while it waited.
    attempts: u64,
    /// Why the last fetch failed, if it did.
    last_error: Option<String>,
}

/// Whether a fetch may ignore the rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Urgency {
    /// Only if `min_interval` has passed since the last attempt.
    RateLimited,
    /// Now (an operator's explicit refresh).
    Forced,
}

impl RemoteKeys {
    /// A cache for `fetcher`'s key set; nothing is fetched yet.
    pub(crate) fn new(
        fetcher: JwksFetcher,
        default_ttl: Duration,
        min_interval: Duration,
        clock: Arc<dyn Clock>,
    ) -> RemoteKeys {
        RemoteKeys {
            fetcher,
            default_ttl,
            min_interval,
            clock,
            state: RwLock::new(CacheState::default()),
            fetching: tokio::sync::Mutex::new(()),
            revalidating: watch::Sender::new(false),
        }
    }

    /// The keys to use for a token with `kid` and `alg`: the cached set
    /// (fetched first if there is none; refetched in the background if it is
    /// stale), refetched once and waited for (rate limits permitting) if it
    /// knows no key for the token.
    pub(crate) async fn keys_for(
        self: &Arc<Self>,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<KeySet>, TokenError> {
        let (keys, attempts) = self.snapshot();
        let keys = match keys {
            Some(keys) => {
                if self.is_stale() {
                    self.revalidate(attempts);
                }
                keys
            }
            None => {
                self.fetch(attempts, Urgency::RateLimited).await;
                self.cached()?
            }
        };
        if keys.candidates(kid, alg).is_some() {
            return Ok(keys);
        }
        // An unknown kid: perhaps the server rotated its keys.
        let (_, attempts) = self.snapshot();
        self.fetch(attempts, Urgency::RateLimited).await;
        self.cached()
    }

    /// Starts one background refetch of a stale set, unless one is running
    /// or the rate limit forbids it (checked here too, so a failing server
    /// does not cost a task per request).
    fn revalidate(self: &Arc<Self>, seen_attempts: u64) {
        if !self.may_fetch(self.state.read().last_attempt, self.clock.now()) {
            return;
        }
        if self.revalidating.send_replace(true) {
            return;
        }
        // Cleared however the task ends: done, panicked, or dropped unrun
        // at shutdown. A flag left set would stop background refetches for
        // good, and a key the server withdrew would verify indefinitely.
        let guard = Revalidating(self.clone());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // no runtime to fetch on; the next request tries again
        };
        runtime.spawn(async move {
            guard.0.fetch(seen_attempts, Urgency::RateLimited).await;
            drop(guard);
        });
    }

    /// Returns once no background refetch is running.
    pub(crate) async fn revalidated(&self) {
        let mut running = self.revalidating.subscribe();
        // The sender lives in `self`, so the channel cannot close here.
        let _ = running.wait_for(|running| !running).await;
    }

    /// Fetches the key set now (single flight, but not rate limited).
    pub(crate) async fn refresh(&self) -> Result<(), TokenError> {
        let (_, attempts) = self.snapshot();
        self.fetch(attempts, Urgency::Forced).await;
        // Ours or, if one was in flight, that one's outcome.
        match &self.state.read().last_error {
            None => Ok(()),
            Some(e) => Err(TokenError::KeysUnavailable(e.clone())),
        }
    }

    fn snapshot(&self) -> (Option<Arc<KeySet>>, u64) {
        let state = self.state.read();
        (state.keys.clone(), state.attempts)
    }

    fn cached(&self) -> Result<Arc<KeySet>, TokenError> {
        let state = self.state.read();
        match (&state.keys, &state.last_error) {
            (Some(keys), _) => Ok(keys.clone()),
            (None, Some(e)) => Err(TokenError::KeysUnavailable(e.clone())),
            (None, None) => Err(TokenError::KeysUnavailable(
                "signing keys not fetched yet".into(),
            )),
        }
    }

    fn is_stale(&self) -> bool {
        let fresh_until = self.state.read().fresh_until;
        fresh_until.is_none_or(|until| self.clock.now() >= until)
    }

    /// Fetches unless another caller fetched since `seen_attempts` (we
    /// waited for theirs) or the rate limit forbids it.
    async fn fetch(&self, seen_attempts: u64, urgency: Urgency) {
        let _flight = self.fetching.lock().await;
        let now = self.clock.now();
        {
            let state = self.state.read();
            if state.attempts != seen_attempts {
                return;
            }
            if urgency == Urgency::RateLimited && !self.may_fetch(state.last_attempt, now) {
                return;
            }
        }
        let result = self.fetcher.fetch().await;
        let mut state = self.state.write();
        state.attempts += 1;
        state.last_attempt = Some(now);
        match result {
            Ok(fetched) => {
                let ttl = fetched.max_age.map_or(self.default_ttl, |age| {
                    age.max(self.min_interval).min(MAX_TTL)
                });
                tracing::debug!(keys = fetched.keys.len(), ?ttl, "fetched JWKS");
                state.keys = Some(Arc::new(fetched.keys));
                state.fresh_until = now.checked_add(ttl);
                state.last_error = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, stale_keys = state.keys.is_some(), "JWKS fetch failed");
                state.last_error = Some(e);
            }
        }
    }

    fn may_fetch(&self, last_attempt: Option<SystemTime>, now: SystemTime) -> bool {
        match last_attempt {
            None => true,
            // A clock that went backwards must not stop fetches for as long
            // as it jumped.
            Some(last) => now
                .duration_since(last)
                .map_or(true, |since| since >= self.min_interval),
        }
    }
}

/// Clears [`RemoteKeys::revalidating`] when dropped.
struct Revalidating(Arc<RemoteKeys>);

impl Drop for Revalidating {
    fn drop(&mut self) {
        self.0.revalidating.send_replace(false);
    }
}
