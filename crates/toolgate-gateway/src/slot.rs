//! A future polled inside another one's poll instead of spawned: a request's
//! work beside its HTTP reply (`session::Work`), an HTTP exchange inside its
//! `Exchange`.

use std::task::Context;

use futures_util::future::BoxFuture;

/// A future run in place, until it finishes (then `None`).
pub(crate) type Slot = Option<BoxFuture<'static, ()>>;

/// Polls the future in `slot`; `true` once it has finished and the slot is
/// empty. The future is out of the slot while it runs: if it panics, the
/// unwinding drops it, and it is never polled again ("resumed after
/// panicking") nor handed on by its owner.
pub(crate) fn poll_slot(slot: &mut Slot, cx: &mut Context<'_>) -> bool {
    let Some(mut fut) = slot.take() else {
        return true;
    };
    if fut.as_mut().poll(cx).is_ready() {
        return true;
    }
    *slot = Some(fut);
    false
}
