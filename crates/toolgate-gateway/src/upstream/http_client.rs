//! The HTTP client for remote upstreams: hyper over plain TCP or rustls,
//! with connection pooling. Bodies are read incrementally, never buffered
//! whole unless they are small JSON.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use toolgate_net::{Connector, error_chain};

use super::UpstreamError;

/// A pooled HTTP/1.1 and HTTP/2 client.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    inner: Client<Connector, Full<Bytes>>,
}

impl HttpClient {
    /// A client whose TCP connects give up after `connect_timeout`.
    pub(crate) fn new(connect_timeout: Duration) -> HttpClient {
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(toolgate_net::connector(connect_timeout));
        HttpClient { inner }
    }

    /// Sends a request and returns the response head with a streaming body.
    pub(crate) async fn send(
        &self,
        req: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<Incoming>, UpstreamError> {
        self.inner
            .request(req)
            .await
            .map_err(|e| UpstreamError::Connect(error_chain(&e)))
    }
}

/// Reads a whole body, refusing more than `limit` bytes.
pub(crate) async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, UpstreamError> {
    Limited::new(body, limit)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| UpstreamError::Protocol(format!("reading upstream body: {e}")))
}

/// The start of a body, for error messages.
pub(crate) async fn body_snippet(body: Incoming) -> String {
    match read_body(body, 64 * 1024).await {
        Ok(b) => {
            let text = String::from_utf8_lossy(&b);
            text.chars().take(300).collect()
        }
        Err(_) => String::new(),
    }
}
