//! A logical clock and calendar dates.
//!
//! The demo never reads the wall clock: every mutation advances a logical
//! clock by one minute from a fixed base, so two runs with the same input
//! produce byte-identical output (and tests can assert exact timestamps).

/// The logical time of the server's start.
const BASE: Date = Date {
    year: 2026,
    month: 1,
    day: 15,
};
/// Minutes after midnight of [`BASE`] at which the clock starts (09:00).
const BASE_MINUTE: u64 = 9 * 60;
const MINUTES_PER_DAY: u64 = 24 * 60;

/// A calendar date (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Date {
    year: u32,
    month: u32,
    day: u32,
}

impl Date {
    /// Parses a strict `YYYY-MM-DD` date; `None` if malformed or not a real day.
    pub(crate) fn parse(s: &str) -> Option<Date> {
        let bytes = s.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !shape_ok {
            return None;
        }
        let year = s.get(0..4)?.parse().ok()?;
        let month = s.get(5..7)?.parse().ok()?;
        let day = s.get(8..10)?.parse().ok()?;
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        valid.then_some(Date { year, month, day })
    }

    /// The date of an ISO 8601 timestamp such as `2026-01-15T09:00:00+00:00`.
    pub(crate) fn of_timestamp(ts: &str) -> Option<Date> {
        Date::parse(ts.get(0..10)?)
    }

    /// The date `days` days later.
    pub(crate) fn plus_days(self, days: u64) -> Date {
        (0..days).fold(self, |date, _| date.next_day())
    }

    fn next_day(self) -> Date {
        if self.day < days_in_month(self.year, self.month) {
            Date {
                day: self.day + 1,
                ..self
            }
        } else if self.month < 12 {
            Date {
                month: self.month + 1,
                day: 1,
                ..self
            }
        } else {
            Date {
                year: self.year + 1,
                month: 1,
                day: 1,
            }
        }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

/// Counts mutations; the n-th mutation is stamped n minutes after the base.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    ticks: u64,
}

impl Clock {
    /// Advances one minute and returns the new time as Bitrix24 formats it.
    pub(crate) fn tick(&mut self) -> String {
        self.ticks += 1;
        let in_day = (BASE_MINUTE + self.ticks) % MINUTES_PER_DAY;
        format!(
            "{}T{:02}:{:02}:00+00:00",
            self.today(),
            in_day / 60,
            in_day % 60
        )
    }

    /// The current logical date.
    pub(crate) fn today(&self) -> Date {
        BASE.plus_days((BASE_MINUTE + self.ticks) / MINUTES_PER_DAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_real_dates() {
        let cases = [
            ("2026-01-15", true),
            ("2024-02-29", true),
            ("2025-02-29", false),
            ("2026-13-01", false),
            ("2026-04-31", false),
            ("2026-1-15", false),
            ("2026/01/15", false),
            ("15-01-2026", false),
            ("2026-01-15T00:00:00", false),
            ("", false),
        ];
        for (input, ok) in cases {
            assert_eq!(Date::parse(input).is_some(), ok, "{input}");
        }
        assert_eq!(
            Date::parse("2024-02-29").map(|d| d.to_string()).as_deref(),
            Some("2024-02-29")
        );
    }

    #[test]
    fn clock_rolls_over_days_and_months() {
        let mut clock = Clock::default();
        assert_eq!(clock.tick(), "2026-01-15T09:01:00+00:00");
        clock.ticks = 17 * MINUTES_PER_DAY - BASE_MINUTE - 1;
        assert_eq!(clock.tick(), "2026-02-01T00:00:00+00:00");
    }
}
