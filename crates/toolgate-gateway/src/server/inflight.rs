//! Requests in flight per caller: one grant (or OAuth subject) cannot take
//! every upstream slot and task of the gateway; past its share it gets 429
//! while everyone else is served.

use foldhash::{HashMap, HashMapExt as _};
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http_body_util::BodyExt;
use parking_lot::Mutex;

use crate::pipeline::Principal;

type Key = (Arc<str>, Arc<str>);

/// Counts of requests in flight by (server, grant).
pub(crate) struct Inflight {
    max: usize,
    counts: Mutex<HashMap<Key, usize>>,
}

/// One request's place; given back when dropped.
pub(crate) struct Slot {
    table: Arc<Inflight>,
    key: Key,
}

impl Inflight {
    pub(crate) fn new(max: usize) -> Arc<Inflight> {
        Arc::new(Inflight {
            max,
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// The limit.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// A slot for `caller`, unless it already holds the maximum.
    pub(crate) fn enter(self: &Arc<Self>, caller: &Principal) -> Option<Slot> {
        let key = (caller.server.clone(), caller.grant.clone());
        let mut counts = self.counts.lock();
        let n = counts.entry(key.clone()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            table: self.clone(),
            key,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.table.counts.lock();
        if let Some(n) = counts.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// Keeps `slot` taken until the response body is finished or dropped: a
/// streamed (SSE) answer is in flight until its last event.
pub(crate) fn hold(resp: Response, slot: Slot) -> Response {
    let (parts, body) = resp.into_parts();
    let body = body.map_frame(move |frame| {
        let _held = &slot;
        frame
    });
    Response::from_parts(parts, Body::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_caller_and_given_back() {
        let table = Inflight::new(2);
        let alice = Principal::grant("alice", "crm", None);
        let bob = Principal::grant("bob", "crm", None);
        let a1 = table.enter(&alice).unwrap();
        let _a2 = table.enter(&alice).unwrap();
        assert!(table.enter(&alice).is_none());
        assert!(table.enter(&bob).is_some(), "others are unaffected");
        drop(a1);
        assert!(table.enter(&alice).is_some());
    }
}
