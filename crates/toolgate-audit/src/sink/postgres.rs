//! The PostgreSQL sink: one table shared by a fleet of gateways. Appends
//! lock the chain-head row (`SELECT … FOR UPDATE`), so concurrent writers
//! from any number of processes extend one linear chain.

use std::fmt::Write as _;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row as _};

use super::row::{self, Dialect};
use super::sqlite::migrator_for;
use super::{AppendError, Query, Sink};
use crate::chain::{ChainHead, VerifyReport, join_all};
use crate::error::{AuditError, db_error, migrate_error};
use crate::record::{AuditRecord, StoredRecord};

/// The shipped migrations (see `sqlite.rs`). The verdict index stays whole
/// here: its upkeep is the database server's work, not the gateway's, and
/// rebuilding an index on a fleet's shared table would hold every
/// gateway's appends while it builds.
const MIGRATIONS: &[(&str, &str)] = &[(
    "audit log",
    include_str!("../../migrations/postgres/0001_audit_log.sql"),
)];

/// Times travel as the same RFC 3339 text SQLite stores, so both sinks read
/// back exactly what was hashed; JSON as text, kept verbatim by `json`.
pub(super) const DIALECT: Dialect = Dialect {
    placeholder: |out, n, column| {
        let cast = match column {
            "time" => "::timestamptz",
            "argument_keys" | "arguments" => "::json",
            _ => "",
        };
        let _ = write!(out, "${n}{cast}");
    },
    select: |column| match column {
        "time" => {
            r#"to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#.to_string()
        }
        "argument_keys" | "arguments" => format!("{column}::text"),
        _ => column.to_string(),
    },
};

/// Rows per INSERT: the server is another process, so one round trip per
/// batch of the default size (512 rows are 11,264 bind parameters, far
/// below PostgreSQL's limit of 65,535).
const ROWS_PER_INSERT: usize = crate::writer::DEFAULT_BATCH_MAX;

/// The audit log in a PostgreSQL database.
#[derive(Debug)]
pub struct PostgresSink {
    pool: PgPool,
}

impl PostgresSink {
    /// Connects (a small pool) and migrates the schema; concurrent
    /// migrations from several gateways are serialized by an advisory lock.
    pub async fn connect(url: &str) -> Result<PostgresSink, AuditError> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(db_error("connecting to the PostgreSQL audit log"))?;
        migrator_for(MIGRATIONS)
            .run(&pool)
            .await
            .map_err(migrate_error)?;
        Ok(PostgresSink { pool })
    }

    /// The pool, for tests and tools that inspect the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Appends `pending` in one transaction. On success the records are
    /// taken (and returned as stored); on failure they stay in `pending`.
    async fn try_append(
        &self,
        pending: &mut Vec<AuditRecord>,
    ) -> Result<Vec<StoredRecord>, AuditError> {
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_error("beginning an append"))?;
        let mut head = read_head(&mut tx, " FOR UPDATE").await?;
        let links = row::insert_linked::<sqlx::Postgres>(
            &mut tx,
            &DIALECT,
            ROWS_PER_INSERT,
            &mut head,
            pending,
        )
        .await?;
        sqlx::query("UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(head.seq)
            .bind(&head.hash)
            .execute(&mut *tx)
            .await
            .map_err(db_error("appending"))?;
        tx.commit().await.map_err(db_error("committing"))?;
        Ok(join_all(std::mem::take(pending), links))
    }

    async fn verify_inner(&self) -> Result<VerifyReport, AuditError> {
        // One snapshot for the head and every row, while writers go on.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(db_error("verifying"))?;
        let head = read_head(&mut tx, "").await?;
        let report = row::walk_chain(&mut *tx, &DIALECT, head).await?;
        tx.rollback().await.map_err(db_error("verifying"))?;
        Ok(report)
    }
}

async fn read_head(conn: &mut PgConnection, lock: &'static str) -> Result<ChainHead, AuditError> {
    let sql = format!("SELECT seq, hash FROM audit_chain_head WHERE id = 1{lock}");
    let row = sqlx::query(AssertSqlSafe(sql))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error("reading the chain head"))?
        .ok_or(AuditError::Corrupt {
            seq: 0,
            what: "the chain head (missing)",
        })?;
    let seq = row.try_get(0).map_err(db_error("reading the chain head"))?;
    let hash = row.try_get(1).map_err(db_error("reading the chain head"))?;
    Ok(ChainHead { seq, hash })
}

impl Sink for PostgresSink {
    fn append(
        &self,
        records: Vec<AuditRecord>,
    ) -> BoxFuture<'_, Result<Vec<StoredRecord>, AppendError>> {
        Box::pin(async move {
            let mut pending = records;
            let appended = self.try_append(&mut pending).await;
            appended.map_err(|e| AppendError::new(e, pending))
        })
    }

    fn query<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, Result<Vec<StoredRecord>, AuditError>> {
        Box::pin(row::fetch_query(&self.pool, &DIALECT, q))
    }

    fn verify(&self) -> BoxFuture<'_, Result<VerifyReport, AuditError>> {
        Box::pin(self.verify_inner())
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }
}
