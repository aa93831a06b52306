//! The stack's floor: a reverse proxy built from the parts toolgate is
//! built from (tokio's single-threaded runtime, hyper's HTTP/1.1 server and
//! client) that does nothing else. Each client connection gets one
//! upstream connection of its own; a request's head is copied (less the
//! hop-by-hop headers) and both bodies stream through untouched. No
//! parsing, no policy, no audit, no pool, no timers.
//!
//! What it adds to a call is what any gateway on this stack pays before it
//! does any work of its own; nginx, beside it, is the floor of a proxy
//! written in C on epoll. toolgate's figures minus this one are the cost
//! of toolgate's own work.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, HOST};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use crate::child::{self, ChildProc};
use crate::error::HarnessError;
use crate::target::Target;

type Body = BoxBody<Bytes, hyper::Error>;

/// Accepts connections until the listener fails; each is proxied to
/// `upstream` on a task of its own.
pub async fn serve(listener: TcpListener, upstream: SocketAddr) -> std::io::Error {
    let host = match HeaderValue::from_str(&upstream.to_string()) {
        Ok(h) => h,
        Err(e) => return std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
    };
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) if crate::fixture::http::is_transient(&e) => continue,
            Err(e) => return e,
        };
        let _ = stream.set_nodelay(true);
        let host = host.clone();
        tokio::spawn(async move {
            // The upstream connection, opened by the first request and kept
            // for the client connection's life (as nginx's keep-alive pool
            // would hand back the same one under a closed loop).
            let conn: Arc<Mutex<Option<SendRequest<Incoming>>>> = Arc::default();
            let service = service_fn(move |req| {
                let conn = Arc::clone(&conn);
                let host = host.clone();
                async move { Ok::<_, Infallible>(forward(req, &conn, upstream, host).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn forward(
    req: Request<Incoming>,
    conn: &Mutex<Option<SendRequest<Incoming>>>,
    upstream: SocketAddr,
    host: HeaderValue,
) -> Response<Body> {
    let (mut head, body) = req.into_parts();
    head.headers.remove(CONNECTION);
    head.headers.insert(HOST, host);
    // HTTP/1.1 requests carry only the path on the wire.
    if let Some(pq) = head.uri.path_and_query().cloned() {
        head.uri = pq.into();
    }
    let mut slot = conn.lock().await;
    if slot.as_ref().is_some_and(SendRequest::is_closed) {
        *slot = None;
    }
    let sender = match &mut *slot {
        Some(s) => s,
        None => match connect(upstream).await {
            Ok(s) => slot.insert(s),
            Err(e) => return bad_gateway(&e),
        },
    };
    if let Err(e) = sender.ready().await {
        *slot = None;
        return bad_gateway(&e.to_string());
    }
    match sender.send_request(Request::from_parts(head, body)).await {
        Ok(resp) => {
            let (mut head, body) = resp.into_parts();
            head.headers.remove(CONNECTION);
            Response::from_parts(head, body.boxed())
        }
        Err(e) => {
            *slot = None;
            bad_gateway(&e.to_string())
        }
    }
}

async fn connect(upstream: SocketAddr) -> Result<SendRequest<Incoming>, String> {
    let stream = TcpStream::connect(upstream)
        .await
        .map_err(|e| format!("connecting to {upstream}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

fn bad_gateway(why: &str) -> Response<Body> {
    let body = Full::new(Bytes::from(format!("upstream: {why}")))
        .map_err(|never| match never {})
        .boxed();
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::BAD_GATEWAY;
    resp
}

/// Starts the floor proxy (this program again, `hyper-proxy`) in front of
/// `upstream` (the fixture's address).
pub async fn start(
    exe: &std::path::Path,
    upstream: SocketAddr,
    cpu: Option<usize>,
) -> Result<Target, HarnessError> {
    let (dir, listen) = child::scratch("toolgate-load-hyper")?;
    let (listen_arg, upstream_arg) = (listen.to_string(), upstream.to_string());
    let mut cmd = child::command(
        exe,
        [
            "hyper-proxy".as_ref(),
            "--listen".as_ref(),
            listen_arg.as_ref(),
            "--upstream".as_ref(),
            std::ffi::OsStr::new(&upstream_arg),
        ],
        cpu,
    );
    cmd.stdout(std::process::Stdio::null());
    let mut proc = ChildProc::spawn("hyper-proxy", cmd)?;
    if let Err(e) = child::wait_listening(&mut proc, listen, Duration::from_secs(10)).await {
        proc.stop(Duration::from_secs(1)).await;
        return Err(e.into());
    }
    let endpoint = super::endpoint(super::Peer::Hyper, listen)?;
    let pid = proc.pid();
    let note =
        "toolgate-load hyper-proxy (tokio current-thread, hyper http1 server and client, no work)"
            .to_owned();
    Ok(Target::new("hyper", endpoint, pid, note)
        .owning(proc)
        .with_dir(dir))
}
