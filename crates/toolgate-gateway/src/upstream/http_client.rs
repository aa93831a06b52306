//! The HTTP client for remote upstreams: hyper over plain TCP or rustls,
//! connections kept per origin (`http_pool`). Bodies are read
//! incrementally, never buffered whole unless they are small JSON.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use foldhash::{HashMap, HashMapExt as _};
use http::uri::Scheme;
use http_body_util::{BodyExt, Full, Limited};
use parking_lot::Mutex;
use toolgate_net::Connector;

use super::UpstreamError;
use super::http_pool::Origin;
pub(crate) use super::http_pool::UpstreamBody;

/// HTTP/1.1 and HTTP/2 connections to any number of origins, shared.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    connector: Connector,
    /// By authority, one map per scheme (looked up by `&str`, no
    /// allocation per request).
    http: Mutex<HashMap<Box<str>, Arc<Origin>>>,
    https: Mutex<HashMap<Box<str>, Arc<Origin>>>,
}

impl HttpClient {
    /// A client whose TCP connects give up after `connect_timeout`.
    pub(crate) fn new(connect_timeout: Duration) -> HttpClient {
        HttpClient {
            inner: Arc::new(Inner {
                connector: toolgate_net::connector(connect_timeout),
                http: Mutex::new(HashMap::new()),
                https: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Sends a request (absolute `http` or `https` URI) and returns the
    /// response head with a streaming body.
    pub(crate) async fn send(
        &self,
        req: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<UpstreamBody>, UpstreamError> {
        let origin = self.origin(req.uri())?;
        origin.send(req).await
    }

    fn origin(&self, uri: &http::Uri) -> Result<Arc<Origin>, UpstreamError> {
        let scheme = uri.scheme().cloned().unwrap_or(Scheme::HTTP);
        let map = if scheme == Scheme::HTTPS {
            &self.inner.https
        } else if scheme == Scheme::HTTP {
            &self.inner.http
        } else {
            return Err(UpstreamError::Connect(format!(
                "unsupported scheme {scheme} in {uri}"
            )));
        };
        let Some(authority) = uri.authority() else {
            return Err(UpstreamError::Connect(format!("no host in {uri}")));
        };
        let mut map = map.lock();
        if let Some(o) = map.get(authority.as_str()) {
            return Ok(Arc::clone(o));
        }
        let o = Arc::new(Origin::new(
            self.inner.connector.clone(),
            scheme,
            authority.clone(),
        )?);
        map.insert(authority.as_str().into(), Arc::clone(&o));
        Ok(o)
    }
}

/// Reads a whole body, refusing more than `limit` bytes.
pub(crate) async fn read_body(body: UpstreamBody, limit: usize) -> Result<Bytes, UpstreamError> {
    Limited::new(body, limit)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| UpstreamError::Protocol(format!("reading upstream body: {e}")))
}

/// The start of a body, for error messages.
pub(crate) async fn body_snippet(body: UpstreamBody) -> String {
    match read_body(body, 64 * 1024).await {
        Ok(b) => {
            let text = String::from_utf8_lossy(&b);
            text.chars().take(300).collect()
        }
        Err(_) => String::new(),
    }
}
