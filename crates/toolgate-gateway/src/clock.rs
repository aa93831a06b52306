//! Wall-clock time, injected. Timers use `tokio::time` (pausable in
//! tests); anything that decides by the calendar asks a [`Clock`].
//!
//! The clock is the one `toolgate-oauth` defines (it checks token expiry
//! against it), so the gateway and its validators share one type and one
//! place that reads the system time.

pub use toolgate_oauth::{Clock, ManualClock, SystemClock};
