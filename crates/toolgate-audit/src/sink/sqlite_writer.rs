//! The SQLite sink's appends: one thread of their own with one connection,
//! which links, binds and inserts a whole batch in one transaction.
//!
//! Why a thread of our own and not sqlx: sqlx's SQLite driver runs each
//! statement on its worker thread and hands the result back over a
//! channel, so a batch was a dozen round trips between the runtime and that
//! thread (a futex wake on each side of each), the runtime thread linked
//! and hashed the records, and every value was copied on its way (the
//! record, its normalized copy, the row, sqlx's `Arc` around each bound
//! value). Here a batch crosses once each way, its records are moved in,
//! normalized, hashed and bound where they lie, and the INSERTs (see
//! [`Inserts`]) are prepared once for the connection (docs/benchmarks.md,
//! "The SQLite appender").

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Statement, ToSql, TransactionBehavior, params,
};
use tokio::sync::oneshot;

use super::AppendError;
use super::row;
use super::sqlite::DIALECT;
use crate::chain::{ChainHead, Link, join_all};
use crate::cooperative::SLICE;
use crate::error::{AuditError, sqlite_error};
use crate::record::{AuditRecord, StoredRecord};
use crate::{canonical, rfc3339};

/// How long an append waits for another process's write lock (a second
/// gateway on the same file, the CLI).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The handle to the appending thread; the thread ends when it is dropped.
#[derive(Debug)]
pub(super) struct Appender {
    jobs: mpsc::Sender<Job>,
}

/// A batch to append, and where its outcome goes.
struct Job {
    records: Vec<AuditRecord>,
    done: oneshot::Sender<Result<Vec<StoredRecord>, AppendError>>,
}

impl Appender {
    /// Opens `path` (created and migrated already) on a new thread.
    pub(super) async fn start(path: &Path) -> Result<Appender, AuditError> {
        let (jobs, queue) = mpsc::channel();
        let (opened_tx, opened) = oneshot::channel();
        let path = path.to_path_buf();
        std::thread::Builder::new()
            .name("toolgate-audit-sqlite".into())
            .spawn(move || match open(&path) {
                Ok(conn) => {
                    let _ = opened_tx.send(Ok(()));
                    serve(conn, &queue, &Inserts::new());
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                }
            })
            .map_err(|source| AuditError::Io {
                during: "starting the SQLite audit thread",
                source,
            })?;
        opened.await.map_err(|_| thread_gone())??;
        Ok(Appender { jobs })
    }

    /// Appends `records` in one transaction on the thread.
    pub(super) async fn append(
        &self,
        records: Vec<AuditRecord>,
    ) -> Result<Vec<StoredRecord>, AppendError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let (done, outcome) = oneshot::channel();
        if let Err(mpsc::SendError(job)) = self.jobs.send(Job { records, done }) {
            return Err(AppendError::new(thread_gone(), job.records));
        }
        // The thread answers every job it takes, a panic included (see
        // `serve`); only a thread killed from outside could drop one.
        outcome
            .await
            .unwrap_or_else(|_| Err(AppendError::new(thread_gone(), Vec::new())))
    }
}

fn thread_gone() -> AuditError {
    AuditError::Database {
        during: "appending",
        detail: "the SQLite audit thread has stopped".into(),
    }
}

fn open(path: &Path) -> Result<Connection, AuditError> {
    let during = "opening the SQLite audit log";
    // Not `SQLITE_OPEN_CREATE`: the pool created and migrated the file, and
    // a file that vanished since is an error, not a new empty log.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite_error(during))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite_error(during))?;
    // Per connection: a commit survives power loss. A statement that may
    // need undoing half-way (an INSERT into a table with indexes) keeps a
    // statement journal; on disk that is a temp file created, written and
    // unlinked per statement (seen with strace under load), in memory a
    // buffer of one row's pages.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite_error(during))?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(sqlite_error(during))?;
    Ok(conn)
}

/// Appends each job's batch until every [`Appender`] is gone.
fn serve(mut conn: Connection, queue: &mpsc::Receiver<Job>, inserts: &Inserts) {
    while let Ok(Job { mut records, done }) = queue.recv() {
        // A panic must not lose the batch: the records stay in `records`
        // until the commit, and the transaction rolls back as it unwinds.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            append(&mut conn, inserts, &mut records)
        }));
        let outcome = match outcome {
            Ok(Ok(links)) => Ok(join_all(records, links)),
            Ok(Err(e)) => Err(AppendError::new(e, records)),
            Err(_) => Err(AppendError::new(
                AuditError::Database {
                    during: "appending",
                    detail: "the SQLite audit thread panicked".into(),
                },
                records,
            )),
        };
        let _ = done.send(outcome);
    }
}

/// The INSERTs a batch is written with: one per power of two rows up to
/// [`SLICE`], so a batch of any size is a few statements, each prepared
/// once for the connection.
///
/// Why several rows a statement: SQLite keeps a statement's cursors open
/// from row to row, and an index cursor left on the last entry takes a
/// key that sorts after it without descending the B-tree again
/// (`sqlite3BtreeIndexMoveto`). Time, and a grant's or a tool's rows in
/// seq order, are such keys: a one-row INSERT descended each index from
/// its root for every row, comparing keys at each level: 9.2k of the 23.4k
/// instructions a call `sqlite3_step` took at c=8 (docs/benchmarks.md,
/// "Several rows an INSERT").
struct Inserts {
    /// `sql[k]` inserts `2^k` rows ([`row::insert_sql`]).
    sql: Vec<String>,
}

impl Inserts {
    fn new() -> Inserts {
        let sql = (0..=SLICE.ilog2())
            .map(|k| row::insert_sql(&DIALECT, 1 << k))
            .collect();
        Inserts { sql }
    }

    /// The INSERT for the most rows, up to `remaining` (at least 1), and
    /// how many rows it takes.
    fn at_most(&self, remaining: usize) -> (&str, usize) {
        let k = remaining.clamp(1, SLICE).ilog2() as usize;
        (&self.sql[k], 1 << k)
    }
}

/// Binds `record` at `link` as the row whose first parameter is `first`
/// (from 1), in [`row::COLUMNS`] order, as `insert_sql` names them.
fn bind_row(
    insert: &mut Statement<'_>,
    first: usize,
    record: &AuditRecord,
    link: &Link,
) -> rusqlite::Result<()> {
    let time = rfc3339::Stamp::of(record.time);
    // Normalized: both fit.
    let gateway_micros = i64::try_from(record.gateway_micros).unwrap_or(i64::MAX);
    let upstream_micros = i64::try_from(record.upstream_micros).unwrap_or(i64::MAX);
    let argument_keys = canonical::string_array(&record.argument_keys);
    let arguments = record.arguments.as_ref().map(canonical::canonical_json);
    let values: [&dyn ToSql; row::COLUMNS.len()] = [
        &link.seq,
        &time.as_str(),
        &record.request_id,
        &record.grant,
        &record.principal,
        &record.session,
        &record.server,
        &record.method,
        &record.target,
        &record.verdict,
        &record.rule,
        &record.policy_version,
        &record.reason,
        &record.upstream,
        &record.rpc_error_code,
        &gateway_micros,
        &upstream_micros,
        &argument_keys,
        &record.arguments_sha256,
        &arguments,
        &link.prev_hash,
        &link.hash,
    ];
    for (i, value) in values.into_iter().enumerate() {
        insert.raw_bind_parameter(first + i, value)?;
    }
    Ok(())
}

/// Links `records` (normalizing them in place) after the chain head and
/// inserts them, in one `BEGIN IMMEDIATE` transaction (so two writers
/// cannot both extend the same head); returns their links once committed.
fn append(
    conn: &mut Connection,
    inserts: &Inserts,
    records: &mut [AuditRecord],
) -> Result<Vec<Link>, AuditError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite_error("beginning an append"))?;
    // Every statement is prepared once for the connection (`prepare_cached`):
    // parsing them each batch was 4% of this thread's time.
    let mut head = tx
        .prepare_cached("SELECT seq, hash FROM audit_chain_head WHERE id = 1")
        .and_then(|mut select| {
            select
                .query_row([], |row| {
                    Ok(ChainHead {
                        seq: row.get(0)?,
                        hash: row.get(1)?,
                    })
                })
                .optional()
        })
        .map_err(sqlite_error("reading the chain head"))?
        .ok_or(AuditError::Corrupt {
            seq: 0,
            what: "the chain head (missing)",
        })?;
    let mut links = Vec::with_capacity(records.len());
    let mut done = 0;
    while done < records.len() {
        // Full inserts come first, so this is every SLICE rows.
        if done > 0 && done.is_multiple_of(SLICE) {
            // This thread may share a core with the runtime: a woken
            // request runs now rather than after the whole batch (the
            // scheduler lets a running thread finish its slice first).
            std::thread::yield_now();
        }
        let (sql, rows) = inserts.at_most(records.len() - done);
        let mut insert = tx.prepare_cached(sql).map_err(sqlite_error("appending"))?;
        for (row, record) in records[done..done + rows].iter_mut().enumerate() {
            record.normalize();
            let link = head.next(record);
            bind_row(&mut insert, row * row::COLUMNS.len() + 1, record, &link)
                .map_err(sqlite_error("appending"))?;
            links.push(link);
        }
        insert.raw_execute().map_err(sqlite_error("appending"))?;
        done += rows;
    }
    tx.prepare_cached("UPDATE audit_chain_head SET seq = ?1, hash = ?2 WHERE id = 1")
        .and_then(|mut update| update.execute(params![head.seq, head.hash]))
        .map_err(sqlite_error("appending"))?;
    tx.commit().map_err(sqlite_error("committing"))?;
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Sink as _;

    #[tokio::test]
    async fn the_appending_connection_commits_durably_and_journals_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        // The pool creates and migrates the file; the appender only opens it.
        assert!(open(&path).is_err(), "a missing file is not created");
        drop(super::super::SqliteSink::open(&path).await.unwrap());
        let conn = open(&path).unwrap();
        let pragma = |name: &str| -> i64 {
            conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(pragma("synchronous"), 2, "FULL");
        assert_eq!(pragma("temp_store"), 2, "MEMORY");
        assert_eq!(pragma("busy_timeout"), 10_000);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn a_failed_batch_comes_back_whole_and_the_chain_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let sink = super::super::SqliteSink::open(&path).await.unwrap();
        let record = crate::record::tests::full_record;
        sink.append(vec![record()]).await.unwrap();
        // A row in the way of the next seq: the batch's second INSERT fails
        // after its first succeeded, and the transaction rolls back.
        let conn = open(&path).unwrap();
        conn.execute(
            "INSERT INTO audit_log SELECT seq + 2, time, request_id, grant_name, principal, \
             session_id, server, method, target, verdict, rule, policy_version, reason, \
             upstream, rpc_error_code, gateway_micros, upstream_micros, argument_keys, \
             arguments_sha256, arguments, prev_hash, hash FROM audit_log WHERE seq = 1",
            [],
        )
        .unwrap();
        let mut batch = vec![record(), record(), record()];
        batch[1].request_id = "second".into();
        let failed = sink.append(batch).await.unwrap_err();
        assert!(
            failed.error.to_string().contains("UNIQUE"),
            "{}",
            failed.error
        );
        let ids: Vec<_> = failed
            .records
            .iter()
            .map(|r| r.request_id.as_str())
            .collect();
        assert_eq!(ids, ["boot-1", "second", "boot-1"], "in order, none lost");
        conn.execute("DELETE FROM audit_log WHERE seq = 3", [])
            .unwrap();
        let stored = sink.append(failed.records).await.unwrap();
        let seqs: Vec<_> = stored.iter().map(|s| s.seq).collect();
        assert_eq!(seqs, [2, 3, 4]);
        let report = sink.verify().await.unwrap();
        assert_eq!((report.records, report.first_problem), (4, None));
    }

    #[test]
    fn a_batch_of_any_size_is_cut_into_the_largest_inserts_there_are() {
        let inserts = Inserts::new();
        let rows_of = |n: usize| {
            let mut cuts = Vec::new();
            let mut left = n;
            while left > 0 {
                let (sql, rows) = inserts.at_most(left);
                assert_eq!(sql.matches('(').count(), rows + 1, "{rows} rows: {sql}");
                cuts.push(rows);
                left -= rows;
            }
            cuts
        };
        assert_eq!(rows_of(1), [1]);
        assert_eq!(rows_of(SLICE), [SLICE]);
        assert_eq!(rows_of(23), [16, 4, 2, 1]);
        assert_eq!(rows_of(40), [16, 16, 8]);
    }

    #[tokio::test]
    async fn every_row_of_every_insert_is_stored_as_its_record() {
        let dir = tempfile::tempdir().unwrap();
        let sink = super::super::SqliteSink::open(&dir.path().join("a.db"))
            .await
            .unwrap();
        // Records that differ in every column, so a row bound at the wrong
        // offset, or a column shifted within a row, reads back different.
        let record = |n: usize| {
            let mut r = crate::record::tests::full_record();
            let text = |what: &str| format!("{what}-{n}");
            r.time += Duration::from_micros(n as u64);
            r.request_id = text("req");
            r.grant = text("grant");
            r.principal = (!n.is_multiple_of(3)).then(|| text("sub"));
            r.session = Some(text("session"));
            r.server = text("server");
            r.method = text("method");
            r.target = n.is_multiple_of(2).then(|| text("tool"));
            r.verdict = ["allow", "deny"][n % 2].into();
            r.rule = Some(text("/tools/x"));
            r.policy_version = Some(text("policy"));
            r.reason = (n % 2 == 1).then(|| text("reason"));
            r.upstream = text("up");
            r.rpc_error_code = n.is_multiple_of(4).then_some(-(n as i64));
            r.gateway_micros = n as u64;
            r.upstream_micros = 2 * n as u64;
            r.argument_keys = vec![text("key")];
            r.arguments_sha256 = Some(text("sha"));
            r.arguments = Some(serde_json::json!({ "n": n }));
            r
        };
        let mut sent = Vec::new();
        // One batch of each shape: one row, a whole insert, a remainder.
        for size in [1, SLICE, 23, 2 * SLICE + 7] {
            let batch: Vec<_> = (sent.len()..sent.len() + size).map(record).collect();
            sent.extend(batch.iter().map(AuditRecord::normalized));
            sink.append(batch).await.unwrap();
        }
        let stored = sink.query(&crate::sink::Query::default()).await.unwrap();
        let seqs: Vec<_> = stored.iter().map(|s| s.seq).collect();
        assert_eq!(seqs, (1..=sent.len() as i64).collect::<Vec<_>>());
        for (s, r) in stored.iter().zip(&sent) {
            assert_eq!(&s.record, r, "seq {}", s.seq);
        }
        let report = sink.verify().await.unwrap();
        assert_eq!(
            (report.records, report.first_problem),
            (sent.len() as u64, None)
        );
    }
}
