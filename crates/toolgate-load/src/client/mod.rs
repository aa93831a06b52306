//! A minimal MCP Streamable HTTP client for load: one HTTP/1.1 keep-alive
//! connection per caller on hyper's low-level `conn` API (no pool, no
//! retries, nothing between the clock and the socket), plus the session
//! handshake and the checks each answer must pass.

pub mod caller;
pub mod check;
pub mod session;

use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub use caller::McpCaller;
pub use check::CheckError;
pub use session::Session;

/// The header that names a session.
pub const SESSION_HEADER: &str = "mcp-session-id";
/// The header that names the negotiated revision.
pub const VERSION_HEADER: &str = "mcp-protocol-version";

/// Why a request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http://<loopback address>:<port>/<path>`.
    #[error("bad URL {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Connecting failed.
    #[error("connect {addr}: {source}")]
    Connect {
        /// Where to.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed (connection closed, malformed answer).
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    /// A request could not be built (a header value was invalid).
    #[error("request: {0}")]
    Build(#[from] http::Error),
    /// The answer was not what MCP says it must be.
    #[error(transparent)]
    Check(#[from] CheckError),
}

/// Where to send requests: a loopback address, the MCP path, the
/// credentials as ready-made header values, and the name the echo tool has
/// there (aggregating gateways rename tools: ContextForge calls it
/// `fixture-echo`).
#[derive(Clone, Debug)]
pub struct Endpoint {
    addr: SocketAddr,
    host: HeaderValue,
    path: String,
    auth: Option<HeaderValue>,
    echo_tool: String,
}

impl Endpoint {
    /// Parses `http://127.0.0.1:PORT/path`. Only loopback addresses are
    /// accepted: this is a load generator.
    pub fn parse(url: &str, token: Option<&str>) -> Result<Self, ClientError> {
        let bad = |reason| ClientError::Url {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("not http://"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr: SocketAddr = authority
            .replace("localhost", "127.0.0.1")
            .parse()
            .map_err(|_| bad("the host must be an IP address with a port"))?;
        if !addr.ip().is_loopback() {
            return Err(bad("only loopback addresses"));
        }
        let host = HeaderValue::from_str(authority).map_err(|_| bad("bad host"))?;
        let auth = token
            .map(|t| HeaderValue::from_str(&format!("Bearer {t}")))
            .transpose()
            .map_err(|_| bad("bad token"))?;
        Ok(Self {
            addr,
            host,
            path: path.to_owned(),
            auth,
            echo_tool: "echo".into(),
        })
    }

    /// The same endpoint where the echo tool is called `name`.
    pub fn with_echo_tool(mut self, name: &str) -> Self {
        name.clone_into(&mut self.echo_tool);
        self
    }

    /// The echo tool's name here.
    pub fn echo_tool(&self) -> &str {
        &self.echo_tool
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL, without credentials.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }
}

/// What came back for one POST.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// `Mcp-Session-Id`, if set.
    pub session: Option<String>,
    /// True when the body is an SSE stream rather than JSON.
    pub sse: bool,
    /// The whole body.
    pub body: Bytes,
}

/// One HTTP/1.1 connection: one request in flight at a time.
#[derive(Debug)]
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Connects (TCP_NODELAY) and runs the connection on a task.
    pub async fn connect(ep: &Endpoint) -> Result<Self, ClientError> {
        let stream = TcpStream::connect(ep.addr)
            .await
            .map_err(|source| ClientError::Connect {
                addr: ep.addr,
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the peer closes or the sender is dropped.
            let _ = conn.await;
        });
        Ok(Self { sender })
    }

    /// True once the connection can no longer be used.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// POSTs one JSON-RPC message and reads the whole answer.
    pub async fn post(
        &mut self,
        ep: &Endpoint,
        session: Option<&Session>,
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(ep.path.as_str())
            .header(HOST, ep.host.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(
                ACCEPT,
                HeaderValue::from_static("application/json, text/event-stream"),
            );
        if let Some(auth) = &ep.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        if let Some(s) = session {
            if let Some(id) = &s.id {
                req = req.header(SESSION_HEADER, id.clone());
            }
            req = req.header(VERSION_HEADER, s.protocol.clone());
        }
        let req = req.body(Full::new(body))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let headers = resp.headers();
        let session = headers
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let sse = headers
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            session,
            sse,
            body,
        })
    }
}

/// `GET path` on a fresh connection to `addr`; returns the status.
pub async fn get_status(addr: SocketAddr, path: &str) -> Result<StatusCode, ClientError> {
    Ok(plain_request(addr, Method::GET, path, None).await?.0)
}

/// One plain HTTP request (JSON body if any) on a fresh connection to
/// `addr`: for health checks and admin APIs, not for load.
pub async fn plain_request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    json: Option<String>,
) -> Result<(StatusCode, Bytes), ClientError> {
    let host = HeaderValue::from_str(&addr.to_string()).map_err(|_| ClientError::Url {
        url: addr.to_string(),
        reason: "bad host",
    })?;
    let ep = Endpoint {
        addr,
        host,
        path: path.to_owned(),
        auth: None,
        echo_tool: String::new(),
    };
    let mut conn = Conn::connect(&ep).await?;
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, ep.host.clone());
    if json.is_some() {
        req = req.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    let req = req.body(Full::new(json.map(Bytes::from).unwrap_or_default()))?;
    conn.sender.ready().await?;
    let resp = conn.sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_loopback_only() {
        let ep = Endpoint::parse("http://127.0.0.1:8800/mcp/crm", Some("t")).unwrap();
        assert_eq!(ep.addr().port(), 8800);
        assert_eq!(ep.path, "/mcp/crm");
        assert_eq!(ep.url(), "http://127.0.0.1:8800/mcp/crm");
        assert!(Endpoint::parse("http://localhost:1/mcp", None).is_ok());
        assert!(Endpoint::parse("http://[::1]:1/mcp", None).is_ok());
        assert!(Endpoint::parse("http://10.0.0.1:80/mcp", None).is_err());
        assert!(Endpoint::parse("https://127.0.0.1:1/mcp", None).is_err());
        assert!(Endpoint::parse("http://example.com:80/", None).is_err());
    }
}
