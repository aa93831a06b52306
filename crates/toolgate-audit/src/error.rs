//! The audit log's errors. None of them print argument values or secrets:
//! database messages are reduced to the server's message and code, and
//! connection settings are never echoed.

/// Why an audit operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The sink URL is not one the audit log understands.
    #[error("invalid audit sink URL: {0}")]
    InvalidSinkUrl(&'static str),
    /// The database refused or could not be reached.
    #[error("audit database error while {during}: {detail}")]
    Database {
        /// What the sink was doing.
        during: &'static str,
        /// What went wrong, without connection settings.
        detail: String,
    },
    /// Creating or upgrading the schema failed.
    #[error("audit schema migration failed: {0}")]
    Migrate(String),
    /// A stored record cannot be read back (its row was altered by hand).
    #[error("audit record {seq} cannot be read: {what}")]
    Corrupt {
        /// The record.
        seq: i64,
        /// Which part is unreadable.
        what: &'static str,
    },
    /// The writer has stopped; nothing more can be submitted.
    #[error("the audit writer has stopped")]
    Stopped,
    /// Writing the JSON-lines stream failed.
    #[error("audit log I/O error while {during}: {source}")]
    Io {
        /// What the writer was doing.
        during: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Longest database message kept in an error.
const MAX_DETAIL: usize = 300;

/// Maps a sqlx error to [`AuditError::Database`], keeping only what is safe
/// to log.
pub(crate) fn db_error(during: &'static str) -> impl FnOnce(sqlx::Error) -> AuditError {
    move |e| {
        let detail = match &e {
            sqlx::Error::Database(d) => match d.code() {
                Some(code) => format!("{} (SQLSTATE {code})", d.message()),
                None => d.message().to_string(),
            },
            // May echo parts of the connection URL.
            sqlx::Error::Configuration(_) => "invalid connection settings".to_string(),
            other => other.to_string(),
        };
        database(during, detail)
    }
}

/// Maps an error of the SQLite appending thread's connection (rusqlite's
/// message: SQLite's own text, which holds no bound value).
pub(crate) fn sqlite_error(during: &'static str) -> impl FnOnce(rusqlite::Error) -> AuditError {
    move |e| database(during, e.to_string())
}

/// [`AuditError::Database`] with `detail` cut to [`MAX_DETAIL`] bytes.
fn database(during: &'static str, mut detail: String) -> AuditError {
    detail.truncate(detail.floor_char_boundary(MAX_DETAIL));
    AuditError::Database { during, detail }
}

/// Maps a migration error to [`AuditError::Migrate`].
pub(crate) fn migrate_error(e: sqlx::migrate::MigrateError) -> AuditError {
    match e {
        sqlx::migrate::MigrateError::Execute(e) => match db_error("migrating")(e) {
            AuditError::Database { detail, .. } => AuditError::Migrate(detail),
            other => other,
        },
        other => AuditError::Migrate(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_details_are_cut_on_a_character_boundary() {
        let e = sqlite_error("appending")(rusqlite::Error::InvalidQuery);
        assert!(matches!(e, AuditError::Database { .. }));
        let AuditError::Database { detail, .. } = database("appending", "é".repeat(400)) else {
            unreachable!()
        };
        assert_eq!(detail.len(), MAX_DETAIL);
        assert!(detail.chars().all(|c| c == 'é'));
    }

    #[test]
    fn configuration_errors_do_not_echo_settings() {
        let e = db_error("connecting")(sqlx::Error::Configuration("postgres://u:hunter2@h".into()));
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
