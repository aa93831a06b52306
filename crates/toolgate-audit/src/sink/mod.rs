//! Where records go: the [`Sink`] trait, its configuration, and queries.

mod memory;
mod postgres;
mod row;
mod sqlite;
mod sqlite_writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::future::BoxFuture;

pub use memory::MemorySink;
pub use postgres::PostgresSink;
pub use sqlite::SqliteSink;

use crate::chain::VerifyReport;
use crate::error::AuditError;
use crate::record::{AuditRecord, StoredRecord};

/// Where records go.
#[derive(Clone, PartialEq, Eq)]
pub enum SinkConfig {
    /// A SQLite file (created on first use, WAL mode).
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A PostgreSQL database (shared by a fleet of gateways).
    Postgres {
        /// The connection URL (may hold a password: never logged).
        url: String,
    },
    /// No database: records are chained but not kept (the JSON-lines
    /// stream, if any, is the only copy).
    None,
}

impl SinkConfig {
    /// Parses `sqlite://toolgate.db` (relative to `base_dir`),
    /// `sqlite:///abs/path.db`, `postgres://…` / `postgresql://…`, or `none`.
    pub fn parse(url: &str, base_dir: &Path) -> Result<SinkConfig, AuditError> {
        let url = url.trim();
        if url.eq_ignore_ascii_case("none") {
            return Ok(SinkConfig::None);
        }
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if rest.is_empty() || rest.contains('?') || rest.contains(":memory:") {
                return Err(AuditError::InvalidSinkUrl(
                    "sqlite:// needs a file path (no options, not :memory:)",
                ));
            }
            let path = Path::new(rest);
            let path = if path.is_absolute() {
                path.to_path_buf()
            } else {
                base_dir.join(path)
            };
            return Ok(SinkConfig::Sqlite { path });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(SinkConfig::Postgres {
                url: url.to_string(),
            });
        }
        Err(AuditError::InvalidSinkUrl(
            "expected sqlite://PATH, postgres://..., or none",
        ))
    }
}

/// Shows the sink without credentials: `sqlite:///path`, `postgres://host/db`.
impl fmt::Display for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkConfig::Sqlite { path } => write!(f, "sqlite://{}", path.display()),
            SinkConfig::Postgres { url } => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
                let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                write!(f, "{scheme}://{rest}")
            }
            SinkConfig::None => f.write_str("none"),
        }
    }
}

impl fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SinkConfig({self})")
    }
}

/// Opens (creating and migrating) a sink. SQLite: WAL mode, the file created
/// on first run (its directory must exist). `None`: a sink that chains
/// records and keeps none.
pub async fn open_sink(cfg: &SinkConfig) -> Result<Box<dyn Sink>, AuditError> {
    Ok(match cfg {
        SinkConfig::Sqlite { path } => Box::new(SqliteSink::open(path).await?),
        SinkConfig::Postgres { url } => Box::new(PostgresSink::connect(url).await?),
        SinkConfig::None => Box::new(MemorySink::discarding()),
    })
}

/// A store of chained records.
pub trait Sink: Send + Sync {
    /// Appends records in order, chaining each to the previous one, in one
    /// transaction; returns them as stored (normalized, with seq and hashes).
    /// Appends from several processes sharing the store stay one chain.
    /// The records are moved in, not copied; a batch that is not committed
    /// comes back whole in the error, to be tried again.
    fn append(
        &self,
        records: Vec<AuditRecord>,
    ) -> BoxFuture<'_, Result<Vec<StoredRecord>, AppendError>>;
    /// Records matching a query, in chain order (or reversed).
    fn query<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, Result<Vec<StoredRecord>, AuditError>>;
    /// Walks the whole chain (one consistent snapshot).
    fn verify(&self) -> BoxFuture<'_, Result<VerifyReport, AuditError>>;
    /// `"sqlite"`, `"postgres"`, `"memory"` or `"none"`.
    fn kind(&self) -> &'static str;
}

/// A shared sink is a sink (e.g. one writer and a reader of the same pool).
impl<S: Sink + ?Sized> Sink for Arc<S> {
    fn append(
        &self,
        records: Vec<AuditRecord>,
    ) -> BoxFuture<'_, Result<Vec<StoredRecord>, AppendError>> {
        (**self).append(records)
    }
    fn query<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, Result<Vec<StoredRecord>, AuditError>> {
        (**self).query(q)
    }
    fn verify(&self) -> BoxFuture<'_, Result<VerifyReport, AuditError>> {
        (**self).verify()
    }
    fn kind(&self) -> &'static str {
        (**self).kind()
    }
}

/// A batch a sink did not commit: why, and its records, given back (in
/// order, perhaps [normalized](AuditRecord::normalize)) for another try.
pub struct AppendError {
    /// Why the append failed.
    pub error: AuditError,
    /// The records, none of them stored.
    pub records: Vec<AuditRecord>,
}

impl AppendError {
    /// `error`, with `records` given back.
    pub fn new(error: AuditError, records: Vec<AuditRecord>) -> AppendError {
        AppendError { error, records }
    }
}

/// The error and a count: records may hold argument values, which no
/// error's output shows.
impl fmt::Debug for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppendError")
            .field("error", &self.error)
            .field("records", &self.records.len())
            .finish()
    }
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} audit records not appended", self.records.len())
    }
}

impl std::error::Error for AppendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Which records to read. Filters combine with AND; `None` matches all.
/// Results are held in memory: page through a large log with `after_seq`
/// and `limit`.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Records at or after this time.
    pub since: Option<SystemTime>,
    /// Records with a greater seq (to follow a log).
    pub after_seq: Option<i64>,
    /// This grant's records.
    pub grant: Option<String>,
    /// Records about this tool, resource or prompt.
    pub target: Option<String>,
    /// Records with this verdict.
    pub verdict: Option<String>,
    /// This server's records.
    pub server: Option<String>,
    /// At most this many (the first in the chosen order).
    pub limit: Option<usize>,
    /// Newest (highest seq) first.
    pub newest_first: bool,
}

impl Query {
    /// Whether `r` passes the filters (not `limit` or order).
    pub fn matches(&self, r: &StoredRecord) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        self.since
            .is_none_or(|t| r.record.time >= crate::rfc3339::normalize(t))
            && self.after_seq.is_none_or(|s| r.seq > s)
            && eq(&self.grant, Some(&r.record.grant))
            && eq(&self.target, r.record.target.as_deref())
            && eq(&self.verdict, Some(&r.record.verdict))
            && eq(&self.server, Some(&r.record.server))
    }

    /// The matching records of `chain` (in chain order), ordered and limited.
    pub(crate) fn select<'r>(
        &self,
        chain: impl DoubleEndedIterator<Item = &'r StoredRecord>,
    ) -> Vec<StoredRecord> {
        let matching = chain.filter(|r| self.matches(r));
        let limit = self.limit.unwrap_or(usize::MAX);
        if self.newest_first {
            matching.rev().take(limit).cloned().collect()
        } else {
            matching.take(limit).cloned().collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sink_urls() {
        let base = Path::new("/etc/toolgate");
        let sqlite = |p: &str| {
            Some(SinkConfig::Sqlite {
                path: PathBuf::from(p),
            })
        };
        assert_eq!(
            SinkConfig::parse("sqlite://toolgate.db", base).ok(),
            sqlite("/etc/toolgate/toolgate.db")
        );
        assert_eq!(
            SinkConfig::parse("sqlite:///var/a.db", base).ok(),
            sqlite("/var/a.db")
        );
        assert_eq!(
            SinkConfig::parse("sqlite:logs/a.db", base).ok(),
            sqlite("/etc/toolgate/logs/a.db")
        );
        assert_eq!(
            SinkConfig::parse(" none ", base).ok(),
            Some(SinkConfig::None)
        );
        let pg =
            SinkConfig::parse("postgresql://u:pw@db:5432/audit?sslmode=require", base).unwrap();
        assert_eq!(pg.to_string(), "postgresql://db:5432/audit");
        assert!(!format!("{pg:?}").contains("pw"));
        for bad in [
            "sqlite://",
            "sqlite::memory:",
            "sqlite://a.db?mode=ro",
            "mysql://x",
            "toolgate.db",
        ] {
            let e = SinkConfig::parse(bad, base).unwrap_err();
            assert!(matches!(e, AuditError::InvalidSinkUrl(_)), "{bad}");
        }
    }
}
