//! RFC 9728 protected resource metadata for servers that take OAuth access
//! tokens: where a client learns which authorization server to ask, after
//! a 401 whose `WWW-Authenticate` names this document.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::gateway::Gateway;

/// `GET /.well-known/oauth-protected-resource/mcp/{server}`.
pub(crate) async fn protected_resource(
    State(gw): State<Arc<Gateway>>,
    Path(server): Path<String>,
) -> Response {
    let Some(resource) = gw.auth.oauth(&server) else {
        return (
            StatusCode::NOT_FOUND,
            "no OAuth-protected server of that name",
        )
            .into_response();
    };
    let mut resp = axum::Json(resource.metadata().clone()).into_response();
    // Metadata changes only with the configuration; clients may cache it
    // briefly.
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}
