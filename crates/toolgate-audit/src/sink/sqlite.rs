//! The SQLite sink: one file, WAL mode, appends in `BEGIN IMMEDIATE`
//! transactions (so several processes on one file stay one chain) on a
//! thread of their own (`sqlite_writer.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row as _, SqlSafeStr, SqliteConnection, SqlitePool};

use super::row::{self, Dialect};
use super::sqlite_writer::Appender;
use super::{AppendError, Query, Sink};
use crate::chain::{ChainHead, VerifyReport};
use crate::error::{AuditError, db_error, migrate_error};
use crate::record::{AuditRecord, StoredRecord};

/// The shipped migrations, in order: (description, SQL). sqlx keeps a
/// checksum of each applied one and refuses a file whose applied migration
/// has changed, so a shipped file is never edited (comments included): a
/// change is a new migration. Version 2 replaces the verdict index with one
/// of the rows that are not allowed, which an allowed call (nearly every
/// call) does not maintain: about 1 µs a call of the gateway's CPU
/// (docs/benchmarks.md, "The audit log's indexes").
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "audit log",
        include_str!("../../migrations/sqlite/0001_audit_log.sql"),
    ),
    (
        "verdict index without allowed calls",
        include_str!("../../migrations/sqlite/0002_verdict_index_unallowed.sql"),
    ),
];

pub(super) const DIALECT: Dialect = Dialect {
    placeholder: |out, _, _| out.push('?'),
    select: str::to_string,
};

/// The audit log in a SQLite file. Appends go through a thread of their own
/// ([`Appender`]); queries, verification and migrations through a sqlx pool.
#[derive(Debug)]
pub struct SqliteSink {
    pool: SqlitePool,
    appender: Appender,
    path: PathBuf,
}

/// Further attempts at opening the file (see [`SqliteSink::open`]).
const OPEN_RETRIES: u32 = 5;

impl SqliteSink {
    /// Opens `path`, creating the file on first use, in WAL mode with
    /// `synchronous = FULL` (a commit survives power loss), and migrates it.
    ///
    /// Several processes may open a new file at once (replicas, the CLI):
    /// SQLite can refuse one of them at once (switching a new file to WAL,
    /// or sqlx applying a migration the other just applied, for SQLite
    /// gives sqlx no lock to take), so an open that fails is tried again a
    /// few times before the error is returned.
    pub async fn open(path: &Path) -> Result<SqliteSink, AuditError> {
        let mut attempt = 0;
        loop {
            match SqliteSink::open_once(path).await {
                Ok(sink) => return Ok(sink),
                Err(_) if attempt < OPEN_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn open_once(path: &Path) -> Result<SqliteSink, AuditError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Another process (a CLI reader, a second gateway) may hold the lock.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(db_error("opening the SQLite audit log"))?;
        // SQLite has no advisory lock for sqlx to take: two processes opening
        // a new file at once would both apply the first migration. An
        // IMMEDIATE transaction serializes them (each migration runs in a
        // savepoint inside it).
        migrator().run(&pool).await.map_err(migrate_error)?;
        let appender = Appender::start(path).await?;
        Ok(SqliteSink {
            pool,
            appender,
            path: path.to_path_buf(),
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

    async fn verify_inner(&self) -> Result<VerifyReport, AuditError> {
        // A deferred transaction: its first read fixes the snapshot that
        // the head and every row are read from.
        let mut tx = self.pool.begin().await.map_err(db_error("verifying"))?;
        let head = read_head(&mut tx).await?;
        let report = row::walk_chain(&mut *tx, &DIALECT, head).await?;
        tx.rollback().await.map_err(db_error("verifying"))?;
        Ok(report)
    }
}

pub(super) fn migrator() -> Migrator {
    migrator_for(MIGRATIONS)
}

/// `migrations` as versions 1, 2, …, tracked in a table of our own so a
/// database shared with other sqlx applications does not mix their
/// histories.
pub(super) fn migrator_for(migrations: &[(&'static str, &'static str)]) -> Migrator {
    let migrations = (1..)
        .zip(migrations)
        .map(|(version, &(description, sql))| {
            Migration::new(
                version,
                description.into(),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    let mut m = Migrator::with_migrations(migrations);
    m.dangerous_set_table_name("toolgate_audit_migrations");
    m
}

async fn read_head(conn: &mut SqliteConnection) -> Result<ChainHead, AuditError> {
    let row = sqlx::query("SELECT seq, hash FROM audit_chain_head WHERE id = 1")
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

impl Sink for SqliteSink {
    fn append(
        &self,
        records: Vec<AuditRecord>,
    ) -> BoxFuture<'_, Result<Vec<StoredRecord>, AppendError>> {
        Box::pin(self.appender.append(records))
    }

    fn query<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, Result<Vec<StoredRecord>, AuditError>> {
        Box::pin(row::fetch_query(&self.pool, &DIALECT, q))
    }

    fn verify(&self) -> BoxFuture<'_, Result<VerifyReport, AuditError>> {
        Box::pin(self.verify_inner())
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::full_record;

    /// The name and SQL of each index on `audit_log`.
    async fn indexes(pool: &SqlitePool) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log' \
             ORDER BY name",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    }

    fn named(indexes: &[(String, String)], name: &str) -> Option<String> {
        indexes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, sql)| sql.clone())
    }

    #[tokio::test]
    async fn a_log_made_before_the_partial_verdict_index_is_moved_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        // The file as the first release left it: migration 1 only, and rows
        // in it (the appender runs no migrations).
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let old = SqlitePool::connect_with(options).await.unwrap();
        migrator_for(&MIGRATIONS[..1]).run(&old).await.unwrap();
        let verdicts = ["allow", "deny", "allow", "rate_limited", "allow"];
        let batch = verdicts
            .iter()
            .map(|v| AuditRecord {
                verdict: (*v).into(),
                ..full_record()
            })
            .collect();
        Appender::start(&path)
            .await
            .unwrap()
            .append(batch)
            .await
            .unwrap();
        assert!(named(&indexes(&old).await, "audit_log_verdict").is_some());
        old.close().await;

        let sink = SqliteSink::open(&path).await.unwrap();
        let names = indexes(sink.pool()).await;
        let partial = named(&names, "audit_log_unallowed").unwrap_or_default();
        assert!(partial.ends_with("WHERE verdict <> 'allow'"), "{names:?}");
        assert_eq!(named(&names, "audit_log_verdict"), None, "{names:?}");
        // Built over the rows already there: only the two not allowed.
        let in_index: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log INDEXED BY audit_log_unallowed \
             WHERE verdict <> 'allow'",
        )
        .fetch_one(sink.pool())
        .await
        .unwrap();
        assert_eq!(in_index, 2);
        for (verdict, seqs) in [("deny", vec![2]), ("allow", vec![1, 3, 5])] {
            let q = Query {
                verdict: Some(verdict.into()),
                ..Query::default()
            };
            let found: Vec<_> = sink
                .query(&q)
                .await
                .unwrap()
                .iter()
                .map(|r| r.seq)
                .collect();
            assert_eq!(found, seqs, "{verdict}");
        }
        assert_eq!(sink.verify().await.unwrap().records, 5);
    }

    #[tokio::test]
    async fn a_filter_on_a_verdict_other_than_allow_uses_the_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let sink = SqliteSink::open(&dir.path().join("a.db")).await.unwrap();
        let plan = |verdict: &str| {
            let q = Query {
                verdict: Some(verdict.into()),
                newest_first: true,
                limit: Some(50),
                ..Query::default()
            };
            let (sql, binds) = row::query_sql(&DIALECT, &q);
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let pool = sink.pool().clone();
            async move {
                let rows = row::bind_all(sqlx::query(sqlx::AssertSqlSafe(explain)), binds)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                rows.iter()
                    .map(|r| r.get::<String, _>("detail"))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        };
        let deny = plan("deny").await;
        assert!(deny.contains("USING INDEX audit_log_unallowed"), "{deny}");
        // `allow` matches most rows: read in seq order, no index.
        let allow = plan("allow").await;
        assert_eq!(allow, "SCAN audit_log", "{allow}");
    }
}
