//! Waiting on Redis: a wake-up through the store's subscription, then the
//! stored state read again; the state is the truth, messages only say
//! when to look.

use std::time::{Duration, SystemTime};

use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, sleep_until};

use super::RedisApprovals;
use super::listener::Event;
use crate::approval::{ApprovalId, ApprovalState, wait_budget};
use crate::error::StateError;

pub(super) async fn wait(
    store: &RedisApprovals,
    id: &ApprovalId,
    now: SystemTime,
    timeout: Duration,
) -> Result<ApprovalState, StateError> {
    // Listen before the first read: a decision made after the read is then
    // heard, or announced by a resubscription.
    let mut events = Some(store.listener().subscribe());
    let approval = store.get_now(id).await?;
    if !approval.state.is_pending() {
        return Ok(approval.state);
    }
    let expires_at = approval.pending.expires_at;
    let (budget, at_expiry) = wait_budget(now, timeout, expires_at);
    let deadline = Instant::now() + budget;
    let every = store.options.recheck_every;
    loop {
        let recheck = Instant::now() + every;
        tokio::select! {
            biased;
            () = sleep_until(deadline) => break,
            () = wake_up(&mut events, id) => {}
            () = sleep_until(recheck) => {}
        }
        let state = store.get_now(id).await?.state;
        if !state.is_pending() {
            return Ok(state);
        }
    }
    if at_expiry {
        store.expire(id, expires_at).await
    } else {
        Ok(store.get_now(id).await?.state)
    }
}

/// Returns when the state of `id` may have changed. Without a listener
/// (its task ended) it never returns: the periodic re-read remains.
async fn wake_up(events: &mut Option<Receiver<Event>>, id: &ApprovalId) {
    loop {
        let Some(receiver) = events.as_mut() else {
            return std::future::pending().await;
        };
        match receiver.recv().await {
            Ok(Event::Decided(decided)) if &*decided == id.as_str() => return,
            Ok(Event::Decided(_)) => {}
            Ok(Event::Resubscribed) | Err(RecvError::Lagged(_)) => return,
            Err(RecvError::Closed) => *events = None,
        }
    }
}
