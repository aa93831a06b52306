//! The `audit_log` row, shared by the SQL sinks: columns, encoding, and the
//! SQL text that differs between backends only in placeholders and casts.

use futures_util::TryStreamExt;
use sqlx::query::Query as SqlQuery;
use sqlx::{AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, Type};

use crate::chain::{ChainHead, ChainWalker, Link, VerifyReport};
use crate::cooperative;
use crate::error::{AuditError, db_error};
use crate::record::{AuditRecord, StoredRecord};
use crate::rfc3339;
use crate::sink::Query;

/// The columns, in the order rows are written and read.
pub(crate) const COLUMNS: [&str; 22] = [
    "seq",
    "time",
    "request_id",
    "grant_name",
    "principal",
    "session_id",
    "server",
    "method",
    "target",
    "verdict",
    "rule",
    "policy_version",
    "reason",
    "upstream",
    "rpc_error_code",
    "gateway_micros",
    "upstream_micros",
    "argument_keys",
    "arguments_sha256",
    "arguments",
    "prev_hash",
    "hash",
];

/// Links `records` after `head` (normalizing them and moving the head) and
/// inserts them on `conn`, inside the caller's transaction, `rows` rows a
/// statement, a slice at a time with a yield to the runtime between slices
/// (see [`crate::cooperative`]). The records stay in place, so the caller
/// still has them whole if this fails; their links come back on success.
pub(crate) async fn insert_linked<DB>(
    conn: &mut DB::Connection,
    d: &Dialect,
    rows: usize,
    head: &mut ChainHead,
    records: &mut [AuditRecord],
) -> Result<Vec<Link>, AuditError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    String: for<'e> Encode<'e, DB> + Type<DB>,
    Option<String>: for<'e> Encode<'e, DB> + Type<DB>,
    i64: for<'e> Encode<'e, DB> + Type<DB>,
    Option<i64>: for<'e> Encode<'e, DB> + Type<DB>,
{
    let mut links = Vec::with_capacity(records.len());
    for chunk in records.chunks_mut(rows) {
        let mut q = sqlx::query(AssertSqlSafe(insert_sql(d, chunk.len())));
        for slice in chunk.chunks_mut(cooperative::SLICE) {
            for record in slice {
                record.normalize();
                let link = head.next(record);
                q = Row::new(record, &link).bind(q);
                links.push(link);
            }
            tokio::task::yield_now().await;
        }
        q.execute(&mut *conn).await.map_err(db_error("appending"))?;
    }
    Ok(links)
}

/// How a backend spells a bind parameter for a column (`?`, `$3::json`),
/// and how it selects a column as the text or integer a row holds.
pub(crate) struct Dialect {
    /// Appends the `n`th placeholder (from 1), for `column`, to `out`.
    pub(crate) placeholder: fn(out: &mut String, n: usize, column: &str),
    pub(crate) select: fn(column: &str) -> String,
}

/// A row, as the database holds it.
pub(crate) struct Row {
    seq: i64,
    time: String,
    request_id: String,
    grant: String,
    principal: Option<String>,
    session: Option<String>,
    server: String,
    method: String,
    target: Option<String>,
    verdict: String,
    rule: Option<String>,
    policy_version: Option<String>,
    reason: Option<String>,
    upstream: String,
    rpc_error_code: Option<i64>,
    gateway_micros: i64,
    upstream_micros: i64,
    argument_keys: String,
    arguments_sha256: Option<String>,
    arguments: Option<String>,
    prev_hash: String,
    hash: String,
}

impl Row {
    /// The row of `r` at `link` (copies: sqlx binds owned values).
    pub(crate) fn new(r: &AuditRecord, link: &Link) -> Row {
        Row {
            seq: link.seq,
            time: rfc3339::format(r.time),
            request_id: r.request_id.clone(),
            grant: r.grant.clone(),
            principal: r.principal.clone(),
            session: r.session.clone(),
            server: r.server.clone(),
            method: r.method.clone(),
            target: r.target.clone(),
            verdict: r.verdict.clone(),
            rule: r.rule.clone(),
            policy_version: r.policy_version.clone(),
            reason: r.reason.clone(),
            upstream: r.upstream.clone(),
            rpc_error_code: r.rpc_error_code,
            // Normalized records fit.
            gateway_micros: i64::try_from(r.gateway_micros).unwrap_or(i64::MAX),
            upstream_micros: i64::try_from(r.upstream_micros).unwrap_or(i64::MAX),
            argument_keys: crate::canonical::string_array(&r.argument_keys),
            arguments_sha256: r.arguments_sha256.clone(),
            arguments: r.arguments.as_ref().map(crate::canonical_json),
            prev_hash: link.prev_hash.clone(),
            hash: link.hash.clone(),
        }
    }

    /// The stored record; `Corrupt` when a column holds what no writer wrote.
    pub(crate) fn into_stored(self) -> Result<StoredRecord, AuditError> {
        let seq = self.seq;
        let corrupt = |what| AuditError::Corrupt { seq, what };
        let time = rfc3339::parse(&self.time).ok_or_else(|| corrupt("time"))?;
        let argument_keys =
            serde_json::from_str(&self.argument_keys).map_err(|_| corrupt("argument_keys"))?;
        let arguments = match &self.arguments {
            Some(text) => Some(serde_json::from_str(text).map_err(|_| corrupt("arguments"))?),
            None => None,
        };
        let micros = |v: i64, what| u64::try_from(v).map_err(|_| corrupt(what));
        let record = AuditRecord {
            time,
            request_id: self.request_id,
            grant: self.grant,
            principal: self.principal,
            session: self.session,
            server: self.server,
            method: self.method,
            target: self.target,
            verdict: self.verdict,
            rule: self.rule,
            policy_version: self.policy_version,
            reason: self.reason,
            upstream: self.upstream,
            rpc_error_code: self.rpc_error_code,
            gateway_micros: micros(self.gateway_micros, "gateway_micros")?,
            upstream_micros: micros(self.upstream_micros, "upstream_micros")?,
            argument_keys,
            arguments_sha256: self.arguments_sha256,
            arguments,
        };
        Ok(StoredRecord {
            seq,
            record,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }

    /// Binds the row's values in [`COLUMNS`] order.
    pub(crate) fn bind<'q, DB>(
        self,
        q: SqlQuery<'q, DB, DB::Arguments>,
    ) -> SqlQuery<'q, DB, DB::Arguments>
    where
        DB: Database,
        String: for<'e> Encode<'e, DB> + Type<DB>,
        Option<String>: for<'e> Encode<'e, DB> + Type<DB>,
        i64: for<'e> Encode<'e, DB> + Type<DB>,
        Option<i64>: for<'e> Encode<'e, DB> + Type<DB>,
    {
        q.bind(self.seq)
            .bind(self.time)
            .bind(self.request_id)
            .bind(self.grant)
            .bind(self.principal)
            .bind(self.session)
            .bind(self.server)
            .bind(self.method)
            .bind(self.target)
            .bind(self.verdict)
            .bind(self.rule)
            .bind(self.policy_version)
            .bind(self.reason)
            .bind(self.upstream)
            .bind(self.rpc_error_code)
            .bind(self.gateway_micros)
            .bind(self.upstream_micros)
            .bind(self.argument_keys)
            .bind(self.arguments_sha256)
            .bind(self.arguments)
            .bind(self.prev_hash)
            .bind(self.hash)
    }

    /// Reads a row selected with [`select_list`]. The outer error is a row
    /// whose seq is unreadable; the inner one a row with an unreadable column.
    pub(crate) fn decode<R>(r: &R) -> Result<Result<Row, i64>, sqlx::Error>
    where
        R: sqlx::Row,
        usize: ColumnIndex<R>,
        String: for<'e> Decode<'e, R::Database> + Type<R::Database>,
        i64: for<'e> Decode<'e, R::Database> + Type<R::Database>,
    {
        let seq: i64 = r.try_get(0)?;
        let rest = || -> Result<Row, sqlx::Error> {
            Ok(Row {
                seq,
                time: r.try_get(1)?,
                request_id: r.try_get(2)?,
                grant: r.try_get(3)?,
                principal: r.try_get(4)?,
                session: r.try_get(5)?,
                server: r.try_get(6)?,
                method: r.try_get(7)?,
                target: r.try_get(8)?,
                verdict: r.try_get(9)?,
                rule: r.try_get(10)?,
                policy_version: r.try_get(11)?,
                reason: r.try_get(12)?,
                upstream: r.try_get(13)?,
                rpc_error_code: r.try_get(14)?,
                gateway_micros: r.try_get(15)?,
                upstream_micros: r.try_get(16)?,
                argument_keys: r.try_get(17)?,
                arguments_sha256: r.try_get(18)?,
                arguments: r.try_get(19)?,
                prev_hash: r.try_get(20)?,
                hash: r.try_get(21)?,
            })
        };
        Ok(rest().map_err(|_| seq))
    }
}

/// `col, col, …` as the dialect reads them back.
pub(crate) fn select_list(d: &Dialect) -> String {
    COLUMNS
        .iter()
        .map(|c| (d.select)(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT INTO audit_log (…) VALUES (…), …` for `rows` rows (built for
/// every batch: a full one has thousands of placeholders).
pub(crate) fn insert_sql(d: &Dialect, rows: usize) -> String {
    let mut sql = format!("INSERT INTO audit_log ({}) VALUES ", COLUMNS.join(", "));
    sql.reserve(rows * COLUMNS.len() * 8);
    let mut n = 0;
    for i in 0..rows {
        sql.push_str(if i > 0 { ", (" } else { "(" });
        for (j, c) in COLUMNS.iter().enumerate() {
            if j > 0 {
                sql.push_str(", ");
            }
            n += 1;
            (d.placeholder)(&mut sql, n, c);
        }
        sql.push(')');
    }
    sql
}

/// The verdict of an allowed call: the one value the verdict index leaves
/// out (`migrations/sqlite/0002_verdict_index_unallowed.sql` spells it too).
const ALLOW: &str = "allow";

/// A value to bind into a query.
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// `SELECT … FROM audit_log WHERE … ORDER BY seq … LIMIT …` for `q`.
pub(crate) fn query_sql(d: &Dialect, q: &Query) -> (String, Vec<Bind>) {
    let mut sql = format!("SELECT {} FROM audit_log WHERE TRUE", select_list(d));
    let mut binds = Vec::new();
    let mut cond = |column: &str, op: &str, value: Bind| {
        binds.push(value);
        sql.push_str(&format!(" AND {column} {op} "));
        (d.placeholder)(&mut sql, binds.len(), column);
    };
    if let Some(t) = q.since {
        cond("time", ">=", Bind::Text(rfc3339::format(t)));
    }
    if let Some(s) = q.after_seq {
        cond("seq", ">", Bind::Int(s));
    }
    let text_filters = [
        ("grant_name", &q.grant),
        ("target", &q.target),
        ("verdict", &q.verdict),
        ("server", &q.server),
    ];
    for (column, value) in text_filters {
        if let Some(v) = value {
            cond(column, "=", Bind::Text(v.clone()));
        }
    }
    if q.verdict.as_deref().is_some_and(|v| v != ALLOW) {
        // Implied by the filter, and the term SQLite must see to use the
        // partial index on the other verdicts (migration 0002).
        sql.push_str(&format!(" AND verdict <> '{ALLOW}'"));
    }
    sql.push_str(if q.newest_first {
        " ORDER BY seq DESC"
    } else {
        " ORDER BY seq ASC"
    });
    if let Some(limit) = q.limit {
        binds.push(Bind::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        sql.push_str(" LIMIT ");
        (d.placeholder)(&mut sql, binds.len(), "limit");
    }
    (sql, binds)
}

/// Binds query values in order.
pub(crate) fn bind_all<'q, DB>(
    mut q: SqlQuery<'q, DB, DB::Arguments>,
    binds: Vec<Bind>,
) -> SqlQuery<'q, DB, DB::Arguments>
where
    DB: Database,
    String: for<'e> Encode<'e, DB> + Type<DB>,
    i64: for<'e> Encode<'e, DB> + Type<DB>,
{
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s),
            Bind::Int(i) => q.bind(i),
        };
    }
    q
}

/// Runs a query built by [`query_sql`].
pub(crate) async fn fetch_query<'c, DB, E>(
    executor: E,
    d: &Dialect,
    q: &Query,
) -> Result<Vec<StoredRecord>, AuditError>
where
    DB: Database,
    E: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    usize: ColumnIndex<DB::Row>,
    String: for<'e> Decode<'e, DB> + for<'e> Encode<'e, DB> + Type<DB>,
    i64: for<'e> Decode<'e, DB> + for<'e> Encode<'e, DB> + Type<DB>,
{
    let (sql, binds) = query_sql(d, q);
    let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
        .fetch_all(executor)
        .await
        .map_err(db_error("querying"))?;
    rows.iter()
        .map(
            |r| match Row::decode(r).map_err(db_error("reading records"))? {
                Ok(row) => row.into_stored(),
                Err(seq) => Err(AuditError::Corrupt {
                    seq,
                    what: "a column",
                }),
            },
        )
        .collect()
}

/// Walks every record, in seq order, against `head` (within one snapshot:
/// the caller runs this inside a read transaction).
pub(crate) async fn walk_chain<'c, DB, E>(
    executor: E,
    d: &Dialect,
    head: ChainHead,
) -> Result<VerifyReport, AuditError>
where
    DB: Database,
    E: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    usize: ColumnIndex<DB::Row>,
    String: for<'e> Decode<'e, DB> + Type<DB>,
    i64: for<'e> Decode<'e, DB> + Type<DB>,
{
    let sql = format!("SELECT {} FROM audit_log ORDER BY seq", select_list(d));
    let mut walker = ChainWalker::new(head);
    let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(executor);
    while let Some(row) = rows.try_next().await.map_err(db_error("verifying"))? {
        let record = Row::decode(&row)
            .map_err(db_error("verifying"))?
            .map(Row::into_stored);
        let more = match record {
            Ok(Ok(r)) => walker.feed(&r),
            // Rows no writer could have produced are edits.
            Ok(Err(AuditError::Corrupt { seq, .. })) | Err(seq) => walker.feed_unreadable(seq),
            Ok(Err(e)) => return Err(e),
        };
        if !more {
            break;
        }
    }
    Ok(walker.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_sql_numbers_placeholders_across_rows() {
        let sqlite = insert_sql(&crate::sink::sqlite::DIALECT, 2);
        let values = sqlite.split(" VALUES ").nth(1).unwrap();
        let row = format!("({})", ["?"; 22].join(", "));
        assert_eq!(values, format!("{row}, {row}"));
        let pg = insert_sql(&crate::sink::postgres::DIALECT, 2);
        assert!(pg.contains("($1, $2::timestamptz, $3, "), "{pg}");
        assert!(pg.contains("($23, $24::timestamptz, "), "{pg}");
        assert!(pg.ends_with("$42::json, $43, $44)"), "{pg}");
        assert_eq!(pg.matches('$').count(), 44);
    }

    #[test]
    fn query_sql_places_each_filter_and_the_limit() {
        let q = Query {
            grant: Some("ci".into()),
            limit: Some(5),
            ..Query::default()
        };
        let (sql, binds) = query_sql(&crate::sink::postgres::DIALECT, &q);
        assert!(
            sql.ends_with(" AND grant_name = $1 ORDER BY seq ASC LIMIT $2"),
            "{sql}"
        );
        assert_eq!(binds.len(), 2);
    }
}
