//! Keeps tokio's timer wheel from waking its own driver once per request.
//!
//! hyper arms the header-read timer (`http.header_read_timeout`) each time
//! a connection starts waiting for its next request. When tokio inserts a
//! timer earlier than the deadline its driver last parked on, or when that
//! driver parked with no timer at all, it wakes the driver: a `write` to
//! the runtime's eventfd, and one more trip through `epoll_wait`, even
//! though the thread inserting the timer is the runtime's own. Between two
//! calls on a quiet gateway the wheel is empty (each request drops its
//! header timer once the head is read), so every call paid that system
//! call and wake-up; under load the other connections' timers hide it
//! (`perf stat -e syscalls:sys_enter_write`: 1.0 a call at concurrency 1,
//! 0.16 at 8; docs/benchmarks.md).
//!
//! The anchor is a timer that always fires sooner than any header timer,
//! so the driver always parks on a deadline earlier than the ones hyper
//! inserts, and inserting them wakes nothing. It costs one wake-up per
//! period.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The longest period: an idle gateway wakes this often.
const MAX_PERIOD: Duration = Duration::from_secs(1);

/// A period shorter than `header_timeout`, so every header timer is later
/// than the anchor's next deadline.
pub(super) fn period(header_timeout: Duration) -> Duration {
    (header_timeout / 2).clamp(Duration::from_millis(1), MAX_PERIOD)
}

/// Re-arms a timer every `period` until `stop`.
pub(super) async fn run(period: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    use super::*;

    #[test]
    fn the_period_is_under_the_header_timeout() {
        assert_eq!(period(Duration::from_secs(10)), MAX_PERIOD);
        assert_eq!(period(Duration::from_secs(1)), Duration::from_millis(500));
        assert_eq!(period(Duration::from_millis(1)), Duration::from_millis(1));
    }

    /// `write` system calls this thread has made (`/proc/thread-self/io`).
    fn writes_by_this_thread() -> u64 {
        let io = std::fs::read_to_string("/proc/thread-self/io").expect("/proc/thread-self/io");
        io.lines()
            .find_map(|l| l.strip_prefix("syscw: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("syscw in /proc/thread-self/io")
    }

    /// Lets the driver park (noting its next deadline) until another
    /// thread wakes it: that thread's write, not this one's.
    async fn park_once() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1));
            let _ = tx.send(());
        });
        rx.await.expect("the waking thread sends");
    }

    /// Arms (polls once) and drops `n` ten-second timers, as hyper does
    /// with a header timer per request, between parks of the driver; the
    /// writes the thread made meanwhile.
    async fn writes_while_arming(n: u64) -> u64 {
        let before = writes_by_this_thread();
        for _ in 0..n {
            {
                let mut sleep = pin!(tokio::time::sleep(Duration::from_secs(10)));
                let mut cx = Context::from_waker(Waker::noop());
                assert!(sleep.as_mut().poll(&mut cx).is_pending());
            }
            park_once().await;
        }
        writes_by_this_thread() - before
    }

    #[tokio::test(flavor = "current_thread")]
    async fn with_the_anchor_arming_a_header_timer_writes_nothing() {
        // Without the anchor, each timer inserted into an empty wheel
        // wakes the driver: the mechanism this module exists for.
        let without = writes_while_arming(50).await;
        assert!(without >= 40, "{without} writes without the anchor");

        let stop = CancellationToken::new();
        let anchor = tokio::spawn(run(period(Duration::from_secs(10)), stop.clone()));
        tokio::task::yield_now().await;
        let with = writes_while_arming(50).await;
        stop.cancel();
        anchor.await.expect("the anchor ends");
        assert!(with <= 2, "{with} writes with the anchor");
    }
}
