//! Grants made at run time: a bearer token's hash bound to a server and a
//! policy, until revoked.
//!
//! A grant's name is unique for good: a revoked grant keeps its name, so
//! that audit records naming it stay unambiguous. Nothing is cached: every
//! [`lookup`](GrantStore::lookup) is one query on a unique index, so a
//! revocation holds from the next request on every replica.

mod postgres;
mod sql;
mod sqlite;

use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;

pub use postgres::PostgresGrants;
pub use sqlite::SqliteGrants;

use crate::error::StateError;

/// A grant as created. Stores keep its time to the millisecond.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    /// Its unique name (shown in audit records).
    pub name: String,
    /// The configured server it opens.
    pub server: String,
    /// The policy it is held to, if not the server's default.
    pub policy: Option<String>,
    /// The SHA-256 of its token, as [`token_sha256`](crate::token_sha256)
    /// gives it (64 hex digits; stored lowercase). The token itself is
    /// never stored.
    pub token_sha256: String,
    /// When it was created.
    pub created_at: SystemTime,
}

/// A grant as listed: revoked ones included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredGrant {
    /// The grant.
    pub record: GrantRecord,
    /// When it was revoked, if it was.
    pub revoked_at: Option<SystemTime>,
}

/// How to use a grant database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantOptions {
    /// The most one call may take (waiting for a connection included);
    /// past it the call fails with [`StateError::Unavailable`]. Default 2 s.
    pub timeout: Duration,
    /// The pool's size. Default 4.
    pub max_connections: u32,
}

impl Default for GrantOptions {
    fn default() -> GrantOptions {
        GrantOptions {
            timeout: Duration::from_secs(2),
            max_connections: 4,
        }
    }
}

/// Grants shared by whoever uses the same database.
pub trait GrantStore: Send + Sync + 'static {
    /// Stores a new grant; [`StateError::Duplicate`] when its name (or its
    /// token) is taken, revoked grants included.
    fn create(&self, grant: GrantRecord) -> BoxFuture<'_, Result<(), StateError>>;

    /// Every grant, revoked ones included, by name.
    fn list(&self) -> BoxFuture<'_, Result<Vec<StoredGrant>, StateError>>;

    /// Revokes a grant from `at` on; [`StateError::NotFound`] when there is
    /// none of that name. Revoking a revoked grant changes nothing.
    fn revoke<'a>(&'a self, name: &'a str, at: SystemTime)
    -> BoxFuture<'a, Result<(), StateError>>;

    /// The live (unrevoked) grant whose token has this SHA-256, if any: one
    /// indexed query, on every request's path.
    fn lookup<'a>(
        &'a self,
        token_sha256: &'a str,
    ) -> BoxFuture<'a, Result<Option<GrantRecord>, StateError>>;

    /// A short name for logs: `sqlite`, `postgres`.
    fn kind(&self) -> &'static str;
}
