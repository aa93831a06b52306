//! Fetching a JWK Set: one GET over hyper and rustls (the same stack as the
//! gateway's HTTP upstreams), bounded in time and size, and the freshness
//! the response asks for (`Cache-Control: max-age`).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use toolgate_net::{Connector, error_chain};

use crate::keys::KeySet;

/// Larger key sets are refused: real ones are a few KiB.
const MAX_BODY: usize = 1024 * 1024;

/// A fetched key set and how long the server says it stays fresh.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) keys: KeySet,
    pub(crate) max_age: Option<Duration>,
}

/// Fetches one URL's JWK Set.
#[derive(Debug)]
pub(crate) struct JwksFetcher {
    client: Client<Connector, Empty<Bytes>>,
    url: http::Uri,
    timeout: Duration,
}

impl JwksFetcher {
    /// A fetcher for `url` whose fetches give up after `timeout`.
    pub(crate) fn new(url: http::Uri, timeout: Duration) -> JwksFetcher {
        let client = Client::builder(TokioExecutor::new()).build(toolgate_net::connector(timeout));
        JwksFetcher {
            client,
            url,
            timeout,
        }
    }

    /// GETs the key set. The error says why, without the URL (callers log
    /// it), so that it may be shown to clients.
    pub(crate) async fn fetch(&self) -> Result<Fetched, String> {
        match tokio::time::timeout(self.timeout, self.fetch_inner()).await {
            Ok(result) => result,
            Err(_) => Err(format!("JWKS fetch timed out after {:?}", self.timeout)),
        }
    }

    async fn fetch_inner(&self) -> Result<Fetched, String> {
        let req = http::Request::get(self.url.clone())
            .header(
                http::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .body(Empty::new())
            .map_err(|e| format!("JWKS request: {e}"))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("JWKS fetch failed: {}", error_chain(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("JWKS endpoint answered {status}"));
        }
        let max_age = resp
            .headers()
            .get_all(http::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(max_age);
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("reading JWKS: {e}"))?
            .to_bytes();
        let keys = KeySet::from_jwk_json(&body).map_err(|e| format!("invalid JWKS: {e}"))?;
        Ok(Fetched { keys, max_age })
    }
}

/// The freshness one `Cache-Control` value grants: `max-age=N`, or zero for
/// `no-cache`/`no-store` (the caller clamps it to its minimum anyway).
fn max_age(value: &str) -> Option<Duration> {
    value.split(',').map(str::trim).find_map(|directive| {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(Duration::ZERO);
        }
        let seconds = lower.strip_prefix("max-age=")?.trim_matches('"');
        seconds.parse::<u64>().ok().map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_max_age() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            max_age("Max-Age=\"60\", must-revalidate"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
