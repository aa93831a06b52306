//! The admin API's errors and their one mapping to HTTP: every error is a
//! status and a `{"error": "..."}` body (with the position, for an invalid
//! policy), decided in exhaustive matches so a new error kind cannot slip
//! through with a default status.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;
use toolgate_policy::PolicyError;

use crate::auth::ManageError;
use crate::policy::ReplaceError;
use crate::upstream::UpstreamError;

/// Why an admin request failed. Messages never hold a token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// No admin token is configured, so the API is off.
    #[error("the admin API is disabled: set admin.token")]
    Disabled,
    /// No bearer token, or not the admin token.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// What the path names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with what exists (a duplicate name, a grant
    /// that lives in the configuration file).
    #[error("{0}")]
    Conflict(String),
    /// The policy text does not compile.
    #[error(transparent)]
    InvalidPolicy(PolicyError),
    /// A store the request needs cannot answer, or there is none.
    #[error("{0}")]
    Unavailable(String),
    /// The upstream could not be asked.
    #[error("upstream: {0}")]
    Upstream(UpstreamError),
    /// The gateway failed (a file it could not read or write).
    #[error("{0}")]
    Internal(String),
    /// The path exists, but not for this method.
    #[error("{0} is not allowed on this path")]
    MethodNotAllowed(String),
    /// The body is over the admin API's limit.
    #[error("the body is larger than the admin API takes ({0} bytes)")]
    TooLarge(usize),
}

impl ApiError {
    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Disabled => StatusCode::FORBIDDEN,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::InvalidPolicy(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Upstream(e) => upstream_status(e),
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

/// A slow upstream is a gateway timeout; every other failure to get an
/// answer is a bad gateway.
fn upstream_status(e: &UpstreamError) -> StatusCode {
    match e {
        UpstreamError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        UpstreamError::Spawn { .. }
        | UpstreamError::Exited(_)
        | UpstreamError::Connect(_)
        | UpstreamError::Http { .. }
        | UpstreamError::SessionExpired
        | UpstreamError::Protocol(_)
        | UpstreamError::Closed
        | UpstreamError::Overloaded => StatusCode::BAD_GATEWAY,
    }
}

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        let message = e.to_string();
        match e {
            ManageError::Invalid(_) => ApiError::BadRequest(message),
            ManageError::Duplicate(_) | ManageError::InConfig(_) => ApiError::Conflict(message),
            ManageError::NotFound(_) => ApiError::NotFound(message),
            ManageError::NoStore | ManageError::Store(_) => ApiError::Unavailable(message),
        }
    }
}

impl From<ReplaceError> for ApiError {
    fn from(e: ReplaceError) -> Self {
        match e {
            ReplaceError::Unknown(_) => ApiError::NotFound(e.to_string()),
            ReplaceError::Invalid(p) => ApiError::InvalidPolicy(p),
            ReplaceError::Write { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self, "admin API request failed");
        }
        let body = match &self {
            ApiError::InvalidPolicy(p) => json!({
                "error": self.to_string(),
                "line": p.line,
                "column": p.column,
                "path": p.path,
            }),
            ApiError::Disabled
            | ApiError::Unauthorized(_)
            | ApiError::BadRequest(_)
            | ApiError::NotFound(_)
            | ApiError::Conflict(_)
            | ApiError::Unavailable(_)
            | ApiError::Upstream(_)
            | ApiError::Internal(_)
            | ApiError::MethodNotAllowed(_)
            | ApiError::TooLarge(_) => json!({"error": self.to_string()}),
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"toolgate-admin\""),
            );
        }
        resp
    }
}
