//! Outbound message streams: where a request's interim messages and its
//! response go, buffered so that a client can resume a broken stream
//! (`Last-Event-ID`) and so the gateway can decide between a JSON and an
//! SSE reply when it sees the first message.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::{Notify, mpsc};
use toolgate_mcp::Message;

/// Where the gateway delivers messages for a client.
pub trait Sink: Send + Sync {
    /// A notification or server→client request.
    fn interim(&self, msg: Message);
    /// The response to one of the client's requests.
    fn finalize(&self, msg: Message);
    /// True when the client is gone and nobody will read further messages
    /// (for stateless clients, that is the cancellation signal).
    fn abandoned(&self) -> bool {
        false
    }
    /// Asks for a streamed (SSE) reply even if the response comes first:
    /// the upstream streamed its own reply. No-op by default.
    fn prefer_stream(&self) {}
    /// Resolves when [`Sink::abandoned`] becomes true; never, by default.
    fn closed(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::pending())
    }
    /// The upstream says the client's session no longer exists, so the
    /// request was not served: a reply that has not started yet becomes a
    /// 404 (the client re-initializes). Called before the error response is
    /// finalized. No-op by default.
    fn session_gone(&self) {}
}

/// One event as stored: its sequence number in the stream and its JSON.
pub type Event = (u64, Bytes);

/// Messages queued for a live reader before it counts as too slow (the
/// reader is then cut off and must resume).
const LIVE_QUEUE: usize = 1024;

/// How a stream hands out its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// As SSE events, logged for replay.
    Stream,
    /// Responses collected for one JSON reply; interim messages go to the
    /// fallback sink (the session's GET stream) if there is one.
    Buffer,
}

struct State {
    mode: Mode,
    log: VecDeque<Event>,
    log_bytes: usize,
    next_seq: u64,
    live: Option<mpsc::Sender<Event>>,
    finals: Vec<Bytes>,
    finals_expected: Option<usize>,
    finals_seen: usize,
    first_is_final: Option<bool>,
    watchers: usize,
    was_watched: bool,
    prefer_stream: bool,
    session_gone: bool,
}

/// A stream of messages for one POST (or one GET).
pub struct OutStream {
    /// Unique within the session; part of every event id.
    pub id: u64,
    state: Mutex<State>,
    changed: Notify,
    max_log_bytes: usize,
    fallback: Option<Arc<dyn Sink>>,
}

impl OutStream {
    /// A stream expecting `finals` responses (`None`: never ends, a GET
    /// stream), keeping up to `max_log_bytes` of events for replay.
    pub fn new(
        id: u64,
        mode: Mode,
        finals: Option<usize>,
        max_log_bytes: usize,
        fallback: Option<Arc<dyn Sink>>,
    ) -> Arc<OutStream> {
        Arc::new(OutStream {
            id,
            state: Mutex::new(State {
                mode,
                log: VecDeque::new(),
                log_bytes: 0,
                next_seq: 1,
                live: None,
                finals: Vec::new(),
                finals_expected: finals,
                finals_seen: 0,
                first_is_final: None,
                watchers: 0,
                was_watched: false,
                prefer_stream: false,
                session_gone: false,
            }),
            changed: Notify::new(),
            max_log_bytes,
            fallback,
        })
    }

    fn deliver(&self, msg: Message, is_final: bool) {
        let bytes = Bytes::from(msg.to_bytes());
        let mut st = self.state.lock();
        st.first_is_final.get_or_insert(is_final);
        if is_final {
            st.finals_seen += 1;
        }
        match st.mode {
            Mode::Buffer if is_final => st.finals.push(bytes),
            Mode::Buffer => {
                drop(st);
                if let Some(f) = &self.fallback {
                    f.interim(msg);
                }
                self.changed.notify_waiters();
                return;
            }
            Mode::Stream => {
                let seq = st.next_seq;
                st.next_seq += 1;
                st.log_bytes += bytes.len();
                st.log.push_back((seq, bytes.clone()));
                while st.log_bytes > self.max_log_bytes && st.log.len() > 1 {
                    if let Some((_, b)) = st.log.pop_front() {
                        st.log_bytes -= b.len();
                    }
                }
                if let Some(live) = &st.live
                    && live.try_send((seq, bytes)).is_err()
                {
                    // Too slow or gone: cut it off; it can resume from the log.
                    st.live = None;
                }
            }
        }
        if st.is_done() {
            st.live = None;
        }
        drop(st);
        self.changed.notify_waiters();
    }

    /// Waits for the first message and tells whether it was a response and
    /// the only one expected (then a JSON reply will do).
    pub async fn first_is_sole_response(&self) -> bool {
        loop {
            let notified = self.changed.notified();
            {
                let st = self.state.lock();
                if let Some(first) = st.first_is_final {
                    return first && st.finals_expected == Some(1) && !st.prefer_stream;
                }
            }
            notified.await;
        }
    }

    /// Switches an undecided stream to buffering (a JSON reply), moving any
    /// logged responses into the buffer.
    pub fn into_buffer(&self) {
        let mut st = self.state.lock();
        st.mode = Mode::Buffer;
        let logged: Vec<Bytes> = st.log.drain(..).map(|(_, b)| b).collect();
        st.log_bytes = 0;
        st.finals.extend(logged);
    }

    /// Waits for every expected response (buffer mode).
    pub async fn responses(&self) -> Vec<Bytes> {
        loop {
            let notified = self.changed.notified();
            {
                let st = self.state.lock();
                if st.is_done() {
                    return st.finals.clone();
                }
            }
            notified.await;
        }
    }

    /// Attaches a live reader: the logged events after `after` (all of them
    /// for `None`), then everything delivered from now on. The receiver
    /// ends when the stream is done. Replaces any earlier reader.
    pub fn attach(
        &self,
        after: Option<u64>,
        replay_all: bool,
    ) -> (Vec<Event>, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(LIVE_QUEUE);
        let mut st = self.state.lock();
        let replay: Vec<Event> = match (after, replay_all) {
            (Some(after), _) => st.log.iter().filter(|(s, _)| *s > after).cloned().collect(),
            (None, true) => st.log.iter().cloned().collect(),
            (None, false) => Vec::new(),
        };
        if !st.is_done() {
            st.live = Some(tx);
        }
        (replay, rx)
    }

    /// True when a request on this stream found its upstream session gone
    /// (see [`Sink::session_gone`]).
    pub fn session_gone_reported(&self) -> bool {
        self.state.lock().session_gone
    }

    /// True once every expected response was delivered.
    pub fn is_done(&self) -> bool {
        self.state.lock().is_done()
    }

    /// Registers someone waiting on this stream's answer (the HTTP
    /// response); the stream is abandoned when every watcher is gone
    /// before it is done.
    pub fn watch(self: &Arc<Self>) -> Watch {
        let mut st = self.state.lock();
        st.watchers += 1;
        st.was_watched = true;
        Watch(self.clone())
    }

    /// Resolves when the stream is abandoned (see [`Sink::abandoned`]).
    pub async fn abandoned_signal(&self) {
        loop {
            let notified = self.changed.notified();
            if self.abandoned() {
                return;
            }
            notified.await;
        }
    }
}

impl State {
    fn is_done(&self) -> bool {
        self.finals_expected.is_some_and(|n| self.finals_seen >= n)
    }
}

impl Sink for OutStream {
    fn interim(&self, msg: Message) {
        self.deliver(msg, false);
    }

    fn finalize(&self, msg: Message) {
        self.deliver(msg, true);
    }

    fn abandoned(&self) -> bool {
        let st = self.state.lock();
        st.was_watched && st.watchers == 0 && !st.is_done()
    }

    fn closed(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.abandoned_signal())
    }

    fn prefer_stream(&self) {
        self.state.lock().prefer_stream = true;
    }

    fn session_gone(&self) {
        self.state.lock().session_gone = true;
    }
}

/// Held by whoever waits for a stream's answer; dropping it (the client
/// disconnected) may abandon the stream.
pub struct Watch(Arc<OutStream>);

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.state.lock().watchers -= 1;
        self.0.changed.notify_waiters();
    }
}

/// The streams of one session, kept for `Last-Event-ID` replay.
#[derive(Default)]
pub struct Streams {
    inner: Mutex<StreamsInner>,
}

#[derive(Default)]
struct StreamsInner {
    next_id: u64,
    recent: VecDeque<Arc<OutStream>>,
}

/// Streams remembered per session for replay.
const REMEMBERED_STREAMS: usize = 64;

impl Streams {
    /// A fresh stream id.
    pub fn next_id(&self) -> u64 {
        let mut inner = self.inner.lock();
        inner.next_id += 1;
        inner.next_id
    }

    /// Remembers a stream for replay.
    pub fn remember(&self, stream: Arc<OutStream>) {
        let mut inner = self.inner.lock();
        inner.recent.push_back(stream);
        while inner.recent.len() > REMEMBERED_STREAMS {
            inner.recent.pop_front();
        }
    }

    /// Finds a remembered stream.
    pub fn find(&self, id: u64) -> Option<Arc<OutStream>> {
        self.inner
            .lock()
            .recent
            .iter()
            .find(|s| s.id == id)
            .cloned()
    }
}

/// Formats an SSE event id: `<stream>-<seq>`.
pub fn event_id(stream: u64, seq: u64) -> String {
    format!("{stream}-{seq}")
}

/// Parses an SSE event id made by [`event_id`].
pub fn parse_event_id(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

#[cfg(test)]
mod tests;
