//! `POST /mcp/<server>`: decode and authenticate, then hand the messages to
//! a session (sessionful clients) or to the stateless path, and reply with
//! JSON or an SSE stream.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use toolgate_config::ResponseMode;
use toolgate_mcp::{Kind, Message, Payload, ProtocolVersion, codes};

use super::error::{Challenge, EdgeError};
use super::reply::{self, Accepts, SseOptions};
use super::stateless_headers;
use crate::auth::{AuthError, OAuthResource};
use crate::gateway::Gateway;
use crate::header_names;
use crate::pipeline::Principal;
use crate::runtime::ServerRuntime;
use crate::session::{self, Mode, OutStream, Session, Sink};

/// The POST handler, as the router calls it (for paths the connection's
/// direct route leaves to the router, e.g. a percent-encoded server name).
pub(crate) async fn post(
    State(gw): State<Arc<Gateway>>,
    Path(server): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(&gw, &server, &headers, body).await
}

/// Answers a POST to `server`'s endpoint.
pub(crate) async fn respond(
    gw: &Arc<Gateway>,
    server: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    match handle(gw, server, headers, body).await {
        Ok(resp) => resp,
        Err(e) => refuse(gw, e),
    }
}

/// Counts a refusal and turns it into its response.
pub(crate) fn refuse(gw: &Gateway, e: EdgeError) -> Response {
    gw.metrics.edge_refusal(e.label());
    e.into_response()
}

/// Checks shared by every method: `Host`/`Origin`, the server, the caller.
pub(crate) async fn admit_edge(
    gw: &Gateway,
    server: &str,
    headers: &HeaderMap,
) -> Result<(Arc<ServerRuntime>, Arc<Principal>), EdgeError> {
    gw.edge.check(headers)?;
    let runtime = gw
        .server(server)
        .ok_or_else(|| EdgeError::UnknownServer(server.to_owned()))?
        .clone();
    let principal = gw
        .auth
        .authenticate(headers, server)
        .await
        .map_err(|e| auth_refusal(gw, server, e))?;
    Ok((runtime, principal))
}

/// How an authentication failure is answered: 401 with a challenge that
/// points OAuth clients at the resource metadata, 403 for a missing scope
/// or another server's grant, 503 when nothing can check credentials.
fn auth_refusal(gw: &Gateway, server: &str, e: AuthError) -> EdgeError {
    let oauth = gw.auth.oauth(server);
    let challenge = |error: Option<&'static str>, scope: Option<String>| {
        Box::new(Challenge {
            message: e.to_string(),
            error,
            scope: scope.or_else(|| oauth.and_then(OAuthResource::scope_hint)),
            resource_metadata: oauth.map(|o| o.metadata_url().to_owned()),
        })
    };
    match &e {
        AuthError::Missing => EdgeError::Unauthorized(challenge(None, None)),
        AuthError::Invalid(_) => EdgeError::Unauthorized(challenge(Some("invalid_token"), None)),
        AuthError::InsufficientScope(scopes) => EdgeError::InsufficientScope(challenge(
            Some("insufficient_scope"),
            Some(scopes.join(" ")),
        )),
        AuthError::WrongServer(s) => EdgeError::WrongServer(s.clone()),
        AuthError::Unavailable(m) => EdgeError::AuthUnavailable(m.clone()),
    }
}

async fn handle(
    gw: &Arc<Gateway>,
    server: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, EdgeError> {
    let (runtime, principal) = admit_edge(gw, server, headers).await?;
    let slot = gw
        .inflight
        .enter(&principal)
        .ok_or(EdgeError::TooManyInFlight(gw.inflight.max()))?;
    let resp = handle_admitted(gw, runtime, principal, headers, body).await?;
    Ok(super::inflight::hold(resp, slot))
}

async fn handle_admitted(
    gw: &Arc<Gateway>,
    runtime: Arc<ServerRuntime>,
    principal: Arc<Principal>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, EdgeError> {
    let accepts = Accepts::from_headers(headers);
    if !accepts.json && !accepts.sse {
        return Err(EdgeError::NotAcceptable);
    }
    check_content_type(headers)?;
    let http = &gw.config.http;
    let bytes = tokio::time::timeout(
        http.body_read_timeout.0,
        read_body(body, http.max_body_bytes.0),
    )
    .await
    .map_err(|_| EdgeError::BodyTimeout(http.body_read_timeout.0))??;
    let payload = Payload::parse(&bytes).map_err(|e| EdgeError::Parse(e.to_string()))?;
    if let Some(sid) = headers.get(&header_names::SESSION_ID) {
        let sid = sid.to_str().map_err(|_| EdgeError::SessionNotFound)?;
        let session = gw.sessions.find(sid, &principal, &runtime)?;
        check_protocol_header(headers)?;
        return on_session(gw, &session, payload, accepts).await;
    }
    let stateless = stateless_headers::is_stateless(headers, &payload);
    match payload {
        Payload::Single(Ok(msg))
            if msg.kind() == Kind::Request && msg.method() == Some("initialize") && !stateless =>
        {
            initialize(gw, runtime, principal, msg, accepts).await
        }
        Payload::Single(Ok(msg)) if stateless => {
            on_stateless(gw, runtime, principal, headers, msg, accepts).await
        }
        Payload::Single(Err(e)) => Err(EdgeError::InvalidRequest {
            reason: e.reason,
            id: e.id,
        }),
        Payload::Batch(_) if stateless => {
            Err(EdgeError::BatchNotAllowed(ProtocolVersion::V2026_07_28))
        }
        Payload::Single(Ok(_)) | Payload::Batch(_) => Err(EdgeError::SessionRequired),
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), EdgeError> {
    match headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => Ok(()),
        Some(ct)
            if ct
                .split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")) =>
        {
            Ok(())
        }
        Some(_) => Err(EdgeError::UnsupportedMediaType),
    }
}

/// A sessionful request's `MCP-Protocol-Version`, when present, must be a
/// revision the gateway knows. It need not equal the negotiated one: some
/// clients (the conformance suite) send 2025-03-26 regardless.
fn check_protocol_header(headers: &HeaderMap) -> Result<(), EdgeError> {
    match headers.get(&header_names::PROTOCOL_VERSION) {
        None => Ok(()),
        Some(v) => {
            let v = v.to_str().unwrap_or("");
            match ProtocolVersion::parse(v) {
                Some(p) if !p.is_stateless() => Ok(()),
                _ => Err(EdgeError::BadProtocolHeader(v.to_owned())),
            }
        }
    }
}

/// Reads the body, refusing more than `limit` bytes.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, EdgeError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(EdgeError::BodyTooLarge(limit)),
        Err(e) => Err(EdgeError::BodyRead(e.to_string())),
    }
}

async fn initialize(
    gw: &Arc<Gateway>,
    runtime: Arc<ServerRuntime>,
    principal: Arc<Principal>,
    msg: Message,
    accepts: Accepts,
) -> Result<Response, EdgeError> {
    let (session, response) = match gw.sessions.create(runtime, principal, &msg).await {
        Ok(x) => x,
        Err(answer) => return Ok(reply::json(StatusCode::OK, Bytes::from(answer.to_bytes()))),
    };
    session.start_pump();
    let body = Bytes::from(response.to_bytes());
    let mut resp = if accepts.json {
        reply::json(StatusCode::OK, body)
    } else {
        let stream = OutStream::new(session.streams.next_id(), Mode::Stream, Some(1), 0, None);
        stream.finalize(response);
        let (replay, live) = stream.attach(None, true);
        reply::sse(&stream, replay, live, sse_options(gw, Some(&session)), None)
    };
    if let Ok(v) = HeaderValue::from_str(&session.id) {
        resp.headers_mut()
            .insert(header_names::SESSION_ID.clone(), v);
    }
    Ok(resp)
}

async fn on_session(
    gw: &Arc<Gateway>,
    session: &Arc<Session>,
    payload: Payload,
    accepts: Accepts,
) -> Result<Response, EdgeError> {
    let (messages, batch) = match payload {
        Payload::Single(Ok(m)) => (vec![Ok(m)], false),
        Payload::Single(Err(e)) => {
            return Err(EdgeError::InvalidRequest {
                reason: e.reason,
                id: e.id,
            });
        }
        Payload::Batch(items) => {
            if !session.protocol.allows_batch() {
                return Err(EdgeError::BatchNotAllowed(session.protocol));
            }
            if items.is_empty() {
                return Err(EdgeError::InvalidRequest {
                    reason: "empty batch".into(),
                    id: None,
                });
            }
            (items, true)
        }
    };
    // Invalid batch elements are answered in the batch reply, each with its
    // own error; a notification is never answered.
    let answers = messages
        .iter()
        .filter(|m| m.as_ref().map_or(true, |m| m.kind() == Kind::Request))
        .count();
    if answers == 0 {
        for m in messages.into_iter().flatten() {
            if let Some(work) = session.handle(m, Arc::new(Discard)) {
                work.detach();
            }
        }
        return Ok(reply::accepted());
    }
    let mode = choose_mode(gw.config.http.response_mode, accepts, batch);
    let fallback = session.standalone();
    let stream = OutStream::new(
        session.streams.next_id(),
        mode.initial(),
        Some(answers),
        gw.config.sessions.replay_buffer_bytes.0,
        fallback,
    );
    if mode.initial() == Mode::Stream {
        session.streams.remember(stream.clone());
    }
    let watch = stream.watch();
    let mut works = Vec::with_capacity(answers);
    for m in messages {
        match m {
            Ok(m) if batch && m.method() == Some("initialize") => stream.finalize(Message::error(
                m.id().cloned(),
                &toolgate_mcp::ErrorObject::new(
                    codes::INVALID_REQUEST,
                    "initialize cannot be part of a batch",
                ),
            )),
            Ok(m) => works.extend(session.handle(m, stream.clone())),
            Err(e) => stream.finalize(Message::error(
                e.id,
                &toolgate_mcp::ErrorObject::new(codes::INVALID_REQUEST, e.reason),
            )),
        }
    }
    let reply = finish_reply(
        gw,
        &stream,
        mode,
        batch,
        sse_options(gw, Some(session)),
        watch,
        false,
    );
    Ok(session::beside(&mut works, reply).await)
}

async fn on_stateless(
    gw: &Arc<Gateway>,
    runtime: Arc<ServerRuntime>,
    principal: Arc<Principal>,
    headers: &HeaderMap,
    msg: Message,
    accepts: Accepts,
) -> Result<Response, EdgeError> {
    stateless_headers::check(headers, &msg)?;
    if msg.kind() == Kind::Request {
        session::check_meta(&msg).map_err(EdgeError::StatelessMeta)?;
    } else {
        return Ok(reply::accepted());
    }
    let mode = choose_mode(gw.config.http.response_mode, accepts, false);
    let stream = OutStream::new(0, mode.initial(), Some(1), usize::MAX, None);
    let watch = stream.watch();
    let params = stateless_headers::param_headers(headers);
    let mut work = session::handle_stateless(
        runtime,
        principal,
        gw.pipeline.clone(),
        msg,
        params,
        stream.clone(),
    )
    .await;
    let opts = sse_options(gw, None);
    let reply = finish_reply(gw, &stream, mode, false, opts, watch, true);
    Ok(session::beside(work.as_mut_slice(), reply).await)
}

/// How the reply to a POST is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReplyMode {
    Json,
    Sse,
    /// JSON if the response comes first, SSE otherwise.
    Auto,
}

impl ReplyMode {
    fn initial(self) -> Mode {
        match self {
            ReplyMode::Json => Mode::Buffer,
            ReplyMode::Sse | ReplyMode::Auto => Mode::Stream,
        }
    }
}

fn choose_mode(configured: ResponseMode, accepts: Accepts, batch: bool) -> ReplyMode {
    match (accepts.json, accepts.sse) {
        (true, false) => ReplyMode::Json,
        (false, _) => ReplyMode::Sse,
        (true, true) if batch => ReplyMode::Sse,
        (true, true) => match configured {
            ResponseMode::Auto => ReplyMode::Auto,
            ResponseMode::Sse => ReplyMode::Sse,
            ResponseMode::Json => ReplyMode::Json,
        },
    }
}

fn sse_options(gw: &Gateway, session: Option<&Arc<Session>>) -> SseOptions {
    let resumable = session.is_some_and(|s| s.protocol >= ProtocolVersion::V2025_03_26);
    SseOptions {
        event_ids: resumable,
        prime: session.is_some_and(|s| s.protocol.primes_sse()),
        keep_alive: gw.config.http.sse_keep_alive.0,
    }
}

async fn finish_reply(
    gw: &Gateway,
    stream: &Arc<OutStream>,
    mode: ReplyMode,
    batch: bool,
    opts: SseOptions,
    watch: crate::session::stream::Watch,
    stateless: bool,
) -> Response {
    let json = match mode {
        ReplyMode::Json => true,
        ReplyMode::Sse => false,
        ReplyMode::Auto => {
            let sole = stream.first_is_sole_response().await;
            if sole {
                stream.into_buffer();
            }
            sole
        }
    };
    if json {
        let finals = stream.responses().await;
        drop(watch);
        // The upstream forgot the session (it ended on another replica, or
        // expired): the client re-initializes on 404.
        if !batch && stream.session_gone_reported() {
            return refuse(gw, EdgeError::SessionNotFound);
        }
        let body = if batch {
            reply::json_array(&finals)
        } else {
            finals.into_iter().next().unwrap_or_default()
        };
        let status = if stateless {
            stateless_headers::status_for(&body)
        } else {
            StatusCode::OK
        };
        return reply::json(status, body);
    }
    let _ = gw;
    let (replay, live) = stream.attach(None, true);
    reply::sse(stream, replay, live, opts, Some(watch))
}

/// A sink for messages that expect no answer.
struct Discard;

impl Sink for Discard {
    fn interim(&self, _msg: Message) {}
    fn finalize(&self, _msg: Message) {}
}
