//! The open-loop send schedule.
//!
//! An open-loop client sends call `k` at `start + k / rate` whatever
//! happened to the calls before it, and measures each call's latency from
//! that intended time, not from when it actually went out. A client that
//! waits for a slow answer before sending the next call (or that starts the
//! clock only once it gets round to sending) leaves out exactly the calls a
//! stall delays: that is coordinated omission, and it hides tails.

use std::time::Duration;

use tokio::time::Instant;

/// Why a schedule cannot be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScheduleError {
    /// The rate is zero, negative or not a number.
    #[error("rate must be a positive number of calls per second, not {0}")]
    BadRate(f64),
}

/// Call `k` is due at `start + k / rate`.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    start: Instant,
    rate: f64,
}

impl Schedule {
    /// A schedule of `rate` calls per second from `start`.
    pub fn new(start: Instant, rate: f64) -> Result<Self, ScheduleError> {
        if rate.is_finite() && rate > 0.0 {
            Ok(Self { start, rate })
        } else {
            Err(ScheduleError::BadRate(rate))
        }
    }

    /// When call `k` (0-based) should be sent. Computed from `k` rather than
    /// by adding intervals, so rounding never accumulates.
    pub fn intended(&self, k: u64) -> Instant {
        self.start + Duration::from_secs_f64(k as f64 / self.rate)
    }

    /// How many calls are due at or before `now`.
    pub fn due_by(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_secs_f64();
        // Call k is due when k / rate <= elapsed; k = 0 is due at start.
        (elapsed * self.rate).floor() as u64 + 1
    }

    /// How many calls fall in the first `duration` (the calls a run of that
    /// length sends).
    pub fn calls_within(&self, duration: Duration) -> u64 {
        (duration.as_secs_f64() * self.rate).ceil() as u64
    }

    /// The latency of a call due at `intended` that completed at `done`.
    pub fn latency(intended: Instant, done: Instant) -> Duration {
        done.saturating_duration_since(intended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_rates() {
        let now = Instant::now();
        for r in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Schedule::new(now, r).is_err(), "{r}");
        }
    }

    #[test]
    fn evenly_spaced_without_drift() {
        let start = Instant::now();
        let s = Schedule::new(start, 1_000.0).unwrap();
        assert_eq!(s.intended(0), start);
        assert_eq!(s.intended(1), start + Duration::from_millis(1));
        assert_eq!(s.intended(1_000), start + Duration::from_secs(1));
        // A rate whose interval is not a whole number of nanoseconds.
        let s = Schedule::new(start, 3.0).unwrap();
        assert_eq!(
            s.intended(3_000_000),
            start + Duration::from_secs(1_000_000)
        );
    }

    #[test]
    fn due_counts() {
        let start = Instant::now();
        let s = Schedule::new(start, 100.0).unwrap();
        assert_eq!(s.due_by(start), 1);
        assert_eq!(s.due_by(start + Duration::from_micros(9_999)), 1);
        assert_eq!(s.due_by(start + Duration::from_millis(10)), 2);
        assert_eq!(s.due_by(start + Duration::from_secs(1)), 101);
        assert_eq!(s.calls_within(Duration::from_secs(5)), 500);
    }

    #[test]
    fn latency_counts_from_the_intended_time() {
        // Call 10 at 1,000/s was due at +10 ms. The sender stalled and sent
        // it at +30 ms; it completed at +31 ms. Its latency is 21 ms, not 1.
        let start = Instant::now();
        let s = Schedule::new(start, 1_000.0).unwrap();
        let done = start + Duration::from_millis(31);
        assert_eq!(
            Schedule::latency(s.intended(10), done),
            Duration::from_millis(21)
        );
        assert_eq!(Schedule::latency(done, s.intended(10)), Duration::ZERO);
    }
}
