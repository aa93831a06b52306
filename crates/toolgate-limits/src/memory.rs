//! The in-memory store: exact under any concurrency (one lock, held for a
//! few hundred nanoseconds), nothing to set up, lost on restart.

use std::collections::{HashMap, VecDeque};
use std::time::SystemTime;

use futures_util::future::BoxFuture;
use parking_lot::Mutex;

use crate::{
    Charge, CounterStore, Exceeded, LimitError, Reserved, ReservedItem, at_millis, millis,
};

/// Sweep expired counters after this many reservations.
const SWEEP_EVERY: u64 = 4096;

#[derive(Debug)]
enum Counter {
    Fixed {
        start: u64,
        count: u64,
        window: u64,
    },
    Sliding {
        entries: VecDeque<Entry>,
        sum: u64,
        window: u64,
    },
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    at: u64,
    id: u64,
    amount: u64,
}

#[derive(Debug, Default)]
struct Inner {
    counters: HashMap<String, Counter>,
    next_id: u64,
    since_sweep: u64,
}

/// Counters in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The current value of a counter at `now` (for tests and diagnostics).
    pub fn current(&self, key: &str, now: SystemTime) -> u64 {
        let mut inner = self.inner.lock();
        match inner.counters.get_mut(key) {
            Some(c) => c.value(millis(now)),
            None => 0,
        }
    }

    /// Number of counters held (expired ones are swept periodically).
    pub fn len(&self) -> usize {
        self.inner.lock().counters.len()
    }

    /// True when no counter is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn reserve_now(&self, charges: &[Charge], now: SystemTime) -> Result<Reserved, LimitError> {
        let now = millis(now);
        let mut inner = self.inner.lock();
        // Check every charge first, then apply: all or nothing.
        for (index, c) in charges.iter().enumerate() {
            let window = window_ms(c);
            // Looked up before it is inserted: `entry` would take an owned
            // key, a copy of it on every call for a counter that nearly
            // always exists.
            let counter = match inner.counters.get_mut(&c.key) {
                Some(counter) => counter,
                None => inner
                    .counters
                    .entry(c.key.clone())
                    .or_insert_with(|| Counter::new(c.sliding, window, now)),
            };
            counter.adapt(c.sliding, window, now);
            let current = counter.value(now);
            if current.saturating_add(c.amount) > c.max {
                let resets_at = at_millis(counter.room_at(now, c.amount, c.max));
                return Err(LimitError::Exceeded(Exceeded {
                    index,
                    current,
                    max: c.max,
                    resets_at,
                }));
            }
        }
        let mut items = Vec::with_capacity(charges.len());
        for c in charges {
            inner.next_id += 1;
            let id = inner.next_id;
            if let Some(counter) = inner.counters.get_mut(&c.key) {
                let token = counter.charge(now, id, c.amount);
                items.push(ReservedItem {
                    key: c.key.clone(),
                    amount: c.amount,
                    token,
                });
            }
        }
        inner.since_sweep += 1;
        if inner.since_sweep >= SWEEP_EVERY {
            inner.since_sweep = 0;
            inner.counters.retain(|_, c| !c.expired(now));
        }
        Ok(Reserved { items })
    }

    fn release_now(&self, reserved: &Reserved) {
        let mut inner = self.inner.lock();
        for item in &reserved.items {
            if let Some(c) = inner.counters.get_mut(&item.key) {
                c.refund(item);
            }
        }
    }
}

fn window_ms(c: &Charge) -> u64 {
    u64::try_from(c.window.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl Counter {
    fn new(sliding: bool, window: u64, now: u64) -> Counter {
        if sliding {
            Counter::Sliding {
                entries: VecDeque::new(),
                sum: 0,
                window,
            }
        } else {
            Counter::Fixed {
                start: now - now % window,
                count: 0,
                window,
            }
        }
    }

    /// A policy reload may change a counter's window: start it afresh then.
    fn adapt(&mut self, sliding: bool, window: u64, now: u64) {
        let same = match self {
            Counter::Fixed { window: w, .. } => !sliding && *w == window,
            Counter::Sliding { window: w, .. } => sliding && *w == window,
        };
        if !same {
            *self = Counter::new(sliding, window, now);
        }
    }

    /// The value at `now`, after rolling the window forward.
    fn value(&mut self, now: u64) -> u64 {
        match self {
            Counter::Fixed {
                start,
                count,
                window,
            } => {
                let current = now - now % *window;
                if current != *start {
                    *start = current;
                    *count = 0;
                }
                *count
            }
            Counter::Sliding {
                entries,
                sum,
                window,
            } => {
                let horizon = now.saturating_sub(*window);
                while entries.front().is_some_and(|e| e.at <= horizon) {
                    if let Some(e) = entries.pop_front() {
                        *sum -= e.amount;
                    }
                }
                *sum
            }
        }
    }

    /// When `amount` will fit (the value was just rolled forward to `now`).
    fn room_at(&self, now: u64, amount: u64, max: u64) -> u64 {
        match self {
            Counter::Fixed { start, window, .. } => start + window,
            Counter::Sliding {
                entries,
                sum,
                window,
            } => {
                let mut left = *sum;
                for e in entries {
                    left -= e.amount;
                    if left.saturating_add(amount) <= max {
                        return e.at + window;
                    }
                }
                // Larger than max on its own: it never fits; say "a window from now".
                now + window
            }
        }
    }

    fn charge(&mut self, now: u64, id: u64, amount: u64) -> u64 {
        match self {
            Counter::Fixed { start, count, .. } => {
                *count += amount;
                *start
            }
            Counter::Sliding { entries, sum, .. } => {
                entries.push_back(Entry {
                    at: now,
                    id,
                    amount,
                });
                *sum += amount;
                id
            }
        }
    }

    fn refund(&mut self, item: &ReservedItem) {
        match self {
            Counter::Fixed { start, count, .. } => {
                if *start == item.token {
                    *count = count.saturating_sub(item.amount);
                }
            }
            Counter::Sliding { entries, sum, .. } => {
                if let Some(pos) = entries.iter().position(|e| e.id == item.token)
                    && let Some(e) = entries.remove(pos)
                {
                    *sum -= e.amount;
                }
            }
        }
    }

    fn expired(&self, now: u64) -> bool {
        match self {
            Counter::Fixed { start, window, .. } => now >= start + window,
            Counter::Sliding {
                entries, window, ..
            } => entries.back().is_none_or(|e| now >= e.at + window),
        }
    }
}

impl CounterStore for MemoryStore {
    fn reserve(
        &self,
        charges: &[Charge],
        now: SystemTime,
    ) -> BoxFuture<'_, Result<Reserved, LimitError>> {
        let r = self.reserve_now(charges, now);
        Box::pin(async move { r })
    }

    fn release(&self, reserved: Reserved) -> BoxFuture<'_, ()> {
        self.release_now(&reserved);
        Box::pin(async {})
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests;
