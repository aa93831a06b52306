//! The forward phase: send an admitted request upstream and relay what comes
//! back, mapping ids, honouring cancellation and timeouts, and bridging
//! protocol generations.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use http::HeaderMap;
use tokio::sync::oneshot;
use toolgate_mcp::{ErrorObject, Id, Message, ProtocolVersion, codes};

use super::{Pending, Session, Sink, bridge};
use crate::pipeline::{Admission, CallContext, Pipeline, Principal, Ticket, UpstreamOutcome};
use crate::runtime::ServerRuntime;
use crate::trace;
use crate::upstream::exchange::Step;
use crate::upstream::{Exchange, Generation, Inbound, UpstreamConn, UpstreamError};
use tracing::{Instrument, Span};

/// Where a request comes from: a session, or a stateless client.
#[derive(Clone)]
pub enum Env {
    /// A sessionful client.
    Session(Arc<Session>),
    /// A stateless (2026-07-28) client.
    Stateless(Arc<StatelessEnv>),
}

/// What a stateless request carries besides its message.
pub struct StatelessEnv {
    /// The upstream server.
    pub server: Arc<ServerRuntime>,
    /// The caller.
    pub principal: Arc<Principal>,
    /// The server's shared connection.
    pub conn: Arc<UpstreamConn>,
    /// The upstream's generation.
    pub upstream: Generation,
    /// The pipeline.
    pub pipeline: Arc<Pipeline>,
    /// `Mcp-Param-*` headers to pass to a stateless upstream.
    pub param_headers: HeaderMap,
}

impl Env {
    fn pipeline(&self) -> &Arc<Pipeline> {
        match self {
            Env::Session(s) => &s.pipeline,
            Env::Stateless(s) => &s.pipeline,
        }
    }

    fn server(&self) -> &Arc<ServerRuntime> {
        match self {
            Env::Session(s) => &s.server,
            Env::Stateless(s) => &s.server,
        }
    }

    fn conn(&self) -> &Arc<UpstreamConn> {
        match self {
            Env::Session(s) => &s.conn,
            Env::Stateless(s) => &s.conn,
        }
    }

    fn client_protocol(&self) -> ProtocolVersion {
        match self {
            Env::Session(s) => s.protocol,
            Env::Stateless(_) => ProtocolVersion::V2026_07_28,
        }
    }

    fn call_context(&self, msg: &Message) -> Result<CallContext, String> {
        let (target, arguments) = CallContext::target_of(msg)?;
        let pipeline = self.pipeline();
        let (principal, session) = match self {
            Env::Session(s) => (s.principal(), Some(s.id.clone())),
            Env::Stateless(s) => (s.principal.clone(), None),
        };
        Ok(CallContext {
            id: pipeline.next_request_id(),
            server: self.server().name.clone(),
            principal,
            session,
            protocol: self.client_protocol(),
            method: msg.method().unwrap_or_default().to_owned(),
            target,
            arguments,
            received: pipeline.clock.now(),
            started: tokio::time::Instant::now(),
        })
    }

    async fn send(
        &self,
        msg: Message,
        traceparent: Option<&str>,
    ) -> Result<Exchange, UpstreamError> {
        let UpstreamConn::Http(h) = &**self.conn() else {
            return self.conn().request(msg).await;
        };
        let mut headers = match self {
            Env::Stateless(s) => s.param_headers.clone(),
            Env::Session(_) => HeaderMap::new(),
        };
        if let Some(v) = traceparent.and_then(|tp| http::HeaderValue::from_str(tp).ok()) {
            headers.insert("traceparent", v);
        }
        h.request_with(msg, headers)
    }

    fn relay_server_request(&self, req: Message, sink: &Arc<dyn Sink>) {
        match self {
            Env::Session(s) => {
                let upstream_id = req.id().cloned();
                match upstream_id {
                    Some(id) => sink.interim(s.map_server_request(req, Pending::Upstream(id))),
                    None => tracing::debug!("server request without id; dropped"),
                }
            }
            Env::Stateless(s) => {
                // 2026-07-28 clients take no server→client requests, and the
                // gateway declared no client capabilities upstream.
                let conn = s.conn.clone();
                let err = ErrorObject::new(
                    codes::METHOD_NOT_FOUND,
                    "the client cannot take server requests (stateless protocol)",
                );
                let reply = Message::error(req.id().cloned(), &err);
                tokio::spawn(async move {
                    let _ = conn.respond(reply).await;
                });
            }
        }
    }

    fn on_upstream_error(&self, err: &UpstreamError) {
        self.server().report_unreachable(err);
        let fatal = matches!(
            err,
            UpstreamError::Exited(_) | UpstreamError::SessionExpired | UpstreamError::Closed
        ) || self.conn().is_closed();
        if let (Env::Session(s), true) = (self, fatal)
            && !s.shared_conn
            && s.end(&err.to_string())
        {
            let conn = s.conn.clone();
            tokio::spawn(async move { conn.close().await });
        }
    }

    /// A stateless client that goes away cancels its request; a sessionful
    /// client's dropped connection does not (it may resume the stream).
    fn cancel_on_disconnect(&self) -> bool {
        matches!(self, Env::Stateless(_))
    }
}

/// Runs one request through the pipeline and the upstream; the answer goes
/// to `sink`.
pub(crate) async fn forward(env: Env, msg: Message, sink: Arc<dyn Sink>) {
    let Some(client_id) = msg.id().cloned() else {
        return;
    };
    let ctx = match env.call_context(&msg) {
        Ok(ctx) => ctx,
        Err(reason) => {
            sink.finalize(Message::error(
                Some(client_id),
                &ErrorObject::new(codes::INVALID_PARAMS, reason),
            ));
            return;
        }
    };
    let span = trace::request_span(&ctx, &msg);
    admitted(env, msg, sink, ctx, client_id)
        .instrument(span)
        .await;
}

async fn admitted(env: Env, msg: Message, sink: Arc<dyn Sink>, ctx: CallContext, client_id: Id) {
    let span = Span::current();
    let mut ticket = match env.pipeline().admit(ctx, &msg).await {
        Admission::Answer {
            message,
            verdict,
            rule,
        } => {
            span.record("toolgate.verdict", verdict);
            span.record("toolgate.rule", rule.as_deref().unwrap_or(""));
            sink.finalize(message);
            return;
        }
        Admission::Forward(t) => t,
    };
    span.record("toolgate.verdict", ticket.decision().verdict.label());
    span.record(
        "toolgate.rule",
        ticket.decision().rule.as_deref().unwrap_or(""),
    );
    if let Some(answer) = bridge::answer_stateless_locally(&env, &msg) {
        ticket.finish(UpstreamOutcome::NotForwarded).await;
        sink.finalize(answer);
        return;
    }
    let mut msg = bridge::prepare(&env, msg);
    let traceparent = trace::traceparent(&span);
    if let Some(tp) = &traceparent {
        msg = trace::inject(msg, tp);
    }
    let cancel = match &env {
        Env::Session(s) => Some(s.register_inflight(&client_id)),
        Env::Stateless(_) => None,
    };
    ticket.forwarding();
    let (outcome, answer) = drive(
        &env,
        msg,
        &sink,
        &mut ticket,
        cancel,
        traceparent.as_deref(),
    )
    .await;
    if let Env::Session(s) = &env {
        s.unregister_inflight(&client_id);
    }
    span.record("toolgate.upstream", outcome.label());
    // Settle and audit before answering: with `durability: strict` the
    // client learns the result only once its record is committed, and a
    // count given back is back before the client can call again.
    ticket.finish(outcome).await;
    if let Some(answer) = answer {
        sink.finalize(answer);
    }
}

/// How a forwarded request ended, and the answer the client gets (none when
/// the client cancelled it).
type Ended = (UpstreamOutcome, Option<Message>);

async fn drive(
    env: &Env,
    msg: Message,
    sink: &Arc<dyn Sink>,
    ticket: &mut Ticket,
    cancel: Option<oneshot::Receiver<String>>,
    traceparent: Option<&str>,
) -> Ended {
    let client_id = msg.id().cloned();
    let long_lived = msg.method() == Some("subscriptions/listen");
    let timeout = env.server().request_timeout();
    let mut deadline: BoxFuture<'static, ()> = if long_lived {
        Box::pin(std::future::pending())
    } else {
        Box::pin(tokio::time::sleep(timeout))
    };
    let mut cancel = async move {
        match cancel {
            Some(rx) => rx.await.ok(),
            None => None,
        }
    }
    .boxed();
    let mut cancel_done = false;
    let gone = wait_gone(sink.clone(), env.cancel_on_disconnect());
    tokio::pin!(gone);
    let mut exchange = match env.send(msg.clone(), traceparent).await {
        Ok(x) => x,
        Err(e) => return fail(env, sink, client_id, &e),
    };
    let mut rounds = 0;
    loop {
        tokio::select! {
            step = exchange.next() => match step {
                Some(Step::Event(Inbound::Notification(n))) => sink.interim(n),
                Some(Step::Event(Inbound::Request(r))) => env.relay_server_request(r, sink),
                Some(Step::Response(Ok(resp))) => {
                    if let (Env::Session(s), true) = (env, bridge::is_input_required(&resp)) {
                        rounds += 1;
                        match bridge::fulfil_input(s, &msg, &resp, sink, timeout, rounds).await {
                            Ok(retry) => match env.send(retry, traceparent).await {
                                Ok(x) => { exchange = x; continue; }
                                Err(e) => return fail(env, sink, client_id, &e),
                            },
                            Err(answer) => return (UpstreamOutcome::Failed("input_required"), Some(answer)),
                        }
                    }
                    if exchange.upstream_streamed() {
                        sink.prefer_stream();
                    }
                    return finish(env, ticket, resp);
                }
                Some(Step::Response(Err(e))) => return fail(env, sink, client_id, &e),
                None => return fail(env, sink, client_id, &UpstreamError::Closed),
            },
            reason = &mut cancel, if !cancel_done => {
                cancel_done = true;
                if let Some(reason) = reason {
                    exchange.cancel(Some(&reason));
                    return (UpstreamOutcome::Cancelled, None);
                }
            }
            () = &mut gone => {
                exchange.cancel(Some("the client closed the stream"));
                return (UpstreamOutcome::Cancelled, None);
            }
            () = &mut deadline => {
                exchange.cancel(Some("timed out at the gateway"));
                let err = UpstreamError::Timeout(timeout);
                return (UpstreamOutcome::Timeout, Some(error_response(client_id, &err)));
            }
        }
    }
}

async fn wait_gone(sink: Arc<dyn Sink>, enabled: bool) {
    if !enabled {
        return std::future::pending().await;
    }
    sink.closed().await;
}

fn finish(env: &Env, ticket: &mut Ticket, resp: Message) -> Ended {
    let mut resp = bridge::adapt_response(env, resp, &ticket.ctx().method);
    ticket.filter_response(&mut resp);
    let outcome = classify(&resp, &ticket.ctx().method);
    (outcome, Some(resp))
}

fn fail(env: &Env, sink: &Arc<dyn Sink>, client_id: Option<Id>, err: &UpstreamError) -> Ended {
    // End the session first, so the client's next request already gets 404.
    env.on_upstream_error(err);
    // The upstream forgot the client's own session (ended elsewhere,
    // expired): nothing ran, and a reply not yet started tells the client
    // 404 right away. (A shared connection is re-established instead.)
    let own_session = matches!(env, Env::Session(s) if !s.shared_conn);
    if own_session && matches!(err, UpstreamError::SessionExpired) {
        sink.session_gone();
    }
    let outcome = match err {
        UpstreamError::Timeout(_) => UpstreamOutcome::Timeout,
        other => UpstreamOutcome::Failed(other.label()),
    };
    (outcome, Some(error_response(client_id, err)))
}

/// The JSON-RPC error a client gets when the upstream failed.
pub(crate) fn error_response(id: Option<Id>, err: &UpstreamError) -> Message {
    let code = match err {
        UpstreamError::Timeout(_) => codes::REQUEST_TIMEOUT,
        UpstreamError::Spawn { .. }
        | UpstreamError::Exited(_)
        | UpstreamError::Connect(_)
        | UpstreamError::Http { .. }
        | UpstreamError::SessionExpired
        | UpstreamError::Protocol(_)
        | UpstreamError::Closed
        | UpstreamError::Overloaded => codes::INTERNAL_ERROR,
    };
    let e = ErrorObject::new(code, err.to_string())
        .with_data(serde_json::json!({"toolgate": {"upstream": err.label()}}));
    Message::error(id, &e)
}

fn classify(resp: &Message, method: &str) -> UpstreamOutcome {
    if let Some(e) = resp.error_object() {
        return UpstreamOutcome::RpcError(e.code);
    }
    if method == "tools/call" && resp.result_is_error() {
        return UpstreamOutcome::ToolError;
    }
    UpstreamOutcome::Ok
}

/// Longest a bridged `input_required` round may wait for the client.
pub(crate) fn input_wait(timeout: Duration) -> Duration {
    timeout
}
