//! RFC 3339 timestamps, UTC with microseconds: the one text form of time in
//! records, hashes, the database and JSON lines.
//!
//! Record times are kept to the microsecond and between 1970 and 9999, so
//! the text form is fixed-width and sorts like the time itself.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 9999-12-31T23:59:59.999999Z in microseconds since the epoch.
const MAX_MICROS: u64 = 253_402_300_799_999_999;

/// `t` truncated to the microsecond and clamped to 1970..=9999: what a record
/// keeps of its time.
pub fn normalize(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros(t))
}

fn micros(t: SystemTime) -> u64 {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    u64::try_from(since.as_micros())
        .unwrap_or(u64::MAX)
        .min(MAX_MICROS)
}

/// `t` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (after [`normalize`]).
pub fn format(t: SystemTime) -> String {
    Stamp::of(t).as_str().to_owned()
}

/// [`format`]'s text in a fixed buffer, for writing or binding where it
/// lies: the audit writer needs every record's time twice (its hash, its
/// row), and a `String` each time was an allocation each.
pub(crate) struct Stamp([u8; 27]);

impl Stamp {
    /// Digits written into the buffer (`format!` was a visible share of
    /// the writer's profile).
    pub(crate) fn of(t: SystemTime) -> Stamp {
        let us = micros(t);
        let secs = us / 1_000_000;
        let (days, sod) = (secs / 86_400, secs % 86_400);
        let (y, m, d) = civil_from_days(days);
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        put_digits(&mut b[0..4], y);
        put_digits(&mut b[5..7], m);
        put_digits(&mut b[8..10], d);
        put_digits(&mut b[11..13], sod / 3600);
        put_digits(&mut b[14..16], sod % 3600 / 60);
        put_digits(&mut b[17..19], sod % 60);
        put_digits(&mut b[20..26], us % 1_000_000);
        Stamp(b)
    }

    /// The text. Only ASCII digits and separators are ever written, so
    /// the fallback (empty) cannot be reached.
    pub(crate) fn as_str(&self) -> &str {
        debug_assert!(self.0.is_ascii());
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Writes `n`'s last `slot.len()` decimal digits, zero-padded.
fn put_digits(slot: &mut [u8], mut n: u64) {
    for c in slot.iter_mut().rev() {
        *c = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Parses an RFC 3339 timestamp (`T` or space, any fraction up to
/// nanoseconds, `Z` or a `±HH:MM` offset). `None` when malformed or before 1970.
pub fn parse(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60
    {
        return None;
    }
    let (nanos, rest) = fraction(&s[19..])?;
    let offset = offset_secs(rest)?;
    // Four digits: the day count and seconds below cannot overflow.
    let secs_of_day = (h * 3600 + mi * 60 + sec) as i64;
    let utc = days_from_civil(y, mo, d) * 86_400 + secs_of_day - offset;
    let utc = u64::try_from(utc).ok()?;
    Some(UNIX_EPOCH + Duration::new(utc, nanos))
}

/// A leading `.digits` as nanoseconds, and what follows it.
fn fraction(s: &str) -> Option<(u32, &str)> {
    let Some(frac) = s.strip_prefix('.') else {
        return Some((0, s));
    };
    let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let scaled = format!("{:0<9}", &frac[..digits]);
    Some((scaled.parse().ok()?, &frac[digits..]))
}

fn offset_secs(s: &str) -> Option<i64> {
    if s == "Z" || s == "z" {
        return Some(0);
    }
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let h: i64 = s.get(1..3)?.parse().ok()?;
    let m: i64 = s.get(4..6)?.parse().ok()?;
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn is_leap(y: u64) -> bool {
    y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400))
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `civil_from_days`, for days since 1970-01-01 (≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 (negative before).
fn days_from_civil(y: u64, m: u64, d: u64) -> i64 {
    let (y, m, d) = (y as i64, m as i64, d as i64);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `#[serde(with = "rfc3339")]` for a `SystemTime` field.
pub(crate) mod serde_micros {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*t))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        super::parse(&text).ok_or_else(|| D::Error::custom("expected an RFC 3339 timestamp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, micros * 1000)
    }

    #[test]
    fn formats_utc_with_microseconds() {
        assert_eq!(format(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format(at(1_795_521_600, 123_456)),
            "2026-11-24T12:00:00.123456Z"
        );
        assert_eq!(format(at(951_782_400, 0)), "2000-02-29T00:00:00.000000Z");
        assert_eq!(
            format(UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)),
            "9999-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn parses_what_it_formats_and_other_rfc3339_forms() {
        for t in [
            UNIX_EPOCH,
            at(1_795_521_600, 123_456),
            at(4_102_444_799, 999_999),
        ] {
            assert_eq!(parse(&format(t)), Some(t));
        }
        let t = at(1_795_521_600, 0);
        assert_eq!(parse("2026-11-24T12:00:00Z"), Some(t));
        assert_eq!(parse("2026-11-24 13:30:00+01:30"), Some(t));
        assert_eq!(
            parse("2026-11-24T12:00:00.5z"),
            Some(t + Duration::from_millis(500))
        );
        assert_eq!(
            parse("2026-11-24T12:00:00.000000001Z"),
            Some(t + Duration::from_nanos(1))
        );
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for bad in [
            "",
            "2026-11-24",
            "2026-11-24T12:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-24T12:00:00.Z",
            "2026-11-24T12:00:00+1:00",
            "1969-12-31T23:59:59Z",
            "+026-11-24T12:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn normalize_truncates_to_microseconds() {
        let t = UNIX_EPOCH + Duration::new(10, 123_456_789);
        assert_eq!(normalize(t), UNIX_EPOCH + Duration::new(10, 123_456_000));
        assert_eq!(parse(&format(t)), Some(normalize(t)));
    }
}
