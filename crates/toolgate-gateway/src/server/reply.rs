//! Building HTTP replies: a JSON body, or an SSE stream fed live from an
//! [`OutStream`] (with replay, priming and keep-alives).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tokio::sync::mpsc;
use toolgate_mcp::sse;

use crate::session::stream::{Event, OutStream, Watch, event_id};

/// What the client's `Accept` header allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Accepts {
    pub(crate) json: bool,
    pub(crate) sse: bool,
}

impl Accepts {
    /// Reads `Accept`; a missing header or `*/*` accepts both.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Accepts {
        // One pass over the media ranges, nothing collected: this runs for
        // every POST.
        let mut seen = false;
        let mut accepts = Accepts {
            json: false,
            sse: false,
        };
        let values = headers.get_all(header::ACCEPT);
        for range in values
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
        {
            seen = true;
            let t = range.split(';').next().unwrap_or("").trim();
            let is = |m: &str| t.eq_ignore_ascii_case(m);
            accepts.json |= is("application/json") || is("application/*") || is("*/*");
            accepts.sse |= is("text/event-stream") || is("text/*") || is("*/*");
        }
        if !seen {
            return Accepts {
                json: true,
                sse: true,
            };
        }
        accepts
    }
}

/// A `200 application/json` reply.
pub(crate) fn json(status: StatusCode, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Several responses as one JSON array (a 2025-03-26 batch reply).
pub(crate) fn json_array(items: &[Bytes]) -> Bytes {
    let mut out = Vec::with_capacity(items.iter().map(|b| b.len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.push(b']');
    Bytes::from(out)
}

/// A `202 Accepted` with no body.
pub(crate) fn accepted() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp
}

/// How an SSE body is written.
pub(crate) struct SseOptions {
    /// Give every event an id (`<stream>-<seq>`) for resumption.
    pub(crate) event_ids: bool,
    /// Start with a priming event (id, empty data) so the client can resume
    /// even before the first message (2025-11-25).
    pub(crate) prime: bool,
    /// Interval of keep-alive comments.
    pub(crate) keep_alive: Duration,
}

/// An SSE reply streaming `replay` then the live events of `stream`.
pub(crate) fn sse(
    stream: &Arc<OutStream>,
    replay: Vec<Event>,
    live: mpsc::Receiver<Event>,
    opts: SseOptions,
    watch: Option<Watch>,
) -> Response {
    let id = stream.id;
    let mut pending: VecDeque<Bytes> = VecDeque::new();
    if opts.prime && opts.event_ids {
        let mut out = Vec::new();
        sse::encode(Some(&event_id(id, 0)), None, b"", &mut out);
        pending.push_back(Bytes::from(out));
    }
    for ev in &replay {
        pending.push_back(encode(id, ev, opts.event_ids));
    }
    let state = BodyState {
        pending,
        live,
        stream_id: id,
        event_ids: opts.event_ids,
        keep_alive: tokio::time::interval_at(
            tokio::time::Instant::now() + opts.keep_alive,
            opts.keep_alive,
        ),
        _watch: watch,
    };
    let body = stream::unfold(state, |mut st| async move {
        let next = st.next().await?;
        Some((Ok::<Bytes, Infallible>(next), st))
    });
    let mut resp = Response::new(Body::from_stream(body));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tell buffering proxies (nginx) to pass events through at once.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

fn encode(stream_id: u64, (seq, data): &Event, with_id: bool) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 32);
    let id = with_id.then(|| event_id(stream_id, *seq));
    sse::encode(id.as_deref(), Some("message"), data, &mut out);
    Bytes::from(out)
}

struct BodyState {
    pending: VecDeque<Bytes>,
    live: mpsc::Receiver<Event>,
    stream_id: u64,
    event_ids: bool,
    keep_alive: tokio::time::Interval,
    /// Dropped with the body: a client that goes away abandons the stream.
    _watch: Option<Watch>,
}

impl BodyState {
    async fn next(&mut self) -> Option<Bytes> {
        if let Some(b) = self.pending.pop_front() {
            return Some(b);
        }
        tokio::select! {
            ev = self.live.recv() => ev.map(|ev| encode(self.stream_id, &ev, self.event_ids)),
            _ = self.keep_alive.tick() => Some(Bytes::from_static(sse::KEEP_ALIVE)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(v: Option<&str>) -> Accepts {
        let mut h = HeaderMap::new();
        if let Some(v) = v {
            h.insert(header::ACCEPT, v.parse().unwrap());
        }
        Accepts::from_headers(&h)
    }

    #[test]
    fn accept_header_forms() {
        assert_eq!(
            accepts(None),
            Accepts {
                json: true,
                sse: true
            }
        );
        assert_eq!(
            accepts(Some("application/json, text/event-stream")),
            Accepts {
                json: true,
                sse: true
            }
        );
        assert_eq!(
            accepts(Some("application/json")),
            Accepts {
                json: true,
                sse: false
            }
        );
        assert_eq!(
            accepts(Some("text/event-stream;q=0.9")),
            Accepts {
                json: false,
                sse: true
            }
        );
        assert_eq!(
            accepts(Some("*/*")),
            Accepts {
                json: true,
                sse: true
            }
        );
        assert_eq!(
            accepts(Some("text/html")),
            Accepts {
                json: false,
                sse: false
            }
        );
    }

    #[test]
    fn accept_headers_add_up_and_ignore_case() {
        let mut h = HeaderMap::new();
        h.append(header::ACCEPT, HeaderValue::from_static("Application/JSON"));
        h.append(header::ACCEPT, HeaderValue::from_static("text/*; q=0.5"));
        let both = Accepts::from_headers(&h);
        assert_eq!((both.json, both.sse), (true, true));
        let empty = accepts(Some(""));
        assert_eq!((empty.json, empty.sse), (false, false), "present but empty");
    }

    #[test]
    fn arrays_join_raw_items() {
        let out = json_array(&[
            Bytes::from_static(b"{\"a\":1}"),
            Bytes::from_static(b"{\"b\":2}"),
        ]);
        assert_eq!(&out[..], b"[{\"a\":1},{\"b\":2}]");
    }
}
