//! Durations (`window`, `timeout`) and counting windows.
//!
//! Grammar: a named window (`second`, `minute`, `hour`, `day`), or
//! `<n>ms|s|m|h|d`, or a bare integer meaning seconds (`90` or `"90"`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserializer, Visitor};

use crate::error::Invalid;

/// A counting window, as a limit defines it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// How long the window is.
    pub length: Duration,
    /// `mode: sliding`: the window is the `length` before now. Otherwise the
    /// window is fixed and aligned to UTC (see [`Window::fixed_bounds`]).
    pub sliding: bool,
    /// Human label for messages: "minute", "hour", "90s" … (as written, or
    /// `<n>s` for a bare number of seconds).
    pub label: String,
}

impl Window {
    /// For fixed windows: the start of the window containing `now` (UTC-aligned) and its end (= reset time).
    ///
    /// Fixed windows are aligned to multiples of their length since the Unix
    /// epoch, which is UTC alignment: a minute starts at second :00, an hour
    /// at :00:00, a day at 00:00:00 UTC, a 90s window at multiples of 90 s
    /// since 1970-01-01T00:00:00Z. The start is inclusive and the end
    /// exclusive: 12:00:00.000 belongs to the window that starts then. For a
    /// sliding window this returns `(now - length, now)`.
    pub fn fixed_bounds(&self, now: SystemTime) -> (SystemTime, SystemTime) {
        let length = i128::try_from(self.length.as_nanos()).unwrap_or(i128::MAX);
        if self.sliding || length == 0 {
            return (now.checked_sub(self.length).unwrap_or(now), now);
        }
        let t = match now.duration_since(UNIX_EPOCH) {
            Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
            Err(before) => -i128::try_from(before.duration().as_nanos()).unwrap_or(i128::MAX),
        };
        let start = t.div_euclid(length) * length;
        let end = start.saturating_add(length);
        (from_epoch_nanos(start, now), from_epoch_nanos(end, now))
    }
}

/// The instant `nanos` after (or before, if negative) the epoch; `fallback`
/// if that is not representable.
fn from_epoch_nanos(nanos: i128, fallback: SystemTime) -> SystemTime {
    let magnitude = nanos.unsigned_abs();
    let secs = u64::try_from(magnitude / 1_000_000_000).unwrap_or(u64::MAX);
    let sub = u32::try_from(magnitude % 1_000_000_000).unwrap_or(0);
    let offset = Duration::new(secs, sub);
    let time = if nanos >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    };
    time.unwrap_or(fallback)
}

/// Parses duration text; `noun` names the field in messages ("window").
pub(crate) fn parse(text: &str, noun: &str) -> Result<(Duration, String), String> {
    let named = match text {
        "second" => Some(1),
        "minute" => Some(60),
        "hour" => Some(3_600),
        "day" => Some(86_400),
        _ => None,
    };
    if let Some(secs) = named {
        return Ok((Duration::from_secs(secs), text.to_owned()));
    }
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" | "" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("unknown {noun} {text:?}")),
    };
    if number.is_empty() {
        return Err(format!("unknown {noun} {text:?}"));
    }
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{noun} {text:?} is too long"))?;
    let ms = n
        .checked_mul(unit_ms)
        .ok_or_else(|| format!("{noun} {text:?} is too long"))?;
    if ms == 0 {
        return Err(format!("{noun} {text:?} must be longer than zero"));
    }
    let label = if unit.is_empty() {
        format!("{n}s")
    } else {
        text.to_owned()
    };
    Ok((Duration::from_millis(ms), label))
}

/// A duration as written in the policy: deserializes from a string or a
/// non-negative integer (seconds), validating as it goes so errors point at
/// the value.
#[derive(Clone, Debug)]
pub(crate) struct DurationText {
    pub(crate) length: Duration,
    pub(crate) label: String,
}

/// Deserializes a [`DurationText`]; `noun` names it in messages.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
    noun: &'static str,
) -> Result<DurationText, D::Error> {
    deserializer.deserialize_any(DurationVisitor { noun })
}

struct DurationVisitor {
    noun: &'static str,
}

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = DurationText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a {} like \"minute\", \"90s\", \"5m\" or a number of seconds",
            self.noun
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationText, E> {
        parse(v, self.noun)
            .map(|(length, label)| DurationText { length, label })
            .map_err(|m| Invalid::here(m).into_de())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationText, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationText, E> {
        self.visit_str(&v.to_string())
    }
}

/// `timeout` of an approval.
#[derive(Clone, Debug)]
pub(crate) struct Timeout(pub(crate) Duration);

impl<'de> serde::Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize(deserializer, "timeout").map(|d| Timeout(d.length))
    }
}

/// `window` of a limit.
#[derive(Clone, Debug)]
pub(crate) struct WindowText(pub(crate) DurationText);

impl<'de> serde::Deserialize<'de> for WindowText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize(deserializer, "window").map(WindowText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let ok = |t: &str| parse(t, "window").map(|(d, l)| (d.as_millis(), l));
        assert_eq!(ok("minute"), Ok((60_000, "minute".into())));
        assert_eq!(ok("90s"), Ok((90_000, "90s".into())));
        assert_eq!(ok("90"), Ok((90_000, "90s".into())));
        assert_eq!(ok("250ms"), Ok((250, "250ms".into())));
        assert_eq!(ok("2h"), Ok((7_200_000, "2h".into())));
        assert_eq!(ok("1d"), Ok((86_400_000, "1d".into())));
        assert_eq!(ok("minnute"), Err("unknown window \"minnute\"".into()));
        assert_eq!(ok("m"), Err("unknown window \"m\"".into()));
        assert_eq!(ok(""), Err("unknown window \"\"".into()));
        assert_eq!(ok("-5s"), Err("unknown window \"-5s\"".into()));
        assert_eq!(ok("1.5h"), Err("unknown window \"1.5h\"".into()));
        assert_eq!(
            ok("0s"),
            Err("window \"0s\" must be longer than zero".into())
        );
        assert!(ok("99999999999999999999d").is_err());
        assert!(ok("999999999999999d").is_err());
    }
}
