//! Window edges: fixed windows are aligned to multiples of their length
//! since the Unix epoch (UTC); the start is inclusive, the end exclusive.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failure should stop the test with the value"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use toolgate_policy::{Call, Policy, Principal, Window};

/// 2026-03-02T12:00:00Z.
const NOON: u64 = 1_772_452_800;

fn at_ms(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

fn secs(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

fn window(length: Duration, label: &str) -> Window {
    Window {
        length,
        sliding: false,
        label: label.into(),
    }
}

fn bounds_ms(w: &Window, ms: i64) -> (i64, i64) {
    let (start, end) = w.fixed_bounds(at_ms(ms));
    let ms_of = |t: SystemTime| match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap(),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap(),
    };
    (ms_of(start), ms_of(end))
}

#[test]
fn a_boundary_instant_belongs_to_the_new_window() {
    let minute = window(Duration::from_secs(60), "minute");
    let noon = i64::try_from(NOON).unwrap() * 1000;
    assert_eq!(bounds_ms(&minute, noon), (noon, noon + 60_000));
    assert_eq!(bounds_ms(&minute, noon - 1), (noon - 60_000, noon));
    assert_eq!(bounds_ms(&minute, noon + 59_999), (noon, noon + 60_000));
    assert_eq!(
        bounds_ms(&minute, noon + 60_000),
        (noon + 60_000, noon + 120_000)
    );
}

#[test]
fn hours_and_days_are_utc_aligned() {
    let hour = window(Duration::from_secs(3_600), "hour");
    let day = window(Duration::from_secs(86_400), "day");
    let noon = i64::try_from(NOON).unwrap() * 1000;
    let midnight = noon - 12 * 3_600_000;
    assert_eq!(bounds_ms(&hour, noon + 1_234_567), (noon, noon + 3_600_000));
    assert_eq!(bounds_ms(&day, noon), (midnight, midnight + 86_400_000));
    assert_eq!(bounds_ms(&day, midnight), (midnight, midnight + 86_400_000));
    assert_eq!(
        bounds_ms(&day, midnight - 1),
        (midnight - 86_400_000, midnight)
    );
}

#[test]
fn n_second_windows_align_to_the_epoch() {
    let w = window(Duration::from_secs(90), "90s");
    assert_eq!(bounds_ms(&w, 1_000_000), (990_000, 1_080_000));
    assert_eq!(bounds_ms(&w, 1_079_999), (990_000, 1_080_000));
    assert_eq!(bounds_ms(&w, 1_080_000), (1_080_000, 1_170_000));
    assert_eq!(bounds_ms(&w, 0), (0, 90_000));
    // Times before the epoch round down too.
    assert_eq!(bounds_ms(&w, -1), (-90_000, 0));
    let ms = window(Duration::from_millis(250), "250ms");
    assert_eq!(bounds_ms(&ms, 1_000_249), (1_000_000, 1_000_250));
}

#[test]
fn sliding_windows_end_now() {
    let w = Window {
        length: Duration::from_secs(300),
        sliding: true,
        label: "5m".into(),
    };
    assert_eq!(w.fixed_bounds(secs(NOON)), (secs(NOON - 300), secs(NOON)));
}

#[test]
fn a_zero_length_window_does_not_panic() {
    let w = window(Duration::ZERO, "none");
    assert_eq!(w.fixed_bounds(secs(NOON)), (secs(NOON), secs(NOON)));
}

#[test]
fn windows_as_written() {
    let policy = Policy::from_yaml_str(
        r#"
version: "1"
default: deny
tools:
  t:
    limits:
      - {counter: a, window: second, max: 1}
      - {counter: b, window: minute, max: 1}
      - {counter: c, window: hour, max: 1}
      - {counter: d, window: day, max: 1}
      - {counter: e, window: 90s, max: 1}
      - {counter: f, window: 5m, max: 1, mode: sliding}
      - {counter: g, window: 2h, max: 1}
      - {counter: h, window: 7d, max: 1}
      - {counter: i, window: 250ms, max: 1}
      - {counter: j, window: 90, max: 1}
      - {counter: k, window: "120", max: 1}
"#,
        "windows.yaml",
    )
    .unwrap();
    let principal = Principal {
        grant: "g",
        server: "s",
        session: None,
        subject: None,
        claims: None,
    };
    let call = Call::Tool {
        name: "t",
        arguments: None,
    };
    let decision = policy.evaluate(&call, &principal, secs(NOON));
    let got: Vec<(String, u128, bool)> = decision
        .limits
        .iter()
        .map(|l| {
            (
                l.window.label.clone(),
                l.window.length.as_millis(),
                l.window.sliding,
            )
        })
        .collect();
    let want = [
        ("second", 1_000, false),
        ("minute", 60_000, false),
        ("hour", 3_600_000, false),
        ("day", 86_400_000, false),
        ("90s", 90_000, false),
        ("5m", 300_000, true),
        ("2h", 7_200_000, false),
        ("7d", 604_800_000, false),
        ("250ms", 250, false),
        ("90s", 90_000, false),
        ("120s", 120_000, false),
    ];
    let want: Vec<(String, u128, bool)> = want
        .iter()
        .map(|&(l, ms, s)| (l.to_owned(), ms, s))
        .collect();
    assert_eq!(got, want);
}
