//! `/api/v1/grants`: list, create and revoke run-time grants. It goes
//! through the same functions as `toolgate grant`, so both refuse the same
//! things; a new grant's token is in the creation answer and nowhere else.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::ApiError;
use super::{Body, parse_json};
use crate::auth::{GrantView, NewGrant, create_grant, list_grants, revoke_grant};
use crate::gateway::Gateway;

/// `POST /api/v1/grants`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    server: String,
    #[serde(default)]
    policy: Option<String>,
}

/// A new grant and its token.
#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    grant: GrantView,
    token: String,
}

/// `GET /api/v1/grants`: the configuration's grants, then the store's
/// (revoked ones included).
pub(super) async fn list(State(gw): State<Arc<Gateway>>) -> Result<Response, ApiError> {
    let grants = list_grants(&gw.config, gw.auth.store()).await?;
    Ok(Json(json!({ "grants": grants })).into_response())
}

/// `POST /api/v1/grants`: 201 with the grant and its token.
pub(super) async fn create(
    State(gw): State<Arc<Gateway>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let body: CreateBody = parse_json(&body)?;
    let new = NewGrant {
        name: body.name,
        server: body.server,
        policy: body.policy,
    };
    let now = gw.pipeline.clock.now();
    let (grant, token) = create_grant(&gw.config, gw.auth.store(), new, now).await?;
    tracing::info!(grant = %grant.name, server = %grant.server, "grant created through the admin API");
    let mut resp = (StatusCode::CREATED, Json(Created { grant, token })).into_response();
    // The answer holds a credential: no cache may keep it.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `DELETE /api/v1/grants/{name}`: 204; the token is refused from the
/// next request on, on every replica.
pub(super) async fn revoke(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = gw.pipeline.clock.now();
    revoke_grant(&gw.config, gw.auth.store(), &name, now).await?;
    tracing::info!(grant = %name, "grant revoked through the admin API");
    Ok(StatusCode::NO_CONTENT)
}
