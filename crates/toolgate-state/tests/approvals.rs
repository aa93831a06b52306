//! The approval contract, run against every implementation: the memory
//! store (on paused time) and the Redis store (on a real, throwaway
//! redis-server).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{decided, decision, ms, noon, pending};
use tokio::time::Instant;
use toolgate_state::{
    Approval, ApprovalId, ApprovalState, ApprovalStore, MemoryApprovals, StateError,
};

const MINUTE: Duration = Duration::from_secs(60);
/// Generous, for what is not about timing: the tests share few cores.
const PATIENT: Duration = Duration::from_secs(5);

type Store = Arc<dyn ApprovalStore>;

async fn create_then_pending(s: Store) {
    let p = pending("crm", ms(0), MINUTE);
    let id = s.create(p.clone()).await.unwrap();
    let a = s.get(&id).await.unwrap();
    assert_eq!(
        a,
        Approval {
            id: id.clone(),
            pending: p.clone(),
            state: ApprovalState::Pending
        }
    );
    assert_eq!(a.state_at(noon() + ms(59_999)), ApprovalState::Pending);
    assert_eq!(a.state_at(noon() + MINUTE), ApprovalState::Expired);
    assert_ne!(
        s.create(p).await.unwrap(),
        id,
        "every approval gets its own id"
    );

    // A wait that times out before the expiry leaves it pending.
    let started = Instant::now();
    let state = s.wait(&id, noon(), ms(200)).await.unwrap();
    assert_eq!(state, ApprovalState::Pending);
    assert!(started.elapsed() >= ms(200), "{:?}", started.elapsed());
    assert_eq!(s.get(&id).await.unwrap().state, ApprovalState::Pending);
}

async fn an_approval_wakes_the_waiter_once(s: Store) {
    let id = s.create(pending("crm", ms(0), MINUTE)).await.unwrap();
    let waiter = tokio::spawn({
        let (s, id) = (s.clone(), id.clone());
        async move { s.wait(&id, noon(), Duration::from_secs(30)).await }
    });
    tokio::time::sleep(ms(100)).await;
    assert!(!waiter.is_finished(), "nothing was decided yet");

    let started = Instant::now();
    let d = decision(true, "alice", ms(500));
    let a = s.decide(&id, d.clone()).await.unwrap();
    assert_eq!(a.state, ApprovalState::Decided(d.clone()));
    let state = tokio::time::timeout(PATIENT, waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decided(state.unwrap()), d);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // Later waits return at once; later decisions are refused.
    let state = s.wait(&id, noon() + ms(600), MINUTE).await.unwrap();
    assert_eq!(state, ApprovalState::Decided(d.clone()));
    for approved in [false, true] {
        let again = s.decide(&id, decision(approved, "bob", ms(700))).await;
        assert_eq!(again, Err(StateError::AlreadyDecided));
    }
    assert_eq!(s.get(&id).await.unwrap().state, ApprovalState::Decided(d));
}

async fn a_denial_is_a_decision_too(s: Store) {
    let id = s.create(pending("crm", ms(0), MINUTE)).await.unwrap();
    let d = decision(false, "carol", ms(10));
    s.decide(&id, d.clone()).await.unwrap();
    let state = s.wait(&id, noon(), MINUTE).await.unwrap();
    let got = decided(state);
    assert!(!got.approved);
    assert_eq!((got.by.as_str(), got.note), ("carol", None));
    let again = s.decide(&id, decision(true, "carol", ms(20))).await;
    assert_eq!(again, Err(StateError::AlreadyDecided));
}

async fn approvals_expire_once(s: Store) {
    // A waiter that reaches the expiry marks the approval expired: a later
    // decision is refused even when its decider's clock says it is early.
    let id = s.create(pending("crm", ms(0), ms(300))).await.unwrap();
    let started = Instant::now();
    let state = s.wait(&id, noon(), Duration::from_secs(30)).await.unwrap();
    assert_eq!(state, ApprovalState::Expired);
    assert!(started.elapsed() >= ms(300), "{:?}", started.elapsed());
    assert!(started.elapsed() < PATIENT, "{:?}", started.elapsed());
    assert_eq!(s.get(&id).await.unwrap().state, ApprovalState::Expired);
    let late = s.decide(&id, decision(true, "alice", ms(100))).await;
    assert_eq!(late, Err(StateError::Expired));

    // A decision at the expiry expires the approval instead.
    let id = s.create(pending("crm", ms(0), MINUTE)).await.unwrap();
    let at_expiry = s.decide(&id, decision(true, "alice", MINUTE)).await;
    assert_eq!(at_expiry, Err(StateError::Expired));
    assert_eq!(s.get(&id).await.unwrap().state, ApprovalState::Expired);
    let early = s.decide(&id, decision(true, "alice", ms(1))).await;
    assert_eq!(early, Err(StateError::Expired));

    // A wait that starts after the expiry ends at once.
    let id = s.create(pending("crm", ms(0), MINUTE)).await.unwrap();
    let started = Instant::now();
    let state = s.wait(&id, noon() + MINUTE * 2, MINUTE).await.unwrap();
    assert_eq!(state, ApprovalState::Expired);
    assert!(started.elapsed() < Duration::from_secs(1));
}

async fn listing_shows_what_is_still_pending(s: Store) {
    let a = s.create(pending("crm", ms(0), MINUTE)).await.unwrap();
    let b = s.create(pending("files", ms(1), MINUTE)).await.unwrap();
    let c = s.create(pending("crm", ms(2), MINUTE)).await.unwrap();
    let _expired = s.create(pending("crm", ms(3), ms(10))).await.unwrap();
    let decided = s.create(pending("crm", ms(4), MINUTE)).await.unwrap();
    s.decide(&decided, decision(true, "alice", ms(5)))
        .await
        .unwrap();

    let ids = |list: Vec<Approval>| list.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let now = noon() + ms(100);
    let all = s.list_pending(None, now).await.unwrap();
    assert!(all.iter().all(|a| a.state == ApprovalState::Pending));
    assert_eq!(ids(all), [a.clone(), b, c.clone()]);
    let crm = s.list_pending(Some("crm"), now).await.unwrap();
    assert_eq!(ids(crm), [a, c]);
    assert!(s.list_pending(Some("nope"), now).await.unwrap().is_empty());
    let later = s.list_pending(None, noon() + MINUTE * 2).await.unwrap();
    assert!(later.is_empty());
}

async fn unknown_ids_are_not_found(s: Store) {
    let id = ApprovalId::parse(&"0".repeat(32)).unwrap();
    assert_eq!(s.get(&id).await, Err(StateError::NotFound));
    let d = decision(true, "alice", ms(0));
    assert_eq!(
        s.decide(&id, d).await.map(|_| ()),
        Err(StateError::NotFound)
    );
    assert_eq!(s.wait(&id, noon(), ms(50)).await, Err(StateError::NotFound));
}

async fn one_of_many_deciders_wins(s: Store) {
    let id = s.create(pending("crm", ms(0), MINUTE)).await.unwrap();
    let tasks: Vec<_> = (0..20u64)
        .map(|i| {
            let (s, id) = (s.clone(), id.clone());
            let d = decision(i % 2 == 0, &format!("person{i}"), ms(100 + i));
            tokio::spawn(async move { s.decide(&id, d).await })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(a) => winners.push(a),
            Err(e) => assert_eq!(e, StateError::AlreadyDecided),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(s.get(&id).await.unwrap().state, winners[0].state);
}

/// Each body as a test on each store.
macro_rules! contract {
    ($($body:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(start_paused = true)]
                async fn $body() {
                    super::$body(std::sync::Arc::new(super::MemoryApprovals::default())).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $body() {
                    let server = toolgate_testdb::redis().await;
                    let options = super::common::redis_options(&server);
                    let store = super::common::redis_store(&server, options);
                    super::$body(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

contract!(
    create_then_pending,
    an_approval_wakes_the_waiter_once,
    a_denial_is_a_decision_too,
    approvals_expire_once,
    listing_shows_what_is_still_pending,
    unknown_ids_are_not_found,
    one_of_many_deciders_wins,
);

#[tokio::test(start_paused = true)]
async fn memory_forgets_approvals_a_while_after_they_expire() {
    let s = MemoryApprovals::new(MINUTE);
    let old = s.create(pending("crm", ms(0), ms(1000))).await.unwrap();
    let kept = s.create(pending("crm", MINUTE, MINUTE)).await.unwrap();
    assert_eq!(s.get(&old).await.unwrap().state, ApprovalState::Pending);
    // Asked for more than the retention after `old` expired.
    s.create(pending("crm", MINUTE + ms(1001), MINUTE))
        .await
        .unwrap();
    assert_eq!(s.get(&old).await, Err(StateError::NotFound));
    assert!(s.get(&kept).await.is_ok());
}
