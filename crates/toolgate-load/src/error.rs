//! The harness's own error: everything that can stop a comparison before
//! it has numbers (a child that will not start, a session that will not
//! open). Errors of single calls are not here: they are counted, not
//! raised.

use crate::child::ChildError;
use crate::client::ClientError;
use crate::procfs::ProcError;
use crate::schedule::ScheduleError;

/// Why a run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A child process failed to start or to become ready.
    #[error(transparent)]
    Child(#[from] ChildError),
    /// Opening connections or sessions failed.
    #[error("{target}: {source}")]
    Client {
        /// Which target.
        target: String,
        /// What failed.
        source: ClientError,
    },
    /// Reading `/proc` failed.
    #[error(transparent)]
    Proc(#[from] ProcError),
    /// A bad open-loop rate.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// Writing a config file or a temporary directory failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A setting makes no sense.
    #[error("{0}")]
    Usage(String),
}

impl HarnessError {
    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| HarnessError::Io { what, source }
    }
}
