//! Times as stored: whole milliseconds since the Unix epoch.

use std::time::{Duration, SystemTime};

/// Milliseconds since the Unix epoch (0 for earlier times, saturating).
pub(crate) fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time `ms` milliseconds after the Unix epoch.
pub(crate) fn from_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

/// [`to_ms`] for SQL's signed integers.
pub(crate) fn to_ms_i64(t: SystemTime) -> i64 {
    i64::try_from(to_ms(t)).unwrap_or(i64::MAX)
}

/// [`from_ms`] for SQL's signed integers; negative is corrupt.
pub(crate) fn from_ms_i64(ms: i64) -> Option<SystemTime> {
    u64::try_from(ms).ok().map(from_ms)
}
