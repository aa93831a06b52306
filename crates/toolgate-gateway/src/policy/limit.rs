//! The limit phase backed by a counter store: the policy decides what to
//! count, the store counts it, atomically, before the call is forwarded.

use std::sync::Arc;
use std::time::SystemTime;

use futures_util::future::BoxFuture;
use toolgate_limits::{Charge, CounterStore, LimitError, Reserved};
use toolgate_policy::LimitCheck;

use super::time::{describe_wait, rfc3339};
use crate::metrics::Metrics;
use crate::pipeline::{CallContext, Decision, Limit, Refusal, Reservation, Settle};

/// What to do when the counter store cannot answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenUnavailable {
    /// Refuse the call (fail closed; the default).
    Deny,
    /// Let it through uncounted.
    Allow,
}

/// Charges a decision's limits to a counter store.
pub struct PolicyLimiter {
    store: Arc<dyn CounterStore>,
    when_unavailable: WhenUnavailable,
    metrics: Option<Arc<Metrics>>,
}

impl PolicyLimiter {
    /// A limiter over `store`.
    pub fn new(store: Arc<dyn CounterStore>, when_unavailable: WhenUnavailable) -> PolicyLimiter {
        PolicyLimiter {
            store,
            when_unavailable,
            metrics: None,
        }
    }

    /// Counts store failures in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> PolicyLimiter {
        self.metrics = Some(metrics);
        self
    }
}

/// The store key of a limit: counters are per server, so two servers'
/// policies never share a count by accident.
pub fn charge_of(server: &str, check: &LimitCheck) -> Charge {
    Charge {
        key: format!("{server}|{}", check.key),
        max: check.max,
        amount: check.amount,
        window: check.window.length,
        sliding: check.window.sliding,
    }
}

impl Limit for PolicyLimiter {
    fn reserve<'a>(
        &'a self,
        ctx: &'a CallContext,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Option<Box<dyn Reservation>>, Refusal>> {
        Box::pin(async move {
            if decision.limits.is_empty() {
                return Ok(None);
            }
            let charges: Vec<Charge> = decision
                .limits
                .iter()
                .map(|c| charge_of(&ctx.server, c))
                .collect();
            match self.store.reserve(&charges, ctx.received).await {
                Ok(reserved) => {
                    let r: Box<dyn Reservation> = Box::new(Held {
                        store: self.store.clone(),
                        reserved,
                    });
                    Ok(Some(r))
                }
                Err(LimitError::Exceeded(e)) => {
                    let check = &decision.limits[e.index.min(decision.limits.len() - 1)];
                    Err(Refusal {
                        reason: exceeded_reason(ctx, check, e.resets_at),
                        rule: Some(check.rule.clone()),
                        kind: "rate_limited",
                    })
                }
                Err(LimitError::Unavailable(why)) => {
                    if let Some(m) = &self.metrics {
                        m.limiter_error();
                    }
                    match self.when_unavailable {
                        WhenUnavailable::Deny => {
                            tracing::warn!(store = self.store.kind(), error = %why, "counter store unavailable; call refused (limits_unavailable: deny)");
                            Err(Refusal {
                            reason: "limits cannot be checked right now (counter store unavailable); the call was not made".into(),
                            rule: Some(decision.limits[0].rule.clone()),
                            kind: "limits_unavailable",
                        })
                        }
                        WhenUnavailable::Allow => {
                            tracing::warn!(store = self.store.kind(), error = %why, "counter store unavailable; call allowed uncounted (limits_unavailable: allow)");
                            let r: Box<dyn Reservation> = Box::new(Unchecked);
                            Ok(Some(r))
                        }
                    }
                }
            }
        })
    }
}

fn exceeded_reason(ctx: &CallContext, check: &LimitCheck, resets_at: SystemTime) -> String {
    let scope = check
        .key
        .split_once('|')
        .map(|(_, s)| s.split('=').next().unwrap_or(s))
        .unwrap_or("global");
    let what = ctx
        .tool()
        .map_or_else(|| ctx.method.clone(), |t| t.to_owned());
    format!(
        "Rate limit reached for {what}: at most {} per {} per {scope} (counter {}). It resets at {} ({}). Retry after that, not before.",
        check.max,
        check.window.label,
        check.counter,
        rfc3339(resets_at),
        describe_wait(ctx.received, resets_at),
    )
}

/// A reservation held until the call's outcome is known.
struct Held {
    store: Arc<dyn CounterStore>,
    reserved: Reserved,
}

/// A call let through without counting (`limits_unavailable: allow`): the
/// audit record says so.
struct Unchecked;

impl Reservation for Unchecked {
    fn settle(self: Box<Self>, _how: Settle) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }

    fn note(&self) -> Option<String> {
        Some("limits not checked: counter store unavailable (limits_unavailable: allow)".into())
    }
}

impl Reservation for Held {
    fn settle(self: Box<Self>, how: Settle) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if how == Settle::Rollback {
                self.store.release(self.reserved).await;
            }
        })
    }
}
