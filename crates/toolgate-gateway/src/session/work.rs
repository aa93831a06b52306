//! A request's work (policy, upstream exchange, audit), run where its
//! answer is awaited.
//!
//! The HTTP handler waiting for a JSON reply polls the work in its own
//! task: no task is spawned for it and no wake-up crosses tasks when the
//! answer is ready. A request must not end with the HTTP exchange that
//! brought it, though (a sessionful client may resume the stream; the
//! audit record and the limit settlement must happen): when the waiter
//! stops before the work is done, because its reply became an SSE stream
//! or the client went away, the rest of the work moves to a task of its
//! own.

use crate::slot::{Slot, poll_slot};
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};

/// Work that finishes in a task of its own if the waiter drops it first.
#[must_use = "run the work beside its reply, or detach it"]
pub struct Work(Slot);

impl Work {
    pub(crate) fn new(fut: impl Future<Output = ()> + Send + 'static) -> Work {
        Work(Some(Box::pin(fut)))
    }

    /// Runs the work in a task of its own, now.
    pub fn detach(self) {
        drop(self);
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let Some(fut) = self.0.take() else { return };
        // Outside a runtime (its shutdown) the work is dropped, as a
        // spawned task would be.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(fut);
        }
    }
}

/// Awaits `reply` while polling `works` in the same task. Work still
/// unfinished when the reply is ready is left in `works`; dropping it
/// detaches it.
pub async fn beside<F: Future>(works: &mut [Work], reply: F) -> F::Output {
    let mut reply: Pin<&mut F> = pin!(reply);
    poll_fn(|cx| {
        // The work first: the answer it delivers is then seen by the
        // reply's poll right after, without another round. A work that
        // panicked is gone from its slot: `Drop` has nothing to spawn.
        for w in works.iter_mut() {
            poll_slot(&mut w.0, cx);
        }
        reply.as_mut().poll(cx)
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::oneshot;

    use super::*;

    #[tokio::test]
    async fn work_runs_in_the_waiting_task_until_the_reply_is_ready() {
        let (tx, rx) = oneshot::channel();
        let mut works = vec![Work::new(async move {
            tokio::task::yield_now().await;
            let _ = tx.send(7);
        })];
        let got = beside(&mut works, rx).await;
        assert_eq!(got.ok(), Some(7));
        assert!(works[0].0.is_none(), "the work finished in place");
    }

    #[tokio::test]
    async fn unfinished_work_goes_on_in_a_task_of_its_own_when_dropped() {
        let steps = Arc::new(AtomicUsize::new(0));
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = oneshot::channel();
        let s = steps.clone();
        let mut works = vec![Work::new(async move {
            s.fetch_add(1, Ordering::SeqCst);
            let _ = go_rx.await;
            s.fetch_add(1, Ordering::SeqCst);
            let _ = done_tx.send(());
        })];
        // The reply is ready at once: the work has started, not finished.
        beside(&mut works, std::future::ready(())).await;
        assert_eq!(steps.load(Ordering::SeqCst), 1);
        drop(works);
        go_tx.send(()).expect("the detached work still waits");
        done_rx.await.expect("the detached work finished");
        assert_eq!(steps.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn work_that_panicked_is_not_run_again_when_dropped() {
        let mut works = vec![Work::new(async {
            panic!("a bug in the request's work");
        })];
        let waiting =
            std::panic::AssertUnwindSafe(beside(&mut works, std::future::pending::<()>()));
        let unwound = futures_util::FutureExt::catch_unwind(waiting).await;
        assert!(unwound.is_err(), "the panic reaches the waiter");
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        drop(works);
        assert_eq!(metrics.num_alive_tasks(), before, "nothing spawned");
    }

    #[tokio::test]
    async fn detach_runs_work_nobody_waits_for() {
        let (tx, rx) = oneshot::channel();
        Work::new(async move {
            let _ = tx.send(());
        })
        .detach();
        rx.await.expect("the detached work ran");
    }
}
