//! The request pipeline: decode → authenticate → authorize → limit →
//! approve → forward → filter response → audit.
//!
//! Decoding and authentication happen at the edge (HTTP or stdio), which
//! builds the [`CallContext`]. [`Pipeline::admit`] runs authorize, limit and
//! approve; the session forwards; [`Ticket`] filters the response and, when
//! it is finished or dropped, settles the reservation and writes the audit
//! record. The audit phase always runs: a ticket dropped unfinished (the
//! client went away, the task was cancelled) is audited as cancelled.

mod context;
mod decision;
mod outcome;
mod phases;
mod respond;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use toolgate_mcp::Message;

pub use context::{CallContext, Principal, Target};
pub use decision::{Decision, Verdict};
pub use outcome::{AuditRecord, UpstreamOutcome};
pub use phases::{
    AllowAll, Approve, Audit, Authorize, Limit, LogAudit, NoApprovals, NoLimits, Refusal,
    Reservation, Settle,
};

use crate::clock::{Clock, SystemClock};
use crate::metrics::Metrics;

/// The pluggable phases.
pub struct Pipeline {
    /// Authorize.
    pub authorize: Arc<dyn Authorize>,
    /// Limit.
    pub limit: Arc<dyn Limit>,
    /// Approve.
    pub approve: Arc<dyn Approve>,
    /// Audit.
    pub audit: Arc<dyn Audit>,
    /// Wall-clock time for records and decisions.
    pub clock: Arc<dyn Clock>,
    /// Metrics, fed from every record.
    pub metrics: Option<Arc<Metrics>>,
    next_id: AtomicU64,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new(
            Arc::new(AllowAll),
            Arc::new(NoLimits),
            Arc::new(NoApprovals),
            Arc::new(LogAudit),
            Arc::new(SystemClock),
        )
    }
}

/// What the pipeline says about a request before it is forwarded.
pub enum Admission {
    /// Forward it; finish the ticket with the upstream's outcome.
    Forward(Box<Ticket>),
    /// The gateway answers it (denied, hidden, refused).
    Answer {
        /// The answer.
        message: Message,
        /// The verdict label (`deny`, `hide`, `rate_limited` …).
        verdict: &'static str,
        /// The rule that decided.
        rule: Option<String>,
    },
}

impl Pipeline {
    /// A pipeline from its phases.
    pub fn new(
        authorize: Arc<dyn Authorize>,
        limit: Arc<dyn Limit>,
        approve: Arc<dyn Approve>,
        audit: Arc<dyn Audit>,
        clock: Arc<dyn Clock>,
    ) -> Pipeline {
        Pipeline {
            authorize,
            limit,
            approve,
            audit,
            clock,
            metrics: None,
            next_id: AtomicU64::new(1),
        }
    }

    /// Feeds every decision to `metrics` too.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Pipeline {
        self.metrics = Some(metrics);
        self
    }

    /// Records a finished request: metrics, then the audit phase.
    async fn record(&self, record: AuditRecord) {
        if let Some(m) = &self.metrics {
            m.observe(&record);
        }
        self.audit.record(record).await;
    }

    /// A fresh request number.
    pub fn next_request_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Runs authorize, limit and approve for one request.
    pub async fn admit(self: &Arc<Self>, ctx: CallContext, msg: &Message) -> Admission {
        let decision = self.authorize.decide(&ctx);
        let mut ticket = Ticket::new(self.clone(), ctx, decision);
        match &ticket.decision.verdict {
            Verdict::Hide => {
                let answer = respond::unknown(msg, &ticket.ctx);
                return ticket.answer(answer).await;
            }
            Verdict::Deny { reason } => {
                let reason = reason.clone();
                let answer = respond::denied(msg, &ticket.ctx, &ticket.decision, &reason);
                ticket.reason = Some(reason);
                return ticket.answer(answer).await;
            }
            Verdict::Allow | Verdict::Approval { .. } => {}
        }
        match self.limit.reserve(&ticket.ctx, &ticket.decision).await {
            Ok(r) => {
                ticket.reason = r.as_ref().and_then(|r| r.note());
                ticket.reservation = r;
            }
            Err(refusal) => return ticket.refuse(msg, refusal).await,
        }
        if let Err(refusal) = self.approve.approve(&ticket.ctx, &ticket.decision).await {
            return ticket.refuse(msg, refusal).await;
        }
        Admission::Forward(Box::new(ticket))
    }
}

/// An admitted request on its way: filters its response, settles its
/// reservation and records it.
pub struct Ticket {
    pipeline: Arc<Pipeline>,
    ctx: CallContext,
    decision: Decision,
    refusal_kind: Option<&'static str>,
    reason: Option<String>,
    reservation: Option<Box<dyn Reservation>>,
    upstream_started: Option<tokio::time::Instant>,
    finished: bool,
}

impl Ticket {
    fn new(pipeline: Arc<Pipeline>, ctx: CallContext, decision: Decision) -> Ticket {
        Ticket {
            pipeline,
            ctx,
            decision,
            refusal_kind: None,
            reason: None,
            reservation: None,
            upstream_started: None,
            finished: false,
        }
    }

    /// The request's context.
    pub fn ctx(&self) -> &CallContext {
        &self.ctx
    }

    /// The decision that admitted it.
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    async fn answer(mut self, answer: Message) -> Admission {
        // Read before `finish`, which moves the rule into the record.
        let verdict = self.refusal_kind.unwrap_or(self.decision.verdict.label());
        let rule = self.decision.rule.clone();
        self.finish(UpstreamOutcome::NotForwarded).await;
        Admission::Answer {
            message: answer,
            verdict,
            rule,
        }
    }

    async fn refuse(mut self, msg: &Message, refusal: Refusal) -> Admission {
        let answer = respond::refused(msg, &self.ctx, &self.decision, &refusal);
        self.refusal_kind = Some(refusal.kind);
        if refusal.rule.is_some() {
            self.decision.rule = refusal.rule;
        }
        self.reason = Some(refusal.reason);
        self.answer(answer).await
    }

    /// Marks the moment the request leaves for the upstream.
    pub fn forwarding(&mut self) {
        self.upstream_started = Some(tokio::time::Instant::now());
    }

    /// The filter-response phase: hides tools from `tools/list` results.
    pub fn filter_response(&self, response: &mut Message) {
        if self.ctx.method == "tools/list" {
            respond::filter_tools_list(
                response,
                &*self.pipeline.authorize,
                &self.ctx.principal,
                self.pipeline
                    .metrics
                    .as_deref()
                    .map(|m| (m, &*self.ctx.server)),
            );
        }
    }

    /// Settles the reservation and writes the audit record.
    pub async fn finish(&mut self, outcome: UpstreamOutcome) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Some(r) = self.reservation.take() {
            let how = if outcome.counts() {
                Settle::Commit
            } else {
                Settle::Rollback
            };
            r.settle(how).await;
        }
        let record = self.record(outcome);
        self.pipeline.record(record).await;
    }

    /// The audit record, built once (by `finish` or `drop`): it takes the
    /// ticket's strings instead of copying them, so the ticket is spent.
    fn record(&mut self, upstream: UpstreamOutcome) -> AuditRecord {
        let total = self.ctx.started.elapsed();
        let upstream_time = self
            .upstream_started
            .map(|t| t.elapsed())
            .unwrap_or_default();
        let target = match std::mem::replace(&mut self.ctx.target, Target::None) {
            Target::Tool(n) | Target::Prompt(n) | Target::Resource(n) => Some(n),
            Target::None => None,
        };
        AuditRecord {
            time: self.ctx.received,
            request_id: self.ctx.id,
            grant: self.ctx.principal.grant.clone(),
            server: self.ctx.server.clone(),
            session: self.ctx.session.clone(),
            method: std::mem::take(&mut self.ctx.method),
            target,
            verdict: self.refusal_kind.unwrap_or(self.decision.verdict.label()),
            rule: self.decision.rule.take(),
            policy_version: self.decision.policy_version.take(),
            reason: self.reason.take(),
            upstream,
            gateway_micros: total.saturating_sub(upstream_time).as_micros() as u64,
            upstream_micros: upstream_time.as_micros() as u64,
            arguments: self.ctx.arguments.take(),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let reservation = self.reservation.take();
        let record = self.record(UpstreamOutcome::Cancelled);
        // A request that reached the upstream may have run: keep its count.
        let how = if self.upstream_started.is_some() {
            Settle::Commit
        } else {
            Settle::Rollback
        };
        let pipeline = self.pipeline.clone();
        // Dropped mid-flight (the task was cancelled): settle and audit
        // anyway, off this task.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Some(r) = reservation {
                    r.settle(how).await;
                }
                pipeline.record(record).await;
            });
        }
    }
}
