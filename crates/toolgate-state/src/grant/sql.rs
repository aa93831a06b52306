//! What both SQL grant stores share: the migrator, rows, and errors.

use std::future::Future;
use std::time::Duration;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::{GrantRecord, StoredGrant};
use crate::error::{StateError, db_error};
use crate::time::{from_ms_i64, to_ms_i64};

/// A grant row: name, server, policy, token_sha256, created_at_ms,
/// revoked_at_ms (the column order of every `SELECT`).
pub(super) type Row = (String, String, Option<String>, String, i64, Option<i64>);

/// The shipped migrations, tracked in a table of our own so a database
/// shared with the audit log (or other sqlx applications) keeps the
/// histories apart.
pub(super) fn migrator(sql: &'static str) -> Migrator {
    let first = Migration::new(
        1,
        "grants".into(),
        MigrationType::Simple,
        sql.into_sql_str(),
        false,
    );
    let mut m = Migrator::with_migrations(vec![first]);
    m.dangerous_set_table_name("toolgate_state_migrations");
    m
}

/// The values a grant is inserted with, hash normalized.
pub(super) fn insert_values(g: &GrantRecord) -> (String, String, Option<String>, String, i64) {
    (
        g.name.clone(),
        g.server.clone(),
        g.policy.clone(),
        g.token_sha256.to_ascii_lowercase(),
        to_ms_i64(g.created_at),
    )
}

pub(super) fn stored(row: Row) -> Result<StoredGrant, StateError> {
    let (name, server, policy, token_sha256, created, revoked) = row;
    let bad_time = || StateError::Corrupt(format!("grant {name}: negative time"));
    let created_at = from_ms_i64(created).ok_or_else(bad_time)?;
    let revoked_at = revoked
        .map(|ms| from_ms_i64(ms).ok_or_else(bad_time))
        .transpose()?;
    Ok(StoredGrant {
        record: GrantRecord {
            name,
            server,
            policy,
            token_sha256,
            created_at,
        },
        revoked_at,
    })
}

/// Maps a failed insert: a unique violation is a duplicate (which one is
/// told by `name_taken`), anything else is the database's trouble.
pub(super) async fn insert_error<F>(e: sqlx::Error, name: &str, name_taken: F) -> StateError
where
    F: Future<Output = Result<bool, StateError>>,
{
    let unique = matches!(&e, sqlx::Error::Database(d) if d.is_unique_violation());
    if !unique {
        return db_error("creating a grant")(e);
    }
    match name_taken.await {
        Ok(true) => StateError::Duplicate(format!("grant name {name:?}")),
        Ok(false) => StateError::Duplicate("token (another grant has it)".into()),
        Err(e) => e,
    }
}

/// Runs `query` within the timeout.
pub(super) async fn timed<T>(
    timeout: Duration,
    during: &'static str,
    query: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StateError> {
    match tokio::time::timeout(timeout, query).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(db_error(during)(e)),
        Err(_) => Err(StateError::Unavailable(format!(
            "{during}: no answer within {timeout:?}"
        ))),
    }
}
