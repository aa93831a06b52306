use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;

const MINUTE: Duration = Duration::from_secs(60);

/// 2026-11-29T12:00:00Z: a minute and hour boundary.
fn noon() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_953_600)
}

fn charge(key: &str, max: u64, amount: u64, window: Duration, sliding: bool) -> Charge {
    Charge {
        key: key.into(),
        max,
        amount,
        window,
        sliding,
    }
}

fn fixed(key: &str, max: u64) -> Charge {
    charge(key, max, 1, MINUTE, false)
}

fn exceeded(r: Result<Reserved, LimitError>) -> Exceeded {
    match r {
        Err(LimitError::Exceeded(e)) => e,
        other => panic!("expected exceeded, got {other:?}"),
    }
}

#[test]
fn a_fixed_window_admits_max_then_refuses_until_it_resets() {
    let s = MemoryStore::new();
    let t = noon() + Duration::from_secs(17);
    for _ in 0..30 {
        s.reserve_now(&[fixed("k", 30)], t).unwrap();
    }
    let e = exceeded(s.reserve_now(&[fixed("k", 30)], t));
    assert_eq!((e.index, e.current, e.max), (0, 30, 30));
    assert_eq!(
        e.resets_at,
        noon() + MINUTE,
        "fixed windows reset at the next UTC minute"
    );
    // One millisecond before the boundary: still the old window.
    assert!(
        s.reserve_now(
            &[fixed("k", 30)],
            noon() + MINUTE - Duration::from_millis(1)
        )
        .is_err()
    );
    // Exactly at the boundary: a new window.
    s.reserve_now(&[fixed("k", 30)], noon() + MINUTE).unwrap();
    assert_eq!(s.current("k", noon() + MINUTE), 1);
}

#[test]
fn odd_windows_align_to_the_epoch() {
    let s = MemoryStore::new();
    let w = Duration::from_secs(90);
    let epoch_aligned = SystemTime::UNIX_EPOCH + Duration::from_secs(90 * 20_000_000);
    s.reserve_now(
        &[charge("k", 1, 1, w, false)],
        epoch_aligned + Duration::from_secs(89),
    )
    .unwrap();
    let e = exceeded(s.reserve_now(
        &[charge("k", 1, 1, w, false)],
        epoch_aligned + Duration::from_secs(89),
    ));
    assert_eq!(e.resets_at, epoch_aligned + w);
    s.reserve_now(&[charge("k", 1, 1, w, false)], epoch_aligned + w)
        .unwrap();
}

#[test]
fn reservations_are_all_or_nothing() {
    let s = MemoryStore::new();
    s.reserve_now(&[fixed("b", 1)], noon()).unwrap();
    let e = exceeded(s.reserve_now(&[fixed("a", 5), fixed("b", 1)], noon()));
    assert_eq!(e.index, 1);
    assert_eq!(
        s.current("a", noon()),
        0,
        "nothing charged when one counter is full"
    );
}

#[test]
fn release_gives_back_only_within_the_same_window() {
    let s = MemoryStore::new();
    let r = s
        .reserve_now(&[fixed("k", 2), fixed("k2", 2)], noon())
        .unwrap();
    assert_eq!(s.current("k", noon()), 1);
    s.release_now(&r);
    assert_eq!(s.current("k", noon()), 0);
    assert_eq!(s.current("k2", noon()), 0);
    let old = s
        .reserve_now(&[fixed("k", 2)], noon() + Duration::from_secs(59))
        .unwrap();
    s.reserve_now(&[fixed("k", 2)], noon() + MINUTE).unwrap();
    s.release_now(&old);
    assert_eq!(
        s.current("k", noon() + MINUTE),
        1,
        "a refund for a past window leaves the new one alone"
    );
}

#[test]
fn amounts_count_by_weight_and_oversized_amounts_never_fit() {
    let s = MemoryStore::new();
    s.reserve_now(&[charge("k", 10, 7, MINUTE, false)], noon())
        .unwrap();
    let e = exceeded(s.reserve_now(&[charge("k", 10, 4, MINUTE, false)], noon()));
    assert_eq!(e.current, 7);
    s.reserve_now(&[charge("k", 10, 3, MINUTE, false)], noon())
        .unwrap();
    assert!(
        s.reserve_now(&[charge("big", 10, 11, MINUTE, false)], noon())
            .is_err()
    );
}

#[test]
fn sliding_windows_forget_each_event_exactly_one_window_later() {
    let s = MemoryStore::new();
    let at = |secs: u64| noon() + Duration::from_secs(secs);
    let c = |amount| charge("k", 3, amount, MINUTE, true);
    s.reserve_now(&[c(1)], at(10)).unwrap();
    s.reserve_now(&[c(1)], at(20)).unwrap();
    s.reserve_now(&[c(1)], at(30)).unwrap();
    let e = exceeded(s.reserve_now(&[c(1)], at(40)));
    assert_eq!(
        e.resets_at,
        at(70),
        "room when the event at :10 leaves the window"
    );
    assert!(
        s.reserve_now(&[c(1)], at(70) - Duration::from_millis(1))
            .is_err()
    );
    s.reserve_now(&[c(1)], at(70)).unwrap();
    let e = exceeded(s.reserve_now(&[c(2)], at(71)));
    assert_eq!(
        e.resets_at,
        at(90),
        "two units free up when the :20 and :30 events leave"
    );
}

#[test]
fn sliding_refunds_remove_their_own_entry() {
    let s = MemoryStore::new();
    let c = charge("k", 2, 1, MINUTE, true);
    let first = s.reserve_now(std::slice::from_ref(&c), noon()).unwrap();
    s.reserve_now(std::slice::from_ref(&c), noon() + Duration::from_secs(1))
        .unwrap();
    s.release_now(&first);
    assert_eq!(s.current("k", noon() + Duration::from_secs(2)), 1);
    s.reserve_now(&[c], noon() + Duration::from_secs(2))
        .unwrap();
}

#[test]
fn changing_a_counters_window_starts_it_afresh() {
    let s = MemoryStore::new();
    s.reserve_now(&[fixed("k", 1)], noon()).unwrap();
    s.reserve_now(
        &[charge("k", 1, 1, Duration::from_secs(3600), false)],
        noon(),
    )
    .unwrap();
    assert!(
        s.reserve_now(
            &[charge("k", 1, 1, Duration::from_secs(3600), false)],
            noon()
        )
        .is_err()
    );
}

#[test]
fn expired_counters_are_swept() {
    let s = MemoryStore::new();
    for i in 0..10 {
        s.reserve_now(&[fixed(&format!("k{i}"), 5)], noon())
            .unwrap();
    }
    let later = noon() + Duration::from_secs(3600);
    for _ in 0..SWEEP_EVERY {
        s.reserve_now(&[fixed("live", u64::MAX)], later).unwrap();
    }
    assert_eq!(s.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_reservations_admit_exactly_thirty() {
    let s = Arc::new(MemoryStore::new());
    let barrier = Arc::new(tokio::sync::Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (s, barrier) = (s.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                s.reserve(&[fixed("createlead_rate|grant=alice", 30)], noon())
                    .await
                    .is_ok()
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        if t.await.unwrap() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 30);
    assert_eq!(s.current("createlead_rate|grant=alice", noon()), 30);
}
