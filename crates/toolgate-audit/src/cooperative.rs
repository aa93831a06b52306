//! Batch work in slices. The writer shares its runtime with the data path
//! (one thread, when toolgate may use one CPU), and a batch's per-record
//! work done in one poll holds every call that arrives meanwhile: linking
//! and binding cost about 5 µs a record and freeing a committed batch about
//! 2 µs, so a 128-record batch held the thread for most of a millisecond,
//! the tail of the latency at concurrency 1. Building the records the
//! gateway queues unbuilt (`AuditWriter::submit_later`) is the same kind
//! of work. Between slices the writer yields to the runtime.

use crate::record::AuditRecord;
use crate::writer::Queued;

/// Records handled between yields.
pub(crate) const SLICE: usize = 16;

/// Builds the records queued to be built later ([`Queued::Later`])
/// [`SLICE`] at a time, yielding between slices; built ones cost nothing.
pub(crate) async fn build_in_slices(queued: Vec<Queued>) -> Vec<AuditRecord> {
    let mut built = Vec::with_capacity(queued.len());
    let mut since_yield = 0;
    for q in queued {
        if matches!(q, Queued::Later(_)) {
            if since_yield == SLICE {
                tokio::task::yield_now().await;
                since_yield = 0;
            }
            since_yield += 1;
        }
        built.push(q.build());
    }
    built
}

/// Drops `items` [`SLICE`] at a time, yielding between slices.
pub(crate) async fn free_in_slices<T>(mut items: Vec<T>) {
    while !items.is_empty() {
        items.truncate(items.len().saturating_sub(SLICE));
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};

    use futures_util::task::noop_waker_ref;

    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[tokio::test]
    async fn frees_everything_a_slice_per_poll() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let items: Vec<_> = (0..SLICE * 2 + 3)
            .map(|_| Counted(dropped.clone()))
            .collect();
        let mut free = std::pin::pin!(free_in_slices(items));
        let mut poll = || {
            free.as_mut()
                .poll(&mut Context::from_waker(noop_waker_ref()))
        };
        // Each poll frees one slice and yields.
        assert!(poll().is_pending());
        assert_eq!(dropped.load(Ordering::Relaxed), SLICE);
        assert!(poll().is_pending());
        assert_eq!(dropped.load(Ordering::Relaxed), SLICE * 2);
        assert!(poll().is_pending());
        assert_eq!(poll(), Poll::Ready(()));
        assert_eq!(dropped.load(Ordering::Relaxed), SLICE * 2 + 3);
    }

    #[tokio::test]
    async fn builds_queued_records_a_slice_per_poll_in_order() {
        use crate::record::tests::full_record;
        let built = Arc::new(AtomicUsize::new(0));
        let later = |n: usize| {
            let built = built.clone();
            Queued::Later(Box::new(move || {
                built.fetch_add(1, Ordering::Relaxed);
                let mut r = full_record();
                r.request_id = n.to_string();
                r
            }))
        };
        // A built record between them: no building, so it counts for no
        // slice.
        let mut queued: Vec<Queued> = (0..SLICE).map(later).collect();
        queued.push(Queued::Built(full_record()));
        queued.extend((SLICE..SLICE * 2 + 1).map(later));
        let mut build = std::pin::pin!(build_in_slices(queued));
        let mut poll = || {
            build
                .as_mut()
                .poll(&mut Context::from_waker(noop_waker_ref()))
        };
        assert!(poll().is_pending());
        assert_eq!(built.load(Ordering::Relaxed), SLICE);
        assert!(poll().is_pending());
        assert_eq!(built.load(Ordering::Relaxed), SLICE * 2);
        let Poll::Ready(records) = poll() else {
            panic!("three slices")
        };
        assert_eq!(built.load(Ordering::Relaxed), SLICE * 2 + 1);
        let ids: Vec<&str> = records.iter().map(|r| r.request_id.as_str()).collect();
        let mut want: Vec<String> = (0..SLICE).map(|n| n.to_string()).collect();
        want.push("boot-1".into());
        want.extend((SLICE..SLICE * 2 + 1).map(|n| n.to_string()));
        assert_eq!(ids, want);
    }
}
