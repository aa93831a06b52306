//! Distributed tracing: one span per request, carrying the MCP method, the
//! tool, the verdict and the rule; continued from the client's
//! `traceparent` and passed on upstream in `_meta.traceparent` (where MCP
//! puts W3C trace context) and, for HTTP upstreams, the `traceparent`
//! header.
//!
//! The spans are ordinary `tracing` spans; they leave the process only when
//! the binary installs an OpenTelemetry layer (OTLP configured). Without
//! one, span contexts are invalid and nothing is injected.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use toolgate_mcp::{Message, RawObject};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::pipeline::{CallContext, Target};

/// The span of one request. It is a DEBUG span: the OpenTelemetry layer
/// takes it at any log level, but the log output formats every field of
/// every span it enables when the span is made, and at the default `info`
/// that cost every call about 19k instructions (11% of the gateway's,
/// `scripts/bench-instructions.sh`, docs/benchmarks.md) for context that
/// only a warning logged inside a request would show. `debug` (or
/// `toolgate::request=debug`) puts it back on log lines.
pub(crate) fn request_span(ctx: &CallContext, msg: &Message) -> Span {
    let target = match &ctx.target {
        Target::Tool(n) | Target::Prompt(n) | Target::Resource(n) => n.as_str(),
        Target::None => "",
    };
    let span = tracing::debug_span!(
        target: "toolgate::request",
        "mcp.request",
        otel.name = %if target.is_empty() { ctx.method.clone() } else { format!("{} {target}", ctx.method) },
        otel.kind = "server",
        mcp.method = %ctx.method,
        mcp.target = %target,
        toolgate.server = %ctx.server,
        toolgate.grant = %ctx.principal.grant,
        toolgate.request_id = ctx.id,
        toolgate.verdict = tracing::field::Empty,
        toolgate.rule = tracing::field::Empty,
        toolgate.upstream = tracing::field::Empty,
    );
    // Finding the traceparent parses the params: not for a span nothing
    // records (tracing off, the common case).
    if !span.is_disabled()
        && let Some(parent) = incoming_traceparent(msg).and_then(|tp| parse(&tp))
    {
        let _ = span.set_parent(parent);
    }
    span
}

/// `params._meta.traceparent` of a client request, if any.
fn incoming_traceparent(msg: &Message) -> Option<String> {
    let params = RawObject::parse(msg.params()).ok()?;
    let meta = RawObject::parse(params.get("_meta")).ok()?;
    meta.get_as::<String>("traceparent")
}

fn parse(traceparent: &str) -> Option<opentelemetry::Context> {
    let carrier: HashMap<String, String> =
        [("traceparent".to_owned(), traceparent.to_owned())].into();
    let cx = TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

/// The W3C `traceparent` of `span`, when it is being traced.
pub(crate) fn traceparent(span: &Span) -> Option<String> {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// Puts `traceparent` into the request's `_meta` (replacing the client's:
/// the upstream's parent is the gateway's span).
pub(crate) fn inject(mut msg: Message, traceparent: &str) -> Message {
    let Ok(mut params) = RawObject::parse(msg.params()) else {
        return msg;
    };
    if params
        .edit_object("_meta", |m| m.set_value("traceparent", traceparent))
        .is_ok()
    {
        msg.set_params(Some(params.into_raw()));
    }
    msg
}
