//! The outbound HTTP client stack every toolgate request to another server
//! uses (HTTP upstreams, JWKS fetches): hyper over plain TCP or rustls on
//! ring with the webpki roots, HTTP/1.1 and HTTP/2 by ALPN. One place to
//! build it, so the gateway carries one TLS configuration, not one per use.

use std::error::Error;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

/// TCP, or TLS when the URL says `https`.
pub type Connector = HttpsConnector<HttpConnector>;

/// A connector whose TCP connects give up after `connect_timeout`, with
/// Nagle's algorithm off (requests are written whole; waiting for an ACK
/// before the next write only adds latency).
pub fn connector(connect_timeout: Duration) -> Connector {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    // `https` URLs reach the TLS layer above instead of being refused here.
    http.enforce_http(false);
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http)
}

/// `e` and its sources in one line, `outer: inner: root`, leaving out a
/// source whose text the line already holds (many errors print their
/// cause in their own message and also return it as `source()`).
pub fn error_chain(e: &dyn Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use bytes::Bytes;
    use http_body_util::Empty;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    use super::*;

    #[derive(Debug)]
    struct Layer {
        text: String,
        source: Option<Box<Layer>>,
    }

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.text)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.source.as_deref().map(|s| s as &(dyn Error + 'static))
        }
    }

    fn layer(text: &str, source: Option<Layer>) -> Layer {
        Layer {
            text: text.into(),
            source: source.map(Box::new),
        }
    }

    #[test]
    fn the_chain_is_one_line_outermost_first() {
        let e = layer(
            "client error (Connect)",
            Some(layer(
                "tcp connect error",
                Some(layer("Connection refused (os error 111)", None)),
            )),
        );
        assert_eq!(
            error_chain(&e),
            "client error (Connect): tcp connect error: Connection refused (os error 111)"
        );
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let e = layer(
            "reading the key set: connection reset",
            Some(layer("connection reset", None)),
        );
        assert_eq!(error_chain(&e), "reading the key set: connection reset");
    }

    fn client() -> Client<Connector, Empty<Bytes>> {
        Client::builder(TokioExecutor::new()).build(connector(Duration::from_secs(5)))
    }

    /// The connector really connects: a plain `http` GET through a client
    /// built on it, to a listener on loopback that answers by hand.
    #[tokio::test]
    async fn the_connector_reaches_a_plain_http_server() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0; 4096];
            let n = s.read(&mut buf).await.expect("read");
            assert!(buf[..n].starts_with(b"GET /keys HTTP/1.1\r\n"));
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .expect("write");
        });
        let client = client();
        let uri: http::Uri = format!("http://{addr}/keys").parse().expect("uri");
        let resp = client.get(uri).await.expect("response");
        assert_eq!(resp.status(), 200);
        server.await.expect("server");
    }

    /// A refused connect comes back as an error whose chain names the cause.
    #[tokio::test]
    async fn a_refused_connect_says_why() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let client = client();
        let uri: http::Uri = format!("http://{addr}/").parse().expect("uri");
        let e = client.get(uri).await.expect_err("nothing listens");
        let line = error_chain(&e);
        assert!(line.contains("refused"), "{line}");
    }
}
