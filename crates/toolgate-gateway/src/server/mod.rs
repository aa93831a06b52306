//! The client-facing HTTP server: `/mcp/<server>` (Streamable HTTP, every
//! protocol generation), `/healthz`, and the OAuth protected resource
//! metadata; and the admin listener.
//!
//! Connections are served by hyper directly (not `axum::serve`) so the
//! header-read timeout, the connection limit and graceful shutdown are
//! ours to set.

pub mod admin;
pub mod edge;
mod error;
mod get;
mod health;
pub(crate) mod inflight;
mod metadata;
mod overflow;
mod post;
mod reply;
mod service;
mod stateless_headers;
mod timer_anchor;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get as get_route;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use error::{Challenge, EdgeError};
use service::ConnService;

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
        .route(
            "/.well-known/oauth-protected-resource/mcp/{server}",
            get_route(metadata::protected_resource),
        )
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
    let app = ConnService::with_direct_post(gw.clone(), router(gw.clone()));
    serve_app(&gw, app, listener)
}

/// Serves the admin routes (`/metrics`, `/healthz`, the `/api/v1/` admin
/// API) on `listener`.
pub fn serve_admin(gw: Arc<Gateway>, listener: TcpListener) -> std::io::Result<Running> {
    let app = ConnService::router_only(admin::router(gw.clone()));
    serve_app(&gw, app, listener)
}

fn serve_app(gw: &Gateway, app: ConnService, listener: TcpListener) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let http = &gw.config.http;
    let limits = ConnLimits {
        header_timeout: http.header_read_timeout.0,
        grace: http.shutdown_grace.0,
        max_connections: http.max_connections,
    };
    tokio::spawn(timer_anchor::run(
        timer_anchor::period(limits.header_timeout),
        stop.clone(),
    ));
    let task = tokio::spawn(accept_loop(
        listener,
        app,
        limits,
        gw.metrics.clone(),
        stop.clone(),
    ));
    Ok(Running { addr, stop, task })
}

/// What bounds a listener's connections.
struct ConnLimits {
    header_timeout: Duration,
    grace: Duration,
    max_connections: usize,
}

async fn accept_loop(
    listener: TcpListener,
    app: ConnService,
    limits: ConnLimits,
    metrics: Arc<crate::metrics::Metrics>,
    stop: CancellationToken,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper applies the header-read timeout to every request of a
    // connection, the wait for the next one on an idle keep-alive
    // connection included: it is also the idle timeout.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let grace = limits.grace;
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
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics.edge_refusal("too_many_connections");
            tracing::warn!(%peer, limit = limits.max_connections, "connection refused: too many open");
            tokio::spawn(overflow::refuse(socket, limits.max_connections));
            continue;
        };
        let _ = socket.set_nodelay(true);
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(socket), app.clone());
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _permit = permit;
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
