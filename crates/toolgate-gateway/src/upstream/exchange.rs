//! One request in flight upstream: its interim messages, then its response.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::Poll;

use tokio::sync::{mpsc, oneshot};
use toolgate_mcp::Message;

use super::UpstreamError;
use crate::slot::{Slot, poll_slot};

/// A message from the server that is not a response.
#[derive(Debug)]
pub enum Inbound {
    /// A notification (progress, logging, list changes ...). Progress
    /// tokens and cancelled request ids already carry the client's values.
    Notification(Message),
    /// A server→client request (sampling, elicitation, roots), with the
    /// upstream's id: answer it through `UpstreamConn::respond`.
    Request(Message),
}

/// What the exchange yields next.
#[derive(Debug)]
pub enum Step {
    /// An interim message.
    Event(Inbound),
    /// The final response (with the client's id restored), or why none
    /// will come.
    Response(Result<Message, UpstreamError>),
}

/// The transport side of an exchange: told when the gateway gives up on it.
pub(crate) trait ExchangeOwner: Send + Sync {
    /// Forget the exchange; when `notify`, tell the upstream to stop
    /// (`notifications/cancelled`, or closing the HTTP stream).
    fn abandon(&self, upstream_id: u64, reason: Option<&str>, notify: bool);
}

/// A request in flight. Dropping it before its response cancels it
/// upstream: nobody is left to read the answer.
pub struct Exchange {
    upstream_id: u64,
    /// The transport's work for this request alone (an HTTP exchange),
    /// polled by [`Exchange::next`] in the caller's task rather than
    /// spawned: the answer needs no wake-up across tasks. It ends by
    /// sending the response, or is cut short (closing the connection
    /// aborts it), which drops the sender: the response is then `Closed`.
    driver: Slot,
    streamed: Option<Arc<AtomicBool>>,
    events: mpsc::Receiver<Inbound>,
    response: Option<oneshot::Receiver<Result<Message, UpstreamError>>>,
    ready: Option<Result<Message, UpstreamError>>,
    owner: Weak<dyn ExchangeOwner>,
    done: bool,
}

impl Exchange {
    pub(crate) fn new(
        upstream_id: u64,
        events: mpsc::Receiver<Inbound>,
        response: oneshot::Receiver<Result<Message, UpstreamError>>,
        owner: Weak<dyn ExchangeOwner>,
    ) -> Self {
        Exchange {
            upstream_id,
            driver: None,
            streamed: None,
            events,
            response: Some(response),
            ready: None,
            owner,
            done: false,
        }
    }

    /// Makes `driver` the work that produces this exchange's messages; it
    /// runs while the exchange is awaited.
    pub(crate) fn with_driver(mut self, driver: impl Future<Output = ()> + Send + 'static) -> Self {
        self.driver = Some(Box::pin(driver));
        self
    }

    /// Marks the exchange as one whose upstream may answer with an SSE
    /// stream; `flag` is set when it does.
    pub(crate) fn with_streamed_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.streamed = Some(flag);
        self
    }

    /// True when the upstream answered with an SSE stream (Streamable HTTP):
    /// the gateway then answers its client with a stream too.
    pub fn upstream_streamed(&self) -> bool {
        self.streamed
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// The id the upstream knows this request by.
    pub fn upstream_id(&self) -> u64 {
        self.upstream_id
    }

    /// The next message, in the order the server sent them. Returns `None`
    /// after the response.
    pub async fn next(&mut self) -> Option<Step> {
        if self.done {
            return None;
        }
        if self.ready.is_none() {
            let Some(response) = self.response.as_mut() else {
                return self.finish(Err(UpstreamError::Closed));
            };
            let events_closed = tokio::select! {
                biased;
                never = drive(&mut self.driver) => match never {},
                ev = self.events.recv() => match ev {
                    Some(ev) => return Some(Step::Event(ev)),
                    None => true,
                },
                r = &mut *response => {
                    self.ready = Some(r.unwrap_or(Err(UpstreamError::Closed)));
                    false
                }
            };
            if events_closed {
                // The event sender is gone: only the response is left.
                let r = response.await.unwrap_or(Err(UpstreamError::Closed));
                self.ready = Some(r);
            }
            self.response = None;
        }
        // Events the server sent before its response were queued before the
        // response was: deliver them first.
        if let Ok(ev) = self.events.try_recv() {
            return Some(Step::Event(ev));
        }
        let r = self.ready.take().unwrap_or(Err(UpstreamError::Closed));
        self.finish(r)
    }

    fn finish(&mut self, r: Result<Message, UpstreamError>) -> Option<Step> {
        self.done = true;
        Some(Step::Response(r))
    }

    /// Cancels the request upstream with a reason.
    pub fn cancel(mut self, reason: Option<&str>) {
        self.abandon(reason, true);
    }

    fn abandon(&mut self, reason: Option<&str>, notify: bool) {
        if !self.done {
            self.done = true;
            if let Some(owner) = self.owner.upgrade() {
                owner.abandon(self.upstream_id, reason, notify);
            }
        }
    }
}

/// Polls the driver, if any, to its end; never completes itself, so it only
/// ever makes progress for the branches beside it.
fn drive(driver: &mut Slot) -> impl Future<Output = Infallible> + '_ {
    poll_fn(move |cx| {
        poll_slot(driver, cx);
        Poll::Pending
    })
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.abandon(
            Some("the gateway is no longer waiting for this request"),
            true,
        );
    }
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("upstream_id", &self.upstream_id)
            .field("done", &self.done)
            .finish()
    }
}
