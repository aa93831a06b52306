//! The admin listener: `/metrics` (Prometheus text) and `/healthz`. It is a
//! separate listener so that operators can expose it to their monitoring
//! network only.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::{HeaderValue, header};

use super::health::healthz;
use crate::gateway::Gateway;

/// The admin routes.
pub(crate) fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(gw)
}

async fn metrics(State(gw): State<Arc<Gateway>>) -> Response {
    gw.refresh_metrics();
    let mut resp = Response::new(axum::body::Body::from(gw.metrics.encode()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}
