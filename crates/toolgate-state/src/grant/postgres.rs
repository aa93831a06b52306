//! Grants in PostgreSQL: shared by a fleet of gateways.

use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use super::sql::{self, Row, timed};
use super::{GrantOptions, GrantRecord, GrantStore, StoredGrant};
use crate::error::{StateError, db_error, migrate_error};
use crate::time::to_ms_i64;

const MIGRATION: &str = include_str!("../../migrations/postgres/0001_grants.sql");

/// Grants in a PostgreSQL database.
#[derive(Debug)]
pub struct PostgresGrants {
    pool: PgPool,
    timeout: Duration,
}

impl PostgresGrants {
    /// Connects with the default options; see [`connect_with`](Self::connect_with).
    pub async fn connect(url: &str) -> Result<PostgresGrants, StateError> {
        PostgresGrants::connect_with(url, GrantOptions::default()).await
    }

    /// Connects (a small pool) and migrates the schema; concurrent
    /// migrations from several gateways are serialized by sqlx's advisory
    /// lock. Errors never show the URL's password.
    pub async fn connect_with(
        url: &str,
        options: GrantOptions,
    ) -> Result<PostgresGrants, StateError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.timeout)
            .connect(url)
            .await
            .map_err(db_error("connecting to the PostgreSQL grant store"))?;
        sql::migrator(MIGRATION)
            .run(&pool)
            .await
            .map_err(migrate_error)?;
        Ok(PostgresGrants {
            pool,
            timeout: options.timeout,
        })
    }

    /// The pool, for tests and tools that inspect the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn create_now(&self, grant: GrantRecord) -> Result<(), StateError> {
        let (name, server, policy, hash, created) = sql::insert_values(&grant);
        let insert = sqlx::query(
            "INSERT INTO toolgate_grants \
             (name, server, policy, token_sha256, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
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
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM toolgate_grants WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool);
        Ok(timed(self.timeout, "creating a grant", query).await? > 0)
    }

    async fn list_now(&self) -> Result<Vec<StoredGrant>, StateError> {
        let query = sqlx::query_as::<_, Row>(
            "SELECT name, server, policy, token_sha256, created_at_ms, revoked_at_ms \
             FROM toolgate_grants ORDER BY name COLLATE \"C\"",
        )
        .fetch_all(&self.pool);
        let rows = timed(self.timeout, "listing grants", query).await?;
        rows.into_iter().map(sql::stored).collect()
    }

    async fn revoke_now(&self, name: &str, at: SystemTime) -> Result<(), StateError> {
        // COALESCE keeps the first revocation's time.
        let query = sqlx::query(
            "UPDATE toolgate_grants SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE name = $2",
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
             FROM toolgate_grants WHERE token_sha256 = $1 AND revoked_at_ms IS NULL",
        )
        .bind(token_sha256.to_ascii_lowercase())
        .fetch_optional(&self.pool);
        let row = timed(self.timeout, "looking up a grant", query).await?;
        row.map(|r| sql::stored(r).map(|g| g.record)).transpose()
    }
}

impl GrantStore for PostgresGrants {
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
        "postgres"
    }
}
