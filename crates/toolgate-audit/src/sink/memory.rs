//! A sink in memory: for tests, and (keeping nothing) for `audit: none`.

use futures_util::future::BoxFuture;
use parking_lot::Mutex;

use super::{AppendError, Query, Sink};
use crate::chain::{ChainHead, ChainWalker, VerifyReport};
use crate::error::AuditError;
use crate::record::{AuditRecord, StoredRecord};

/// Chains records in memory; keeps them (for tests) or not (`audit: none`,
/// where the JSON-lines stream still gets seq and hashes).
#[derive(Debug)]
pub struct MemorySink {
    state: Mutex<State>,
    keep: bool,
}

#[derive(Debug)]
struct State {
    head: ChainHead,
    records: Vec<StoredRecord>,
}

impl MemorySink {
    /// A sink that keeps every record (unbounded: for tests).
    pub fn new() -> MemorySink {
        MemorySink::with_keep(true)
    }

    /// A sink that chains records and keeps none.
    pub fn discarding() -> MemorySink {
        MemorySink::with_keep(false)
    }

    fn with_keep(keep: bool) -> MemorySink {
        let state = State {
            head: ChainHead::genesis(),
            records: Vec::new(),
        };
        MemorySink {
            state: Mutex::new(state),
            keep,
        }
    }

    /// Every record kept, in chain order.
    pub fn records(&self) -> Vec<StoredRecord> {
        self.state.lock().records.clone()
    }
}

impl Default for MemorySink {
    fn default() -> Self {
        MemorySink::new()
    }
}

impl Sink for MemorySink {
    fn append(
        &self,
        records: Vec<AuditRecord>,
    ) -> BoxFuture<'_, Result<Vec<StoredRecord>, AppendError>> {
        let mut state = self.state.lock();
        let stored = state.head.link(records);
        if self.keep {
            state.records.extend(stored.iter().cloned());
        }
        Box::pin(std::future::ready(Ok(stored)))
    }

    fn query<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, Result<Vec<StoredRecord>, AuditError>> {
        let found = q.select(self.state.lock().records.iter());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn verify(&self) -> BoxFuture<'_, Result<VerifyReport, AuditError>> {
        let state = self.state.lock();
        // A discarding sink has nothing to walk; its chain is vouched for by
        // whoever kept the JSON lines.
        let head = if self.keep {
            state.head.clone()
        } else {
            ChainHead::genesis()
        };
        let mut walker = ChainWalker::new(head);
        for r in &state.records {
            if !walker.feed(r) {
                break;
            }
        }
        Box::pin(std::future::ready(Ok(walker.finish())))
    }

    fn kind(&self) -> &'static str {
        if self.keep { "memory" } else { "none" }
    }
}
