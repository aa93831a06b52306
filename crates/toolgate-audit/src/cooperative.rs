//! Batch work in slices. The writer shares its runtime with the data path
//! (one thread, when toolgate may use one CPU), and a batch's per-record
//! work done in one poll holds every call that arrives meanwhile: linking
//! and binding cost about 5 µs a record and freeing a committed batch about
//! 2 µs, so a 128-record batch held the thread for most of a millisecond,
//! the tail of the latency at concurrency 1. Between slices the writer
//! yields to the runtime.

/// Records handled between yields.
pub(crate) const SLICE: usize = 16;

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
}
