//! `GET /mcp/<server>` (the standalone SSE stream, or resuming a broken one
//! with `Last-Event-ID`) and `DELETE /mcp/<server>` (end the session).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};

use super::error::EdgeError;
use super::post::admit_edge;
use super::reply::{self, Accepts, SseOptions};
use crate::gateway::Gateway;
use crate::header_names;
use crate::session::stream::parse_event_id;
use crate::session::{Mode, OutStream, Session};

/// The GET handler.
pub(crate) async fn get(
    State(gw): State<Arc<Gateway>>,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Response {
    match open(&gw, &server, &headers).await {
        Ok(resp) => resp,
        Err(e) => super::post::refuse(&gw, e),
    }
}

async fn session_of(
    gw: &Gateway,
    server: &str,
    headers: &HeaderMap,
) -> Result<Arc<Session>, EdgeError> {
    let (runtime, principal) = admit_edge(gw, server, headers).await?;
    // Without a session there is no stream to offer (2026-07-28 clients
    // never GET; older ones only after `initialize`).
    let sid = headers
        .get(&header_names::SESSION_ID)
        .ok_or(EdgeError::MethodNotAllowed)?;
    let sid = sid.to_str().map_err(|_| EdgeError::SessionNotFound)?;
    Ok(gw.sessions.find(sid, &principal, &runtime)?)
}

async fn open(gw: &Gateway, server: &str, headers: &HeaderMap) -> Result<Response, EdgeError> {
    let session = session_of(gw, server, headers).await?;
    if !Accepts::from_headers(headers).sse {
        return Err(EdgeError::NotAcceptable);
    }
    session.touch();
    let keep_alive = gw.config.http.sse_keep_alive.0;
    let resume = headers
        .get(&header_names::LAST_EVENT_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_event_id)
        .and_then(|(stream_id, seq)| session.streams.find(stream_id).map(|s| (s, seq)));
    if let Some((stream, seq)) = resume {
        tracing::debug!(session = %session.id, stream = stream.id, after = seq, "resuming a stream");
        let (replay, live) = stream.attach(Some(seq), false);
        let opts = SseOptions {
            event_ids: true,
            prime: false,
            keep_alive,
        };
        return Ok(reply::sse(&stream, replay, live, opts, None));
    }
    let stream = OutStream::new(
        session.streams.next_id(),
        Mode::Stream,
        None,
        gw.config.sessions.replay_buffer_bytes.0,
        None,
    );
    session.streams.remember(stream.clone());
    let (replay, live) = stream.attach(None, false);
    session.open_standalone(stream.clone());
    let opts = SseOptions {
        event_ids: true,
        prime: session.protocol.primes_sse(),
        keep_alive,
    };
    Ok(reply::sse(&stream, replay, live, opts, None))
}

/// The DELETE handler.
pub(crate) async fn delete(
    State(gw): State<Arc<Gateway>>,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = match session_of(&gw, &server, &headers).await {
        Ok(s) => s,
        Err(EdgeError::MethodNotAllowed) => return EdgeError::SessionRequired.into_response(),
        Err(e) => return super::post::refuse(&gw, e),
    };
    gw.sessions.remove(&session.id, "client sent DELETE").await;
    reply::json(StatusCode::OK, bytes::Bytes::new())
}
