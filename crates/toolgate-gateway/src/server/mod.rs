//! The client-facing HTTP server: `/mcp/<server>` (Streamable HTTP, every
//! protocol generation) and `/healthz`.
//!
//! Connections are served by hyper directly (not `axum::serve`) so the
//! header-read timeout and graceful shutdown are ours to set.

mod admin;
pub mod auth;
pub mod edge;
mod error;
mod get;
mod health;
mod post;
mod reply;
mod stateless_headers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get as get_route;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use error::EdgeError;

use crate::gateway::Gateway;

/// The routes.
pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route(
            "/mcp/{server}",
            get_route(get::get)
                .post(post::post)
                .delete(get::delete)
                .fallback(method_not_allowed),
        )
        .route("/healthz", get_route(health::healthz))
        .with_state(gw)
}

async fn method_not_allowed() -> EdgeError {
    EdgeError::MethodNotAllowed
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, waits for open requests (up to the grace period),
    /// then returns.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Serves `gw` on `listener` until shut down.
pub fn serve(gw: Arc<Gateway>, listener: TcpListener) -> std::io::Result<Running> {
    let app = router(gw.clone());
    serve_app(&gw, app, listener)
}

/// Serves the admin routes (`/metrics`, `/healthz`) on `listener`.
pub fn serve_admin(gw: Arc<Gateway>, listener: TcpListener) -> std::io::Result<Running> {
    let app = admin::router(gw.clone());
    serve_app(&gw, app, listener)
}

fn serve_app(gw: &Gateway, app: Router, listener: TcpListener) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let header_timeout = gw.config.http.header_read_timeout.0;
    let grace = gw.config.http.shutdown_grace.0;
    let task = tokio::spawn(accept_loop(
        listener,
        app,
        header_timeout,
        grace,
        stop.clone(),
    ));
    Ok(Running { addr, stop, task })
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    grace: Duration,
    stop: CancellationToken,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    loop {
        let (socket, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let _ = socket.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(socket), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "shutdown grace period over; dropping open connections"
        );
    }
}
