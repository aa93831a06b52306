//! State that toolgate's replicas share.
//!
//! Several gateways behind a load balancer must agree on more than
//! counters (those are `toolgate-limits`). This crate holds the other two
//! kinds of shared state, each as an object-safe trait with an embedded
//! implementation for one process and a shared one for a fleet:
//!
//! - [`ApprovalStore`]: calls that wait for a person. A `tools/call` that a
//!   policy sends to "require approval" is [created](ApprovalStore::create)
//!   on the replica that holds the call, which then
//!   [waits](ApprovalStore::wait) for it; a person
//!   [decides](ApprovalStore::decide) through any replica's admin API, and
//!   the waiter wakes at once. Each approval is decided exactly once:
//!   approved, denied, or expired, whichever comes first, even when
//!   replicas race. [`MemoryApprovals`] (one process) and
//!   [`RedisApprovals`] (a fleet: an atomic Lua script per transition,
//!   pub/sub to wake waiters on other replicas).
//! - [`GrantStore`]: bearer credentials created at run time
//!   (`toolgate grant create`), looked up by the SHA-256 of the token on
//!   every request, and revocable; a revocation holds from the next
//!   request on every replica, because nothing is cached. [`SqliteGrants`]
//!   (one file, WAL) and [`PostgresGrants`] (a fleet), one schema, migrated
//!   on open.
//!
//! # Invariants
//!
//! - **No clock reads.** Times are parameters (`created_at`, a decision's
//!   `at`, the `now` of a wait); the only timers are tokio's, for timeouts
//!   and waits, so tests can pause them.
//! - **Tokens are never stored.** Only their SHA-256 ([`token_sha256`]);
//!   no error message holds a token, argument values, or a connection
//!   password.
//! - **Fail closed.** A store that is down or too slow answers
//!   [`StateError::Unavailable`] within its timeout; callers deny rather
//!   than guess.
#![forbid(unsafe_code)]

mod approval;
mod error;
mod grant;
mod time;
mod token;

pub use approval::{
    Approval, ApprovalId, ApprovalState, ApprovalStore, Decision, MemoryApprovals, PendingApproval,
    RedisApprovalOptions, RedisApprovals,
};
pub use error::StateError;
pub use grant::{GrantOptions, GrantRecord, GrantStore, PostgresGrants, SqliteGrants, StoredGrant};
pub use token::{new_token, token_sha256};
