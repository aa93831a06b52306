//! Counter stores for toolgate's limits.
//!
//! A [`CounterStore`] reserves a set of [`Charge`]s atomically: either every
//! counter has room and all are charged, or none is and the first that is
//! full is reported. A reservation can be given back (the upstream call
//! failed). Time is a parameter: a store reads no clock of this process.
//!
//! The store knows nothing of policies: the gateway turns a policy's limit
//! checks into charges.
//!
//! Two stores: [`MemoryStore`] keeps counters in this process (exact, lost
//! on restart, one per replica), and [`RedisStore`] keeps them in Redis so
//! that every replica shares them. The Redis store decides in one round
//! trip (an atomic Lua script), takes its time from the Redis server
//! instead of the `now` it is given (replicas' clocks differ, and the
//! counters' keys expire on the server's), and answers
//! [`LimitError::Unavailable`] within its timeout when Redis is down or
//! slow, reconnecting by itself afterwards; the gateway then fails closed.
#![forbid(unsafe_code)]

mod memory;
mod redis;
pub mod redis_conn;

use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;

pub use self::redis::{RedisOptions, RedisStore, RedisUrlError};
pub use memory::MemoryStore;

/// One counter to charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    /// The counter's key (scope and counter name, prefixed by the caller).
    pub key: String,
    /// The most the counter may hold within its window.
    pub max: u64,
    /// How much this call adds.
    pub amount: u64,
    /// The window length.
    pub window: Duration,
    /// Sliding (the last `window` before now) instead of fixed, UTC-aligned
    /// windows.
    pub sliding: bool,
}

/// A counter that had no room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exceeded {
    /// Which of the charges (its index in the request).
    pub index: usize,
    /// What the counter holds now.
    pub current: u64,
    /// Its maximum.
    pub max: u64,
    /// When enough room frees up for this charge.
    pub resets_at: SystemTime,
}

/// Why a reservation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// A counter is full.
    #[error("limit reached")]
    Exceeded(Exceeded),
    /// The store could not answer (shared store unreachable or too slow).
    #[error("counter store unavailable: {0}")]
    Unavailable(String),
}

/// What a successful reservation charged, to give back on failure.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reserved {
    /// One entry per charge.
    pub items: Vec<ReservedItem>,
}

/// One charged counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservedItem {
    /// The counter's key.
    pub key: String,
    /// The amount charged.
    pub amount: u64,
    /// Identifies where it was charged: the fixed window's start (ms since
    /// the epoch) or the sliding entry's id.
    pub token: u64,
}

/// Reserves and releases counts.
pub trait CounterStore: Send + Sync + 'static {
    /// Charges every charge, or none.
    fn reserve(
        &self,
        charges: &[Charge],
        now: SystemTime,
    ) -> BoxFuture<'_, Result<Reserved, LimitError>>;

    /// Gives a reservation back. Counts charged in a window that has since
    /// ended are not touched.
    fn release(&self, reserved: Reserved) -> BoxFuture<'_, ()>;

    /// A short name for logs: `memory`, `redis`.
    fn kind(&self) -> &'static str;
}

/// Milliseconds since the Unix epoch (0 for earlier times).
pub fn millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time `ms` milliseconds after the Unix epoch.
pub fn at_millis(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}
