//! Reads an upstream HTTP body as Server-Sent Events, one event at a time,
//! as the bytes arrive (nothing waits for the whole body).

use std::collections::VecDeque;

use super::http_client::UpstreamBody;
use http_body_util::BodyExt;
use toolgate_mcp::sse::{SseDecoder, SseEvent};

use super::UpstreamError;

/// An SSE event stream over a response body.
pub(crate) struct SseBody {
    body: UpstreamBody,
    decoder: SseDecoder,
    ready: VecDeque<SseEvent>,
    /// The id of the last event seen, for `Last-Event-ID` resumption.
    pub(crate) last_event_id: Option<String>,
    /// The server's requested reconnection delay.
    pub(crate) retry_ms: Option<u64>,
}

impl SseBody {
    /// Wraps a body; events larger than `max_event` end the stream with an
    /// error.
    pub(crate) fn new(body: UpstreamBody, max_event: usize) -> SseBody {
        SseBody {
            body,
            decoder: SseDecoder::new(max_event),
            ready: VecDeque::new(),
            last_event_id: None,
            retry_ms: None,
        }
    }

    /// The next event, `None` at the end of the body.
    pub(crate) async fn next(&mut self) -> Option<Result<SseEvent, UpstreamError>> {
        loop {
            if let Some(ev) = self.ready.pop_front() {
                if let Some(id) = &ev.id {
                    self.last_event_id = Some(id.clone());
                }
                if let Some(r) = ev.retry {
                    self.retry_ms = Some(r);
                }
                return Some(Ok(ev));
            }
            let frame = match self.body.frame().await? {
                Ok(f) => f,
                Err(e) => {
                    return Some(Err(UpstreamError::Exited(format!(
                        "upstream stream broke: {e}"
                    ))));
                }
            };
            if let Ok(data) = frame.into_data() {
                let mut out = Vec::new();
                if let Err(e) = self.decoder.feed(&data, &mut out) {
                    return Some(Err(UpstreamError::Protocol(e.to_string())));
                }
                self.ready.extend(out);
            }
        }
    }
}
