//! The phases other crates plug in: authorize, limit, approve, audit.
//! Each is a trait with a default that keeps the data path working before
//! a policy, a counter store or an audit sink is configured.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::context::{CallContext, Principal};
use super::decision::{Decision, Verdict};
use super::outcome::AuditRecord;

/// Decides whether a request may go on.
pub trait Authorize: Send + Sync + 'static {
    /// The decision for one request.
    fn decide(&self, ctx: &CallContext) -> Decision;

    /// True when `tool` must not appear in this principal's `tools/list`.
    fn hides_tool(&self, principal: &Principal, tool: &str) -> bool;
}

/// Allows everything (no policy configured).
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl Authorize for AllowAll {
    fn decide(&self, _ctx: &CallContext) -> Decision {
        Decision::allow()
    }

    fn hides_tool(&self, _principal: &Principal, _tool: &str) -> bool {
        false
    }
}

/// A refusal by the limit or approval phase, shown to the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Why, in words an agent can act on.
    pub reason: String,
    /// The rule (limit) that refused.
    pub rule: Option<String>,
    /// A stable label for audit and metrics: `rate_limited`,
    /// `limits_unavailable`, `approval_required`, `approval_denied` ...
    pub kind: &'static str,
}

/// How a forwarded request ended, for settling its reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    /// The upstream answered with a result: keep the count.
    Commit,
    /// The upstream failed (JSON-RPC error, transport failure): give the
    /// count back.
    Rollback,
}

/// Counts reserved for one request.
pub trait Reservation: Send + 'static {
    /// Keeps or returns the counts.
    fn settle(self: Box<Self>, how: Settle) -> BoxFuture<'static, ()>;

    /// Something the audit record should say about the admission (e.g. the
    /// limits could not be checked and the call went through uncounted).
    fn note(&self) -> Option<String> {
        None
    }
}

/// Reserves counts before a request is forwarded.
pub trait Limit: Send + Sync + 'static {
    /// Reserves what `decision` says to count, or refuses.
    fn reserve<'a>(
        &'a self,
        ctx: &'a CallContext,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Option<Box<dyn Reservation>>, Refusal>>;
}

/// Counts nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLimits;

impl Limit for NoLimits {
    fn reserve<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Option<Box<dyn Reservation>>, Refusal>> {
        Box::pin(async { Ok(None) })
    }
}

/// Holds a request for human approval when the decision asks for it.
pub trait Approve: Send + Sync + 'static {
    /// Waits for a person, or refuses.
    fn approve<'a>(
        &'a self,
        ctx: &'a CallContext,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<(), Refusal>>;
}

/// No approval flow: an approval verdict is answered as a refusal that says
/// so, so nothing that needs a person goes through unseen.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoApprovals;

impl Approve for NoApprovals {
    fn approve<'a>(
        &'a self,
        _ctx: &'a CallContext,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<(), Refusal>> {
        let result = match &decision.verdict {
            Verdict::Approval { reason, timeout } => Err(Refusal {
                reason: approval_unavailable(reason, *timeout),
                rule: decision.rule.clone(),
                kind: "approval_required",
            }),
            _ => Ok(()),
        };
        Box::pin(async move { result })
    }
}

fn approval_unavailable(reason: &str, timeout: Duration) -> String {
    let reason = if reason.is_empty() {
        "this call requires human approval"
    } else {
        reason
    };
    format!(
        "{reason} (approval required; no approval channel is configured on this gateway, so the call was not made; approvals would wait {}s)",
        timeout.as_secs()
    )
}

/// Receives one record per decision.
pub trait Audit: Send + Sync + 'static {
    /// Records a decision. Must not block the data path for long.
    fn record(&self, record: AuditRecord) -> BoxFuture<'_, ()>;
}

/// Writes each record to the log (`toolgate::audit` target) until a durable
/// sink is configured.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogAudit;

impl Audit for LogAudit {
    fn record(&self, r: AuditRecord) -> BoxFuture<'_, ()> {
        tracing::info!(
            target: "toolgate::audit",
            request = r.request_id,
            grant = %r.grant,
            server = %r.server,
            session = r.session.as_deref().unwrap_or("-"),
            method = %r.method,
            target_name = r.target.as_deref().unwrap_or("-"),
            verdict = r.verdict,
            rule = r.rule.as_deref().unwrap_or("-"),
            upstream = r.upstream.label(),
            gateway_us = r.gateway_micros,
            upstream_us = r.upstream_micros,
            "decision"
        );
        Box::pin(async {})
    }
}
