//! Grants in a SQLite file: one gateway, or several on one host.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::sql::{self, Row, timed};
use super::{GrantOptions, GrantRecord, GrantStore, StoredGrant};
use crate::error::{StateError, db_error, migrate_error};
use crate::time::to_ms_i64;

const MIGRATION: &str = include_str!("../../migrations/sqlite/0001_grants.sql");

/// Grants in a SQLite file.
#[derive(Debug)]
pub struct SqliteGrants {
    pool: SqlitePool,
    path: PathBuf,
    timeout: Duration,
}

impl SqliteGrants {
    /// Opens `path` with the default options; see [`open_with`](Self::open_with).
    pub async fn open(path: &Path) -> Result<SqliteGrants, StateError> {
        SqliteGrants::open_with(path, GrantOptions::default()).await
    }

    /// Opens `path`, creating the file on first use (its directory must
    /// exist), in WAL mode with `synchronous = FULL` (a revocation survives
    /// power loss), and migrates it.
    ///
    /// Several processes may open a new file at once (replicas, the CLI):
    /// SQLite can refuse one of them at once (switching a new file to WAL,
    /// or sqlx applying a migration the other just applied, for SQLite
    /// gives sqlx no lock to take), so an open that fails is tried again a
    /// few times before the error is returned.
    pub async fn open_with(path: &Path, options: GrantOptions) -> Result<SqliteGrants, StateError> {
        let mut attempt = 0;
        loop {
            match SqliteGrants::open_once(path, &options).await {
                Ok(store) => return Ok(store),
                Err(_) if attempt < OPEN_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn open_once(path: &Path, options: &GrantOptions) -> Result<SqliteGrants, StateError> {
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Another process (the CLI, a second gateway) may hold the lock.
            .busy_timeout(options.timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.timeout)
            .connect_with(connect)
            .await
            .map_err(db_error("opening the SQLite grant store"))?;
        sql::migrator(MIGRATION)
            .run(&pool)
            .await
            .map_err(migrate_error)?;
        Ok(SqliteGrants {
            pool,
            path: path.to_path_buf(),
            timeout: options.timeout,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pool, for tests and tools that inspect the database directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn create_now(&self, grant: GrantRecord) -> Result<(), StateError> {
        let (name, server, policy, hash, created) = sql::insert_values(&grant);
        let insert = sqlx::query(
            "INSERT INTO toolgate_grants \
             (name, server, policy, token_sha256, created_at_ms) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&name)
        .bind(server)
        .bind(policy)
        .bind(hash)
        .bind(created)
        .execute(&self.pool);
        match tokio::time::timeout(self.timeout, insert).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(sql::insert_error(e, &name, self.name_taken(&name)).await),
            Err(_) => Err(StateError::Unavailable(format!(
                "creating a grant: no answer within {:?}",
                self.timeout
            ))),
        }
    }

    async fn name_taken(&self, name: &str) -> Result<bool, StateError> {
        let query =
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM toolgate_grants WHERE name = ?")
                .bind(name)
                .fetch_one(&self.pool);
        Ok(timed(self.timeout, "creating a grant", query).await? > 0)
    }

    async fn list_now(&self) -> Result<Vec<StoredGrant>, StateError> {
        let query = sqlx::query_as::<_, Row>(
            "SELECT name, server, policy, token_sha256, created_at_ms, revoked_at_ms \
             FROM toolgate_grants ORDER BY name",
        )
        .fetch_all(&self.pool);
        let rows = timed(self.timeout, "listing grants", query).await?;
        rows.into_iter().map(sql::stored).collect()
    }

    async fn revoke_now(&self, name: &str, at: SystemTime) -> Result<(), StateError> {
        // COALESCE keeps the first revocation's time.
        let query = sqlx::query(
            "UPDATE toolgate_grants SET revoked_at_ms = COALESCE(revoked_at_ms, ?) WHERE name = ?",
        )
        .bind(to_ms_i64(at))
        .bind(name)
        .execute(&self.pool);
        let done = timed(self.timeout, "revoking a grant", query).await?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound);
        }
        Ok(())
    }

    async fn lookup_now(&self, token_sha256: &str) -> Result<Option<GrantRecord>, StateError> {
        let query = sqlx::query_as::<_, Row>(
            "SELECT name, server, policy, token_sha256, created_at_ms, revoked_at_ms \
             FROM toolgate_grants WHERE token_sha256 = ? AND revoked_at_ms IS NULL",
        )
        .bind(token_sha256.to_ascii_lowercase())
        .fetch_optional(&self.pool);
        let row = timed(self.timeout, "looking up a grant", query).await?;
        row.map(|r| sql::stored(r).map(|g| g.record)).transpose()
    }
}

/// Further attempts at opening the file (see [`SqliteGrants::open_with`]).
const OPEN_RETRIES: u32 = 5;

impl GrantStore for SqliteGrants {
    fn create(&self, grant: GrantRecord) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(self.create_now(grant))
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<StoredGrant>, StateError>> {
        Box::pin(self.list_now())
    }

    fn revoke<'a>(
        &'a self,
        name: &'a str,
        at: SystemTime,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.revoke_now(name, at))
    }

    fn lookup<'a>(
        &'a self,
        token_sha256: &'a str,
    ) -> BoxFuture<'a, Result<Option<GrantRecord>, StateError>> {
        Box::pin(self.lookup_now(token_sha256))
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }
}
