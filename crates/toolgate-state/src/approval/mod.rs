//! Approvals: calls held until a person approves or denies them.
//!
//! An approval moves from pending to exactly one final state: approved or
//! denied by a [`Decision`], or expired. Whichever transition comes first
//! wins, on any replica; later ones are refused with
//! [`StateError::AlreadyDecided`] or [`StateError::Expired`]. A decision
//! whose `at` is at or past the approval's `expires_at` expires it instead.
//! A waiter that reaches the expiry marks the approval expired the same
//! way, so the caller's outcome and the stored one always agree.

mod memory;
mod redis;

use std::fmt;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;

pub use memory::MemoryApprovals;
pub use redis::{RedisApprovalOptions, RedisApprovals};

use crate::error::StateError;

/// Identifies an approval: 32 lowercase hex digits (128 random bits), made
/// by the store. Only well-formed ids exist, so one taken from a URL can
/// address nothing but an approval.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApprovalId(String);

impl ApprovalId {
    /// A fresh random id.
    pub(crate) fn random() -> ApprovalId {
        ApprovalId(hex::encode(rand::random::<[u8; 16]>()))
    }

    /// Reads an id as shown by [`Display`](fmt::Display); `None` when it
    /// is not 32 lowercase hex digits.
    pub fn parse(s: &str) -> Option<ApprovalId> {
        let ok = s.len() == 32 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| ApprovalId(s.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApprovalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A call waiting for a person. Shared stores keep its times to the
/// millisecond.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingApproval {
    /// The configured server the call is for.
    pub server: String,
    /// The grant that made the call.
    pub grant: String,
    /// The tool called.
    pub tool: String,
    /// The arguments' top-level keys.
    pub argument_keys: Vec<String>,
    /// The SHA-256 (hex) of the arguments' canonical JSON: what the person
    /// approves, without the values.
    pub arguments_sha256: String,
    /// The arguments as JSON text, only when the caller chose to keep them
    /// (already redacted); `None` otherwise.
    pub arguments: Option<String>,
    /// Why approval is required, as shown to the person.
    pub reason: String,
    /// The policy rule that asked for approval (a JSON pointer), if any.
    pub rule: Option<String>,
    /// When it was asked for.
    pub created_at: SystemTime,
    /// When it expires if nobody decides.
    pub expires_at: SystemTime,
}

/// A person's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Approved (`true`) or denied.
    pub approved: bool,
    /// Who decided.
    pub by: String,
    /// Their note, if any.
    pub note: Option<String>,
    /// When they decided.
    pub at: SystemTime,
}

/// Where an approval stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalState {
    /// Nobody has decided, and it has not been marked expired (it may be
    /// past its `expires_at`: see [`Approval::state_at`]).
    Pending,
    /// Approved or denied.
    Decided(Decision),
    /// It expired undecided.
    Expired,
}

impl ApprovalState {
    /// Whether nothing has happened yet.
    pub fn is_pending(&self) -> bool {
        matches!(self, ApprovalState::Pending)
    }
}

/// A stored approval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// Its id.
    pub id: ApprovalId,
    /// What was asked.
    pub pending: PendingApproval,
    /// Where it stands, as stored.
    pub state: ApprovalState,
}

impl Approval {
    /// The state at `now`: a pending approval past its expiry counts as
    /// expired even before anyone marked it so.
    pub fn state_at(&self, now: SystemTime) -> ApprovalState {
        match &self.state {
            ApprovalState::Pending if now >= self.pending.expires_at => ApprovalState::Expired,
            other => other.clone(),
        }
    }
}

/// Approvals shared by whoever uses the same store.
pub trait ApprovalStore: Send + Sync + 'static {
    /// Stores a pending approval under a fresh id.
    fn create(&self, pending: PendingApproval) -> BoxFuture<'_, Result<ApprovalId, StateError>>;

    /// The approval, or [`StateError::NotFound`] (never created, or
    /// forgotten some time after its expiry).
    fn get<'a>(&'a self, id: &'a ApprovalId) -> BoxFuture<'a, Result<Approval, StateError>>;

    /// The approvals still pending at `now` (not decided, not expired),
    /// for one server or all, oldest first.
    fn list_pending<'a>(
        &'a self,
        server: Option<&'a str>,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<Approval>, StateError>>;

    /// Decides a pending approval, exactly once: returns it decided, or
    /// [`StateError::AlreadyDecided`], or [`StateError::Expired`] (it was
    /// marked expired, or `decision.at` is at or past its expiry, which
    /// marks it so).
    fn decide<'a>(
        &'a self,
        id: &'a ApprovalId,
        decision: Decision,
    ) -> BoxFuture<'a, Result<Approval, StateError>>;

    /// Waits until the approval is decided, on any replica, and returns the
    /// final state; or, when `timeout` passes first, its state then
    /// ([`ApprovalState::Pending`]). `now` is the wall-clock time of the
    /// call: the wait never outlasts the expiry, and reaching it marks the
    /// approval [`ApprovalState::Expired`] (unless a decision won the race).
    /// A store error while waiting ends the wait with it (fail closed).
    fn wait<'a>(
        &'a self,
        id: &'a ApprovalId,
        now: SystemTime,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ApprovalState, StateError>>;

    /// A short name for logs: `memory`, `redis`.
    fn kind(&self) -> &'static str;
}

/// How long a wait may last, and whether its end is the expiry (so the
/// waiter marks the approval expired) rather than the caller's timeout.
pub(crate) fn wait_budget(
    now: SystemTime,
    timeout: Duration,
    expires_at: SystemTime,
) -> (Duration, bool) {
    let left = expires_at.duration_since(now).unwrap_or(Duration::ZERO);
    if left <= timeout {
        (left, true)
    } else {
        (timeout, false)
    }
}

/// The first refusal a decision on `approval` meets, if any: a final
/// state, or a decision at or past the expiry (`true`: mark it expired).
pub(crate) fn refusal(approval: &Approval, at: SystemTime) -> Option<(StateError, bool)> {
    match approval.state {
        ApprovalState::Decided(_) => Some((StateError::AlreadyDecided, false)),
        ApprovalState::Expired => Some((StateError::Expired, false)),
        ApprovalState::Pending if at >= approval.pending.expires_at => {
            Some((StateError::Expired, true))
        }
        ApprovalState::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_lowercase_hex_digits() {
        let id = ApprovalId::random();
        assert_eq!(ApprovalId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.to_string().len(), 32);
        for bad in [
            "",
            "ABCDEF0123456789abcdef0123456789",
            "a:b",
            &"0".repeat(33),
        ] {
            assert_eq!(ApprovalId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn waits_end_at_the_timeout_or_the_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let s = Duration::from_secs;
        assert_eq!(wait_budget(now, s(5), now + s(60)), (s(5), false));
        assert_eq!(wait_budget(now, s(60), now + s(5)), (s(5), true));
        assert_eq!(wait_budget(now, s(60), now - s(5)), (s(0), true));
    }
}
