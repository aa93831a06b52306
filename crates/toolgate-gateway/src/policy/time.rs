//! Times for people: RFC 3339 in UTC and "in 43s".

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2026-11-24T12:01:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// "in 43s", "in 2m 5s", "now".
pub fn describe_wait(now: SystemTime, until: SystemTime) -> String {
    let wait = until.duration_since(now).unwrap_or(Duration::ZERO);
    let s = wait.as_secs() + u64::from(wait.subsec_millis() > 0);
    match s {
        0 => "now".into(),
        1..=59 => format!("in {s}s"),
        60..=3599 => format!("in {}m {}s", s / 60, s % 60),
        _ => format!("in {}h {}m", s / 3600, s % 3600 / 60),
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_795_521_660)), "2026-11-24T12:01:00Z");
        assert_eq!(describe_wait(at(10), at(53)), "in 43s");
        assert_eq!(describe_wait(at(10), at(135)), "in 2m 5s");
        assert_eq!(describe_wait(at(10), at(5)), "now");
        assert_eq!(describe_wait(at(0), at(3600 * 5 + 60)), "in 5h 1m");
    }
}
