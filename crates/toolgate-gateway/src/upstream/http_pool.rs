//! The connections kept open to one origin (scheme and authority).
//!
//! Why not hyper-util's pooled `legacy::Client`: on the hot path it cost
//! about 13.7k instructions a request beyond the connection itself
//! (docs/benchmarks.md, "The stack's floor"): the pool is keyed by scheme
//! and authority and hashes them per request (case-folding, SipHash), locks
//! and times every checkout and return, and spawns a task per request to
//! put an HTTP/1.1 connection back once its answer is read. Here the
//! origin is looked up once per upstream connection (`HttpConn`), a
//! request takes an idle HTTP/1.1 connection from a list, and the answer's
//! body puts it back when it reaches its end (no task).
//!
//! HTTP/2 is spoken when TLS negotiates it (ALPN): one multiplexed
//! connection per origin, shared.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::HOST;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::client::legacy::connect::Connection as _;
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;
use tokio::time::Instant;
use toolgate_net::{Connector, error_chain};
use tower::ServiceExt as _;

use super::UpstreamError;

type H1 = http1::SendRequest<Full<Bytes>>;
type H2 = http2::SendRequest<Full<Bytes>>;

/// How long an HTTP/1.1 connection may wait unused before it is closed
/// instead of reused (servers close idle ones too; reusing one they are
/// about to close costs a retry).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// One origin's open connections.
pub(crate) struct Origin {
    connector: Connector,
    /// `scheme://authority/`: what the connector is given.
    uri: Uri,
    /// `Host` for HTTP/1.1 requests (the authority, without a default
    /// port).
    host: HeaderValue,
    idle: Mutex<Vec<Idle>>,
    /// The multiplexed connection, once the origin chose HTTP/2.
    h2: Mutex<Option<H2>>,
}

struct Idle {
    sender: H1,
    since: Instant,
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origin")
            .field("uri", &self.uri)
            .field("idle", &self.idle.lock().len())
            .finish_non_exhaustive()
    }
}

impl Origin {
    pub(crate) fn new(
        connector: Connector,
        scheme: Scheme,
        authority: Authority,
    ) -> Result<Origin, UpstreamError> {
        let default_port = if scheme == Scheme::HTTPS { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(p) if p == default_port => authority.host().to_owned(),
            _ => authority.as_str().to_owned(),
        };
        let host = HeaderValue::from_str(&host)
            .map_err(|e| UpstreamError::Connect(format!("the upstream's host: {e}")))?;
        let uri = Uri::builder()
            .scheme(scheme)
            .authority(authority)
            .path_and_query("/")
            .build()
            .map_err(|e| UpstreamError::Connect(format!("the upstream's URL: {e}")))?;
        Ok(Origin {
            connector,
            uri,
            host,
            idle: Mutex::new(Vec::new()),
            h2: Mutex::new(None),
        })
    }

    /// Sends `req` (an absolute URI of this origin) on a connection of the
    /// pool, or a new one.
    pub(crate) async fn send(
        self: &Arc<Self>,
        req: Request<Full<Bytes>>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        let h2 = self.h2.lock().clone().filter(|s| !s.is_closed());
        if let Some(h2) = h2 {
            return Box::pin(self.send_h2(h2, req)).await;
        }
        let (mut parts, body) = req.into_parts();
        let path_only = origin_form(&parts.uri);
        let absolute = std::mem::replace(&mut parts.uri, path_only);
        let own_host = !parts.headers.contains_key(HOST);
        if own_host {
            parts.headers.insert(HOST, self.host.clone());
        }
        let mut req = Request::from_parts(parts, body);
        loop {
            let (mut sender, reused) = match self.take_idle() {
                Some(s) => (s, true),
                // Boxed: the handshakes' futures are large (HTTP/2's holds
                // its codec), and would otherwise be part of, and copied
                // with, every request's future on the hot path.
                None => match Box::pin(self.connect()).await? {
                    Sender::H1(s) => (s, false),
                    Sender::H2(s) => {
                        // HTTP/2 names the origin in `:authority`, from
                        // the absolute URI.
                        *req.uri_mut() = absolute;
                        if own_host {
                            req.headers_mut().remove(HOST);
                        }
                        return Box::pin(self.send_h2(s, req)).await;
                    }
                },
            };
            if let Err(e) = sender.ready().await {
                if reused {
                    continue;
                }
                return Err(UpstreamError::Connect(error_chain(&e)));
            }
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    let giveback = Some((Arc::clone(self), sender));
                    return Ok(resp.map(|body| UpstreamBody { body, giveback }));
                }
                // A kept connection the server had closed before the
                // request went out: nothing was sent, so it is safe to
                // send again on another (a request that reached the wire
                // is never sent twice).
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => req = unsent,
                    _ => return Err(UpstreamError::Connect(error_chain(e.error()))),
                },
            }
        }
    }

    async fn send_h2(
        &self,
        mut sender: H2,
        req: Request<Full<Bytes>>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        let sent = match sender.ready().await {
            Ok(()) => sender.send_request(req).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(resp) => Ok(resp.map(|body| UpstreamBody {
                body,
                giveback: None,
            })),
            Err(e) => {
                if sender.is_closed() {
                    self.h2.lock().take();
                }
                Err(UpstreamError::Connect(error_chain(&e)))
            }
        }
    }

    /// An idle HTTP/1.1 connection still open, dropping those that waited
    /// too long or were closed meanwhile.
    fn take_idle(&self) -> Option<H1> {
        let mut idle = self.idle.lock();
        while let Some(i) = idle.pop() {
            if !i.sender.is_closed() && i.since.elapsed() < IDLE_TIMEOUT {
                return Some(i.sender);
            }
        }
        None
    }

    /// Puts a connection whose last answer was read in full back.
    fn give_back(&self, sender: H1) {
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.idle.lock();
        // The list is a stack, so ordered by `since`: the expired are a
        // prefix, found by bisection instead of a scan per request. One
        // the server closed is skipped when taken, or goes with its age.
        let expired = idle.partition_point(|i| now.duration_since(i.since) >= IDLE_TIMEOUT);
        idle.drain(..expired);
        idle.push(Idle { sender, since: now });
    }

    async fn connect(&self) -> Result<Sender, UpstreamError> {
        let io = self
            .connector
            .clone()
            .oneshot(self.uri.clone())
            .await
            .map_err(|e| UpstreamError::Connect(error_chain(&*e)))?;
        let handshake = |e: hyper::Error| UpstreamError::Connect(error_chain(&e));
        if io.connected().is_negotiated_h2() {
            let (sender, conn) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(handshake)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            *self.h2.lock() = Some(sender.clone());
            return Ok(Sender::H2(sender));
        }
        let (sender, conn) = http1::handshake(io).await.map_err(handshake)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Sender::H1(sender))
    }
}

enum Sender {
    H1(H1),
    H2(H2),
}

/// HTTP/1.1 puts the path alone on the request line.
fn origin_form(uri: &Uri) -> Uri {
    let pq = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    Uri::from(pq)
}

/// An upstream answer's body. Read to its end, it puts its HTTP/1.1
/// connection back in the pool; dropped before, the connection closes.
#[derive(Debug)]
pub(crate) struct UpstreamBody {
    body: Incoming,
    giveback: Option<(Arc<Origin>, H1)>,
}

impl UpstreamBody {
    fn finish(&mut self) {
        if let Some((origin, sender)) = self.giveback.take() {
            origin.give_back(sender);
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.finish(),
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.finish(),
            // The connection's state is unknown: it closes with the sender.
            Poll::Ready(Some(Err(_))) => self.giveback = None,
            Poll::Ready(Some(Ok(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for UpstreamBody {
    /// An empty answer (`202 Accepted`) is at its end before anyone reads
    /// it: its connection goes back too.
    fn drop(&mut self) {
        if self.body.is_end_stream() {
            self.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    use super::*;

    /// A local HTTP/1.1 server that counts its connections and answers
    /// `path host` (the request line's target and the `Host` header), or,
    /// for `/big`, 1 MiB.
    async fn server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let svc = service_fn(|req: Request<Incoming>| async move {
                        let body = if req.uri().path() == "/big" {
                            Bytes::from(vec![b'x'; 1 << 20])
                        } else {
                            let host = req.headers().get(HOST).cloned();
                            let host = host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or("");
                            Bytes::from(format!("{} {host}", req.uri()))
                        };
                        Ok::<_, Infallible>(Response::new(Full::new(body)))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        (addr, accepted)
    }

    fn origin(addr: std::net::SocketAddr) -> Arc<Origin> {
        let authority = Authority::try_from(addr.to_string()).expect("authority");
        let connector = toolgate_net::connector(Duration::from_secs(5));
        Arc::new(Origin::new(connector, Scheme::HTTP, authority).expect("origin"))
    }

    fn get(addr: std::net::SocketAddr, path: &str) -> Request<Full<Bytes>> {
        Request::get(format!("http://{addr}{path}"))
            .body(Full::new(Bytes::new()))
            .expect("request")
    }

    async fn text(resp: Response<UpstreamBody>) -> String {
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        String::from_utf8_lossy(&body).into_owned()
    }

    #[tokio::test]
    async fn requests_in_turn_share_one_connection_in_origin_form_with_host() {
        let (addr, accepted) = server().await;
        let o = origin(addr);
        for _ in 0..3 {
            let resp = o.send(get(addr, "/mcp?x=1")).await.expect("answer");
            assert_eq!(text(resp).await, format!("/mcp?x=1 {addr}"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn requests_at_once_get_connections_of_their_own_then_reuse_them() {
        let (addr, accepted) = server().await;
        let o = origin(addr);
        let first = o.send(get(addr, "/a")).await.expect("first");
        let second = o.send(get(addr, "/b")).await.expect("second");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "the first is still being read"
        );
        assert!(text(first).await.starts_with("/a "));
        assert!(text(second).await.starts_with("/b "));
        assert_eq!(o.idle.lock().len(), 2);
        let third = o.send(get(addr, "/c")).await.expect("third");
        assert!(text(third).await.starts_with("/c "));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_takes_its_connection_with_it() {
        let (addr, accepted) = server().await;
        let o = origin(addr);
        let big = o.send(get(addr, "/big")).await.expect("big");
        drop(big);
        assert!(o.idle.lock().is_empty());
        let resp = o.send(get(addr, "/after")).await.expect("after");
        assert!(text(resp).await.starts_with("/after "));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_idle_connection_past_its_timeout_is_not_reused() {
        let (addr, accepted) = server().await;
        let o = origin(addr);
        let (first, second) = (
            o.send(get(addr, "/a")).await.expect("a"),
            o.send(get(addr, "/b")).await.expect("b"),
        );
        text(first).await;
        tokio::time::pause();
        tokio::time::advance(IDLE_TIMEOUT).await;
        // Returned past the first's timeout: the first is dropped then.
        text(second).await;
        assert_eq!(o.idle.lock().len(), 1);
        tokio::time::advance(IDLE_TIMEOUT).await;
        let resp = o.send(get(addr, "/c")).await.expect("c");
        assert!(text(resp).await.starts_with("/c "));
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            3,
            "a new connection for /c"
        );
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_replaced() {
        // Answers one request per connection, then closes it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = vec![0; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
                drop(s);
            }
        });
        let o = origin(addr);
        for _ in 0..3 {
            let resp = o.send(get(addr, "/")).await.expect("answer");
            assert_eq!(text(resp).await, "ok");
        }
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error_naming_the_cause() {
        let gone = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = gone.local_addr().expect("addr");
        drop(gone);
        let err = origin(addr)
            .send(get(addr, "/"))
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, UpstreamError::Connect(m) if m.contains("refused")),
            "{err:?}"
        );
    }

    #[test]
    fn host_leaves_out_the_default_port() {
        let connector = toolgate_net::connector(Duration::from_secs(5));
        let a = |s: &str| Authority::try_from(s).expect("authority");
        let o = Origin::new(connector.clone(), Scheme::HTTPS, a("api.example:443")).expect("o");
        assert_eq!(o.host, "api.example");
        let o = Origin::new(connector, Scheme::HTTP, a("api.example:8080")).expect("o");
        assert_eq!(o.host, "api.example:8080");
    }
}
