//! The stores' one error type. No variant prints a token, argument values
//! or a connection password: database messages are reduced to the
//! server's message and code, and connection settings are never echoed.

/// Why a state operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The store is down, too slow, or refused the operation; callers fail
    /// closed.
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// No such approval or grant.
    #[error("not found")]
    NotFound,
    /// The approval was already approved or denied.
    #[error("already decided")]
    AlreadyDecided,
    /// The approval expired before it was decided.
    #[error("expired")]
    Expired,
    /// Something unique exists already (what, without secrets).
    #[error("duplicate {0}")]
    Duplicate(String),
    /// Stored data cannot be read back.
    #[error("corrupt stored state: {0}")]
    Corrupt(String),
}

/// Longest database message kept in an error.
const MAX_DETAIL: usize = 300;

/// Maps a sqlx error to [`StateError::Unavailable`], keeping only what is
/// safe to log. Unique violations are the caller's to recognize first.
pub(crate) fn db_error(during: &'static str) -> impl FnOnce(sqlx::Error) -> StateError {
    move |e| {
        let mut detail = match &e {
            sqlx::Error::Database(d) => match d.code() {
                Some(code) => format!("{} (SQLSTATE {code})", d.message()),
                None => d.message().to_string(),
            },
            // May echo parts of the connection URL.
            sqlx::Error::Configuration(_) => "invalid connection settings".to_string(),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                return StateError::Corrupt(format!("{during}: {e}"));
            }
            other => other.to_string(),
        };
        truncate(&mut detail);
        StateError::Unavailable(format!("{during}: {detail}"))
    }
}

/// Maps a migration error: the schema could not be created or upgraded.
pub(crate) fn migrate_error(e: sqlx::migrate::MigrateError) -> StateError {
    match e {
        sqlx::migrate::MigrateError::Execute(e) => db_error("migrating the schema")(e),
        other => {
            let mut detail = other.to_string();
            truncate(&mut detail);
            StateError::Unavailable(format!("migrating the schema: {detail}"))
        }
    }
}

fn truncate(detail: &mut String) {
    detail.truncate(detail.floor_char_boundary(MAX_DETAIL));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_do_not_echo_settings() {
        let e = db_error("connecting")(sqlx::Error::Configuration("postgres://u:hunter2@h".into()));
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(matches!(e, StateError::Unavailable(_)));
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let mut s = "é".repeat(400);
        truncate(&mut s);
        assert!(s.len() <= MAX_DETAIL);
    }
}
