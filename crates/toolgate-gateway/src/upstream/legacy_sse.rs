//! Legacy HTTP+SSE upstreams (2024-11-05): GET an event stream whose first
//! event, `endpoint`, names the URL to POST messages to; every reply then
//! arrives as a `message` event on the stream.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{Method, Uri};
use http_body_util::Full;
use tokio::sync::mpsc;
use toolgate_mcp::Message;

use super::channel::ChannelCore;
use super::http::HttpTarget;
use super::http_client::{HttpClient, body_snippet};
use super::sse_body::SseBody;
use super::{UnrelatedRoute, UpstreamError};

/// Opens the event stream and waits (up to `timeout`) for its `endpoint`.
pub(crate) async fn connect_legacy_sse(
    client: &HttpClient,
    target: &HttpTarget,
    route: UnrelatedRoute,
    timeout: Duration,
) -> Result<Arc<ChannelCore>, UpstreamError> {
    let mut req = http::Request::builder()
        .method(Method::GET)
        .uri(target.url.clone())
        .header(ACCEPT, "text/event-stream");
    for (k, v) in &target.headers {
        req = req.header(k, v);
    }
    let req = req
        .body(Full::new(Bytes::new()))
        .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
    let resp = client.send(req).await?;
    if !resp.status().is_success() {
        let status = resp.status().as_u16();
        return Err(UpstreamError::Http {
            status,
            body: body_snippet(resp.into_body()).await,
        });
    }
    let mut sse = SseBody::new(resp.into_body(), target.max_message);
    let endpoint = tokio::time::timeout(timeout, wait_for_endpoint(&mut sse))
        .await
        .map_err(|_| UpstreamError::Timeout(timeout))??;
    let endpoint = resolve_endpoint(&target.url, &endpoint)?;
    tracing::debug!(server = %target.server, %endpoint, "legacy SSE endpoint");

    let (writer_tx, writer_rx) = mpsc::channel(64);
    let core = ChannelCore::new("sse", route, writer_tx);
    let poster = tokio::spawn(post_loop(
        client.clone(),
        target.clone(),
        endpoint,
        writer_rx,
        Arc::downgrade(&core),
    ));
    let reader_core = Arc::downgrade(&core);
    let server = target.server.clone();
    let reader = tokio::spawn(async move {
        let reason = loop {
            match sse.next().await {
                Some(Ok(ev)) if ev.event_type() == "message" && !ev.data.is_empty() => {
                    match reader_core.upgrade() {
                        Some(core) => core.on_payload(&ev.data, &server),
                        None => return,
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break e.to_string(),
                None => break "event stream closed".to_owned(),
            }
        };
        if let Some(core) = reader_core.upgrade() {
            tracing::warn!(server, %reason, "legacy SSE upstream stream ended");
            core.fail_all(UpstreamError::Exited(reason));
        }
    });
    core.set_closer(Box::new(move || {
        Box::pin(async move {
            reader.abort();
            poster.abort();
        })
    }));
    Ok(core)
}

async fn wait_for_endpoint(sse: &mut SseBody) -> Result<String, UpstreamError> {
    while let Some(ev) = sse.next().await {
        let ev = ev?;
        if ev.event_type() == "endpoint" {
            return Ok(ev.data);
        }
    }
    Err(UpstreamError::Protocol(
        "the event stream ended before its `endpoint` event".into(),
    ))
}

/// Resolves the `endpoint` reference against the stream URL. It must stay on
/// the same origin: an upstream must not steer the gateway's POSTs (and the
/// credentials in them) elsewhere.
pub(crate) fn resolve_endpoint(base: &Uri, reference: &str) -> Result<Uri, UpstreamError> {
    let reference = reference.trim();
    let resolved = if reference.starts_with("http://") || reference.starts_with("https://") {
        reference.to_owned()
    } else {
        let scheme = base.scheme_str().unwrap_or("http");
        let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
        let path = if reference.starts_with('/') {
            reference.to_owned()
        } else {
            let base_path = base.path();
            let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{reference}")
        };
        format!("{scheme}://{authority}{path}")
    };
    let uri: Uri = resolved
        .parse()
        .map_err(|_| UpstreamError::Protocol(format!("invalid endpoint {reference:?}")))?;
    if uri.scheme() != base.scheme() || uri.authority() != base.authority() {
        return Err(UpstreamError::Protocol(format!(
            "endpoint {uri} is not on the stream's origin"
        )));
    }
    Ok(uri)
}

async fn post_loop(
    client: HttpClient,
    target: HttpTarget,
    endpoint: Uri,
    mut rx: mpsc::Receiver<Message>,
    core: std::sync::Weak<ChannelCore>,
) {
    while let Some(msg) = rx.recv().await {
        let mut req = http::Request::builder()
            .method(Method::POST)
            .uri(endpoint.clone())
            .header(CONTENT_TYPE, "application/json");
        for (k, v) in &target.headers {
            req = req.header(k, v);
        }
        let Ok(req) = req.body(Full::new(Bytes::from(msg.to_bytes()))) else {
            continue;
        };
        let failure = match client.send(req).await {
            Ok(resp) if resp.status().is_success() => None,
            Ok(resp) => Some(UpstreamError::Http {
                status: resp.status().as_u16(),
                body: body_snippet(resp.into_body()).await,
            }),
            Err(e) => Some(e),
        };
        if let Some(e) = failure {
            tracing::warn!(server = %target.server, error = %e, "legacy SSE upstream refused a message");
            // The message is lost; a request waiting for its answer would
            // wait forever, so the connection is failed instead.
            if let Some(core) = core.upgrade() {
                core.fail_all(e);
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_resolve_on_the_same_origin_only() {
        let base: Uri = "http://127.0.0.1:3001/sse".parse().unwrap();
        let ok = |r: &str| resolve_endpoint(&base, r).unwrap().to_string();
        assert_eq!(
            ok("/message?sessionId=abc"),
            "http://127.0.0.1:3001/message?sessionId=abc"
        );
        assert_eq!(ok("messages?s=1"), "http://127.0.0.1:3001/messages?s=1");
        assert_eq!(ok("http://127.0.0.1:3001/m"), "http://127.0.0.1:3001/m");
        let nested: Uri = "http://h:1/a/b/sse".parse().unwrap();
        assert_eq!(
            resolve_endpoint(&nested, "msg").unwrap().to_string(),
            "http://h:1/a/b/msg"
        );
        assert!(resolve_endpoint(&base, "http://evil.example/m").is_err());
        assert!(resolve_endpoint(&base, "https://127.0.0.1:3001/m").is_err());
    }
}
