//! The two ways to apply load.
//!
//! - **Closed loop**: `n` callers, each sending its next call as soon as
//!   the previous one is answered. Measures capacity at a concurrency.
//! - **Open loop**: calls leave on a fixed schedule whatever happens to the
//!   earlier ones (see [`crate::schedule`]), through a pool of callers;
//!   a call waiting for a free caller is already late, and its latency
//!   counts from when it was due.
//!
//! Both are generic over [`Caller`] so they can be tested without sockets.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::histogram::Latencies;
use crate::schedule::{Schedule, ScheduleError};

/// Error samples kept per run (the count is always exact).
const KEPT_ERRORS: usize = 5;

/// Something that makes one call and checks its answer.
pub trait Caller: Send + 'static {
    /// Why a call failed.
    type Error: std::fmt::Display + Send;
    /// Makes call `id` (unique within a run) and checks the answer.
    fn call(&mut self, id: u64) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// What one run measured.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Latencies of the calls that succeeded.
    pub latencies: Latencies,
    /// Calls that succeeded.
    pub ok: u64,
    /// Calls that failed (transport, HTTP, JSON-RPC or content).
    pub errors: u64,
    /// The first few error messages.
    pub error_samples: Vec<String>,
    /// From the first send to the last answer.
    pub elapsed: Duration,
    /// Open loop: how late the sender itself sent each call (the
    /// generator's own precision, not the target's latency).
    pub send_lag: Latencies,
}

impl Outcome {
    /// Successful calls per second.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// Adds another run (rounds of the same target and level).
    pub fn merge(&mut self, other: &Outcome) {
        self.latencies.merge(&other.latencies);
        self.send_lag.merge(&other.send_lag);
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        for e in &other.error_samples {
            self.keep_error(e.clone());
        }
    }

    fn record<E: std::fmt::Display>(&mut self, latency: Duration, result: Result<(), E>) {
        match result {
            Ok(()) => {
                self.ok += 1;
                self.latencies.record(latency);
            }
            Err(e) => {
                self.errors += 1;
                self.keep_error(e.to_string());
            }
        }
    }

    fn keep_error(&mut self, e: String) {
        if self.error_samples.len() < KEPT_ERRORS && !self.error_samples.contains(&e) {
            self.error_samples.push(e);
        }
    }
}

/// Call ids, unique across every run that shares the counter.
#[derive(Clone, Debug, Default)]
pub struct Ids(Arc<AtomicU64>);

impl Ids {
    /// The next id (starting at 1).
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Runs every caller in its own task, back to back, for `duration`.
pub async fn closed_loop<C: Caller>(callers: Vec<C>, duration: Duration, ids: &Ids) -> Outcome {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = JoinSet::new();
    for mut caller in callers {
        let ids = ids.clone();
        tasks.spawn(async move {
            let mut out = Outcome::default();
            while Instant::now() < deadline {
                let id = ids.next();
                let sent = Instant::now();
                let result = caller.call(id).await;
                out.record(sent.elapsed(), result);
            }
            out
        });
    }
    let mut total = Outcome::default();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(out) => total.merge(&out),
            Err(e) => {
                total.errors += 1;
                total.keep_error(format!("caller task failed: {e}"));
            }
        }
    }
    total.elapsed = start.elapsed();
    total
}

/// Open-loop settings.
#[derive(Clone, Copy, Debug)]
pub struct OpenLoop {
    /// Calls per second.
    pub rate: f64,
    /// How long calls are sent.
    pub duration: Duration,
    /// How long to wait for the last answers before counting them failed.
    pub grace: Duration,
    /// Spend the last moments before each send yielding instead of
    /// sleeping. tokio's timers tick in milliseconds, so a sleeping sender
    /// would let calls leave up to 1 ms late, and since latency counts from
    /// the intended time that would be charged to the target. Off in tests
    /// with paused time (a yielding task would never let the clock move).
    pub spin: bool,
}

/// How close to a send the sender stops sleeping and starts yielding.
const SPIN_WINDOW: Duration = Duration::from_millis(2);

/// Waits until `due`: on the timer until shortly before, then (with `spin`)
/// yielding, which still lets the runtime poll sockets and timers.
async fn wait_until(due: Instant, spin: bool) {
    if !spin {
        tokio::time::sleep_until(due).await;
        return;
    }
    if let Some(early) = due.checked_sub(SPIN_WINDOW)
        && Instant::now() < early
    {
        tokio::time::sleep_until(early).await;
    }
    while Instant::now() < due {
        tokio::task::yield_now().await;
    }
}

struct Pool<C> {
    idle: Mutex<Vec<C>>,
    free: Semaphore,
}

/// Sends calls at `cfg.rate` for `cfg.duration` through `callers` (at most
/// one call in flight per caller), measuring each from its intended time.
pub async fn open_loop<C: Caller>(
    callers: Vec<C>,
    cfg: OpenLoop,
    ids: &Ids,
) -> Result<Outcome, ScheduleError> {
    let start = Instant::now();
    let schedule = Schedule::new(start, cfg.rate)?;
    let pool = Arc::new(Pool {
        free: Semaphore::new(callers.len()),
        idle: Mutex::new(callers),
    });
    let mut tasks = JoinSet::new();
    let mut total = Outcome::default();
    for k in 0..schedule.calls_within(cfg.duration) {
        let due = schedule.intended(k);
        wait_until(due, cfg.spin).await;
        total
            .send_lag
            .record(Instant::now().saturating_duration_since(due));
        let (pool, id) = (Arc::clone(&pool), ids.next());
        tasks.spawn(async move {
            let Ok(_permit) = pool.free.acquire().await else {
                return (Duration::ZERO, Err("caller pool closed".to_owned()));
            };
            let Some(mut caller) = pool.idle.lock().pop() else {
                return (Duration::ZERO, Err("no idle caller".to_owned()));
            };
            let result = caller.call(id).await.map_err(|e| e.to_string());
            let latency = Schedule::latency(due, Instant::now());
            pool.idle.lock().push(caller);
            (latency, result)
        });
        // Collect finished calls as we go so the set stays small.
        while let Some(done) = tasks.try_join_next() {
            record_task(&mut total, done);
        }
    }
    let drain = async {
        while let Some(done) = tasks.join_next().await {
            record_task(&mut total, done);
        }
    };
    if tokio::time::timeout(cfg.grace, drain).await.is_err() {
        let late = tasks.len() as u64;
        tasks.abort_all();
        total.errors += late;
        total.keep_error(format!(
            "{late} calls unanswered {:?} after the run",
            cfg.grace
        ));
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

fn record_task(
    total: &mut Outcome,
    done: Result<(Duration, Result<(), String>), tokio::task::JoinError>,
) {
    match done {
        Ok((latency, result)) => total.record(latency, result),
        Err(e) => total.record(Duration::ZERO, Err(format!("call task failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller whose every call takes `delay` (tokio time) and fails when
    /// the id is divisible by `fail_every`.
    struct Fake {
        delay: Duration,
        fail_every: u64,
    }

    impl Caller for Fake {
        type Error = String;
        async fn call(&mut self, id: u64) -> Result<(), String> {
            tokio::time::sleep(self.delay).await;
            if id.is_multiple_of(self.fail_every) {
                Err(format!("call {id} failed"))
            } else {
                Ok(())
            }
        }
    }

    fn fakes(n: usize, delay_ms: u64) -> Vec<Fake> {
        (0..n)
            .map(|_| Fake {
                delay: Duration::from_millis(delay_ms),
                fail_every: u64::MAX,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn closed_loop_throughput_is_concurrency_over_latency() {
        let out = closed_loop(fakes(4, 10), Duration::from_secs(1), &Ids::default()).await;
        // 4 callers × 100 calls of 10 ms each.
        assert_eq!(out.ok, 400);
        assert_eq!(out.errors, 0);
        assert_eq!(out.elapsed, Duration::from_secs(1));
        assert!((out.throughput() - 400.0).abs() < 1e-9);
        assert_eq!(
            out.latencies.clone().quantile(0.99),
            Duration::from_millis(10)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn closed_loop_counts_errors_apart() {
        let callers = vec![Fake {
            delay: Duration::from_millis(1),
            fail_every: 10,
        }];
        let out = closed_loop(callers, Duration::from_millis(100), &Ids::default()).await;
        assert_eq!(out.ok + out.errors, 100);
        assert_eq!(out.errors, 10);
        assert_eq!(out.latencies.count(), 90);
        assert_eq!(out.error_samples.len(), KEPT_ERRORS);
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_keeps_its_rate_when_the_server_keeps_up() {
        let cfg = OpenLoop {
            rate: 100.0,
            duration: Duration::from_secs(1),
            grace: Duration::from_secs(1),
            spin: false,
        };
        let out = open_loop(fakes(2, 5), cfg, &Ids::default()).await.unwrap();
        assert_eq!(out.ok, 100);
        let mut l = out.latencies.clone();
        assert_eq!(l.quantile(1.0), Duration::from_millis(5));
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_charges_the_wait_to_the_late_calls() {
        // One caller, 10 ms per call, 200 calls/s for 100 ms: 20 calls due
        // every 5 ms but served one per 10 ms. Call k waits for the k
        // before it: it completes at (k+1)·10 ms but was due at k·5 ms, so
        // its latency is 10 + 5k ms. A closed-loop clock would say 10 ms.
        let cfg = OpenLoop {
            rate: 200.0,
            duration: Duration::from_millis(100),
            grace: Duration::from_secs(10),
            spin: false,
        };
        let out = open_loop(fakes(1, 10), cfg, &Ids::default()).await.unwrap();
        assert_eq!(out.ok, 20);
        let mut l = out.latencies.clone();
        assert_eq!(l.quantile(0.0), Duration::from_millis(10));
        assert_eq!(l.quantile(1.0), Duration::from_millis(10 + 5 * 19));
        assert_eq!(out.elapsed, Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_gives_up_after_the_grace_period() {
        let cfg = OpenLoop {
            rate: 10.0,
            duration: Duration::from_millis(500),
            grace: Duration::from_millis(100),
            spin: false,
        };
        let out = open_loop(fakes(1, 1_000), cfg, &Ids::default())
            .await
            .unwrap();
        assert_eq!(out.ok + out.errors, 5);
        assert!(out.errors >= 4, "{out:?}");
    }

    #[test]
    fn ids_are_unique_and_start_at_one() {
        let ids = Ids::default();
        let other = ids.clone();
        assert_eq!(ids.next(), 1);
        assert_eq!(other.next(), 2);
    }
}
