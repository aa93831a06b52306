//! Approvals in this process: one replica, lost on restart.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::watch;

use super::{
    Approval, ApprovalId, ApprovalState, ApprovalStore, Decision, PendingApproval, refusal,
    wait_budget,
};
use crate::error::StateError;

/// How long an approval is kept past its expiry by default, so that a late
/// `get` or `decide` still finds it (and is told it expired).
const DEFAULT_RETENTION: Duration = Duration::from_secs(3600);

/// Approvals in memory. Waiters are woken through a `watch` channel per
/// approval; the lock is never held across an `.await`.
#[derive(Debug)]
pub struct MemoryApprovals {
    entries: Mutex<HashMap<ApprovalId, Entry>>,
    retention: Duration,
}

#[derive(Debug)]
struct Entry {
    pending: PendingApproval,
    /// The state; waiters hold receivers.
    state: watch::Sender<ApprovalState>,
}

impl Entry {
    fn approval(&self, id: &ApprovalId) -> Approval {
        Approval {
            id: id.clone(),
            pending: self.pending.clone(),
            state: self.state.borrow().clone(),
        }
    }
}

impl Default for MemoryApprovals {
    fn default() -> MemoryApprovals {
        MemoryApprovals::new(DEFAULT_RETENTION)
    }
}

impl MemoryApprovals {
    /// An empty store that forgets approvals `retention` after their
    /// expiry (checked against the `created_at` of later approvals: the
    /// store reads no clock).
    pub fn new(retention: Duration) -> MemoryApprovals {
        MemoryApprovals {
            entries: Mutex::new(HashMap::new()),
            retention,
        }
    }

    fn create_now(&self, pending: PendingApproval) -> ApprovalId {
        let mut entries = self.entries.lock();
        let horizon = pending.created_at;
        let retention = self.retention;
        // Dropping an entry drops its sender: its waiters see it vanish.
        entries.retain(|_, e| {
            e.pending
                .expires_at
                .checked_add(retention)
                .is_none_or(|forget_at| forget_at > horizon)
        });
        let mut id = ApprovalId::random();
        while entries.contains_key(&id) {
            id = ApprovalId::random();
        }
        let (state, _) = watch::channel(ApprovalState::Pending);
        entries.insert(id.clone(), Entry { pending, state });
        id
    }

    fn get_now(&self, id: &ApprovalId) -> Result<Approval, StateError> {
        let entries = self.entries.lock();
        entries
            .get(id)
            .map(|e| e.approval(id))
            .ok_or(StateError::NotFound)
    }

    fn list_now(&self, server: Option<&str>, now: SystemTime) -> Vec<Approval> {
        let entries = self.entries.lock();
        let mut found: Vec<Approval> = entries
            .iter()
            .filter(|(_, e)| server.is_none_or(|s| e.pending.server == s))
            .map(|(id, e)| e.approval(id))
            .filter(|a| a.state_at(now).is_pending())
            .collect();
        found.sort_by(|a, b| (a.pending.created_at, &a.id).cmp(&(b.pending.created_at, &b.id)));
        found
    }

    fn decide_now(&self, id: &ApprovalId, decision: Decision) -> Result<Approval, StateError> {
        let entries = self.entries.lock();
        let entry = entries.get(id).ok_or(StateError::NotFound)?;
        let approval = entry.approval(id);
        if let Some((error, mark_expired)) = refusal(&approval, decision.at) {
            if mark_expired {
                entry.state.send_replace(ApprovalState::Expired);
            }
            return Err(error);
        }
        entry.state.send_replace(ApprovalState::Decided(decision));
        Ok(entry.approval(id))
    }

    /// Marks a still-pending approval expired; returns its final state.
    fn expire(&self, id: &ApprovalId) -> Result<ApprovalState, StateError> {
        let entries = self.entries.lock();
        let entry = entries.get(id).ok_or(StateError::NotFound)?;
        entry.state.send_if_modified(|state| {
            let pending = state.is_pending();
            if pending {
                *state = ApprovalState::Expired;
            }
            pending
        });
        Ok(entry.state.borrow().clone())
    }

    async fn wait_now(
        &self,
        id: &ApprovalId,
        now: SystemTime,
        timeout: Duration,
    ) -> Result<ApprovalState, StateError> {
        let (mut changes, expires_at) = {
            let entries = self.entries.lock();
            let entry = entries.get(id).ok_or(StateError::NotFound)?;
            (entry.state.subscribe(), entry.pending.expires_at)
        };
        let (budget, at_expiry) = wait_budget(now, timeout, expires_at);
        let decided = async {
            changes
                .wait_for(|s| !s.is_pending())
                .await
                .map(|s| s.clone())
        };
        match tokio::time::timeout(budget, decided).await {
            Ok(Ok(state)) => Ok(state),
            // The entry was forgotten while we waited.
            Ok(Err(_)) => Err(StateError::NotFound),
            Err(_) if at_expiry => self.expire(id),
            Err(_) => self.get_now(id).map(|a| a.state),
        }
    }
}

impl ApprovalStore for MemoryApprovals {
    fn create(&self, pending: PendingApproval) -> BoxFuture<'_, Result<ApprovalId, StateError>> {
        Box::pin(async move { Ok(self.create_now(pending)) })
    }

    fn get<'a>(&'a self, id: &'a ApprovalId) -> BoxFuture<'a, Result<Approval, StateError>> {
        Box::pin(async move { self.get_now(id) })
    }

    fn list_pending<'a>(
        &'a self,
        server: Option<&'a str>,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<Approval>, StateError>> {
        Box::pin(async move { Ok(self.list_now(server, now)) })
    }

    fn decide<'a>(
        &'a self,
        id: &'a ApprovalId,
        decision: Decision,
    ) -> BoxFuture<'a, Result<Approval, StateError>> {
        Box::pin(async move { self.decide_now(id, decision) })
    }

    fn wait<'a>(
        &'a self,
        id: &'a ApprovalId,
        now: SystemTime,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ApprovalState, StateError>> {
        Box::pin(self.wait_now(id, now, timeout))
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}
