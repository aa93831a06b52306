//! The JSON-lines stream: one committed [`StoredRecord`] per line, for log
//! shippers. Written after the sink commits, flushed per batch. The sink is
//! the record of truth: when the stream fails, the error is logged and
//! counted and the sink still has the batch.

use std::path::PathBuf;

use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::error::AuditError;
use crate::record::StoredRecord;

/// Where the JSON lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonlTarget {
    /// The process's standard output.
    Stdout,
    /// A file, appended to (created if missing).
    File(PathBuf),
}

impl JsonlTarget {
    /// Opens the target once, so a bad path is reported at startup rather
    /// than logged by the writer later.
    pub async fn check(&self) -> Result<(), AuditError> {
        self.open()
            .await
            .map(drop)
            .map_err(|source| AuditError::Io {
                during: "opening the JSON-lines file",
                source,
            })
    }

    async fn open(&self) -> std::io::Result<Box<dyn AsyncWrite + Send + Unpin>> {
        Ok(match self {
            JsonlTarget::Stdout => Box::new(tokio::io::stdout()),
            JsonlTarget::File(path) => Box::new(
                tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await?,
            ),
        })
    }
}

/// The open stream; reopened on the next batch after a failure.
pub(super) struct Jsonl {
    target: JsonlTarget,
    out: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    failing: bool,
}

impl Jsonl {
    pub(super) fn new(target: JsonlTarget) -> Jsonl {
        Jsonl {
            target,
            out: None,
            failing: false,
        }
    }

    /// Writes and flushes one batch; logs the first failure of a run of them.
    pub(super) async fn write(&mut self, stored: &[StoredRecord]) -> Result<(), ()> {
        match self.try_write(stored).await {
            Ok(()) => {
                self.failing = false;
                Ok(())
            }
            Err(e) => {
                self.out = None;
                if !self.failing {
                    tracing::error!(error = %e, "audit JSON lines not written (the sink has them)");
                }
                self.failing = true;
                Err(())
            }
        }
    }

    async fn try_write(&mut self, stored: &[StoredRecord]) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(stored.len() * 512);
        for r in stored {
            serde_json::to_writer(&mut buf, r)?;
            buf.push(b'\n');
        }
        let out = match &mut self.out {
            Some(out) => out,
            None => self.out.insert(self.target.open().await?),
        };
        out.write_all(&buf).await?;
        out.flush().await
    }
}
