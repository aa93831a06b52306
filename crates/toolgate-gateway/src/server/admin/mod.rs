//! The admin listener: `/metrics` (Prometheus text) and `/healthz` for
//! anyone who can reach it, and the admin API under `/api/v1/` for holders
//! of the admin token. It is a listener of its own so that operators can
//! expose it to their monitoring and operations network only.
//!
//! [`ROUTES`] is the one list of what the listener serves: the router is
//! built from it and the tests compare it with `docs/admin-openapi.yaml`,
//! so the code and the document cannot drift apart.

mod auth;
mod error;
mod grants;
mod health;
mod policies;
mod servers;
mod tools;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::middleware;
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, on};
use http::{HeaderValue, Method, StatusCode, header};

use self::auth::Guard;
use self::error::ApiError;
use crate::gateway::Gateway;

/// One route of the admin listener.
#[derive(Clone, Debug)]
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The path, with `{param}` segments (axum and OpenAPI write them alike).
    pub path: &'static str,
    /// True when the admin token is required.
    pub authenticated: bool,
    /// Every status the route can answer with.
    pub statuses: &'static [u16],
    endpoint: Endpoint,
}

/// The handler behind a route; matched exhaustively when the router is
/// built, so a route without a handler does not compile.
#[derive(Clone, Copy, Debug)]
enum Endpoint {
    Metrics,
    Healthz,
    Health,
    ListGrants,
    CreateGrant,
    RevokeGrant,
    ListPolicies,
    GetPolicy,
    ValidatePolicy,
    PutPolicy,
    ListServers,
    ListTools,
}

const fn open(method: Method, path: &'static str, statuses: &'static [u16], e: Endpoint) -> Route {
    Route {
        method,
        path,
        authenticated: false,
        statuses,
        endpoint: e,
    }
}

const fn api(method: Method, path: &'static str, statuses: &'static [u16], e: Endpoint) -> Route {
    Route {
        method,
        path,
        authenticated: true,
        statuses,
        endpoint: e,
    }
}

/// Every route the admin listener serves. Authenticated routes also answer
/// 401 (no or wrong token) and 403 (no admin token configured).
pub const ROUTES: &[Route] = &[
    open(Method::GET, "/metrics", &[200], Endpoint::Metrics),
    open(Method::GET, "/healthz", &[200, 503], Endpoint::Healthz),
    api(
        Method::GET,
        "/api/v1/health",
        &[200, 401, 403],
        Endpoint::Health,
    ),
    api(
        Method::GET,
        "/api/v1/grants",
        &[200, 401, 403, 503],
        Endpoint::ListGrants,
    ),
    api(
        Method::POST,
        "/api/v1/grants",
        &[201, 400, 401, 403, 409, 413, 503],
        Endpoint::CreateGrant,
    ),
    api(
        Method::DELETE,
        "/api/v1/grants/{name}",
        &[204, 401, 403, 404, 409, 503],
        Endpoint::RevokeGrant,
    ),
    api(
        Method::GET,
        "/api/v1/policies",
        &[200, 401, 403],
        Endpoint::ListPolicies,
    ),
    api(
        Method::GET,
        "/api/v1/policies/{name}",
        &[200, 401, 403, 404, 500],
        Endpoint::GetPolicy,
    ),
    api(
        Method::POST,
        "/api/v1/policies/{name}/validate",
        &[200, 400, 401, 403, 404, 413, 422],
        Endpoint::ValidatePolicy,
    ),
    api(
        Method::PUT,
        "/api/v1/policies/{name}",
        &[200, 400, 401, 403, 404, 413, 422, 500],
        Endpoint::PutPolicy,
    ),
    api(
        Method::GET,
        "/api/v1/servers",
        &[200, 401, 403],
        Endpoint::ListServers,
    ),
    api(
        Method::GET,
        "/api/v1/servers/{name}/tools",
        &[200, 401, 403, 404, 502, 504],
        Endpoint::ListTools,
    ),
];

/// The admin routes, built from [`ROUTES`]. The `/api/v1/` routes sit
/// behind the admin-token check; unknown paths get a JSON 404, a method a
/// path does not serve a JSON 405.
pub(crate) fn router(gw: Arc<Gateway>) -> Router {
    let guard = Arc::new(Guard::new(&gw));
    let mut public = Router::new();
    let mut private = Router::new();
    for route in ROUTES {
        let handler = handler(route);
        if route.authenticated {
            private = private.route(route.path, handler);
        } else {
            public = public.route(route.path, handler);
        }
    }
    let private = private.route_layer(middleware::from_fn_with_state(guard, auth::require));
    public
        .merge(private)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(gw)
}

fn handler(route: &Route) -> MethodRouter<Arc<Gateway>> {
    // The table's methods are all standard ones axum can filter on.
    let filter = MethodFilter::try_from(route.method.clone()).unwrap_or(MethodFilter::GET);
    match route.endpoint {
        Endpoint::Metrics => on(filter, metrics),
        Endpoint::Healthz => on(filter, super::health::healthz),
        Endpoint::Health => on(filter, health::health),
        Endpoint::ListGrants => on(filter, grants::list),
        Endpoint::CreateGrant => on(filter, grants::create),
        Endpoint::RevokeGrant => on(filter, grants::revoke),
        Endpoint::ListPolicies => on(filter, policies::list),
        Endpoint::GetPolicy => on(filter, policies::get),
        Endpoint::ValidatePolicy => on(filter, policies::validate),
        Endpoint::PutPolicy => on(filter, policies::put),
        Endpoint::ListServers => on(filter, servers::list),
        Endpoint::ListTools => on(filter, tools::list),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// axum still adds the `Allow` header to this answer.
async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
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

/// The most a request body may hold (a policy file, a new grant).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A request body of at most [`MAX_BODY_BYTES`]; over it, or unreadable,
/// the answer is the API's JSON error (413, 400), not axum's plain text.
struct Body(bytes::Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match bytes::Bytes::from_request(req, state).await {
            Ok(b) => Ok(Body(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::TooLarge(MAX_BODY_BYTES))
            }
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// A JSON request body; malformed JSON or a wrong shape is a 400.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))
}

/// A text request body (a policy); it must be UTF-8.
fn parse_text(body: bytes::Bytes) -> Result<String, ApiError> {
    String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::BadRequest("the request body must be UTF-8 text".into()))
}
