//! Errors at the HTTP edge and their one mapping to an HTTP status and a
//! JSON-RPC error. The mapping is an exhaustive `match`: a new variant does
//! not compile until it says how it is answered.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use toolgate_mcp::{ErrorObject, Id, Message, ProtocolVersion, codes};

use super::edge::EdgeRefusal;

/// Why the edge refused a request before it reached a session.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// `Host` or `Origin` not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No credential, or one that does not authenticate.
    #[error("Unauthorized: {}", .0.message)]
    Unauthorized(Box<Challenge>),
    /// A valid access token without a required scope.
    #[error("Forbidden: {}", .0.message)]
    InsufficientScope(Box<Challenge>),
    /// The grant belongs to another server.
    #[error("this grant is not valid for server {0:?}")]
    WrongServer(String),
    /// Credentials cannot be checked (grant store or key set down).
    #[error("Service Unavailable: {0}")]
    AuthUnavailable(String),
    /// No such server.
    #[error("no MCP server named {0:?}")]
    UnknownServer(String),
    /// The HTTP method is not served here.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The client accepts neither JSON nor SSE.
    #[error("the Accept header must allow application/json or text/event-stream")]
    NotAcceptable,
    /// The body is not declared as JSON.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// The body exceeds the limit.
    #[error("request body exceeds {0} bytes")]
    BodyTooLarge(usize),
    /// The body did not arrive within the body-read timeout.
    #[error("the request body did not arrive within {0:?}")]
    BodyTimeout(std::time::Duration),
    /// The caller already has its maximum of requests in flight.
    #[error("too many requests in flight for this grant (limit {0}); retry when one finishes")]
    TooManyInFlight(usize),
    /// The body could not be read (client went away, too slow).
    #[error("could not read the request body: {0}")]
    BodyRead(String),
    /// The body is not JSON.
    #[error("Parse error: {0}")]
    Parse(String),
    /// The JSON is not a valid JSON-RPC message.
    #[error("Invalid Request: {reason}")]
    InvalidRequest {
        /// What is wrong.
        reason: String,
        /// The message id, when readable.
        id: Option<Id>,
    },
    /// A batch where the protocol revision forbids batches.
    #[error("Invalid Request: JSON-RPC batches are not allowed in protocol revision {0}")]
    BatchNotAllowed(ProtocolVersion),
    /// A request without `Mcp-Session-Id` that is not `initialize` or stateless.
    #[error("Bad Request: Mcp-Session-Id header is required")]
    SessionRequired,
    /// The session does not exist (or ended, or belongs to another grant).
    #[error("Session not found")]
    SessionNotFound,
    /// An unknown `MCP-Protocol-Version` on a sessionful request.
    #[error("Bad Request: unsupported MCP-Protocol-Version {0:?}")]
    BadProtocolHeader(String),
    /// 2026-07-28: headers and body disagree, or a required header is missing.
    #[error("Header mismatch: {0}")]
    HeaderMismatch(String),
    /// 2026-07-28: `_meta` missing or unsupported version.
    #[error("{}", .0.message)]
    StatelessMeta(ErrorObject),
    /// A second standalone GET stream on one session.
    #[error("Conflict: only one standalone SSE stream is allowed per session")]
    StreamConflict,
    /// A session another replica started could continue here, but this
    /// replica holds its maximum of sessions.
    #[error("too many open sessions on this gateway (limit {0}); retry later")]
    TooManySessions(usize),
}

impl From<crate::session::Lookup> for EdgeError {
    fn from(l: crate::session::Lookup) -> Self {
        match l {
            crate::session::Lookup::NotFound => EdgeError::SessionNotFound,
            crate::session::Lookup::Full(max) => EdgeError::TooManySessions(max),
        }
    }
}

/// What a `WWW-Authenticate: Bearer` challenge says (RFC 6750, RFC 9728).
#[derive(Debug, Clone, Default)]
pub struct Challenge {
    /// The human-readable reason (also the JSON-RPC error message).
    pub message: String,
    /// `invalid_token` or `insufficient_scope`; none when no credential
    /// was sent (RFC 6750 §3.1).
    pub error: Option<&'static str>,
    /// The scopes the resource needs.
    pub scope: Option<String>,
    /// The protected resource metadata URL, for servers that take OAuth.
    pub resource_metadata: Option<String>,
}

impl Challenge {
    /// The `WWW-Authenticate` header value.
    pub fn header(&self) -> String {
        let mut out = String::from("Bearer realm=\"toolgate\"");
        if let Some(url) = &self.resource_metadata {
            out.push_str(&format!(", resource_metadata=\"{}\"", quoted(url)));
        }
        if let Some(error) = self.error {
            out.push_str(&format!(
                ", error=\"{error}\", error_description=\"{}\"",
                quoted(&self.message)
            ));
        }
        if let Some(scope) = &self.scope {
            out.push_str(&format!(", scope=\"{}\"", quoted(scope)));
        }
        out
    }
}

/// Makes text safe inside a quoted-string: RFC 6750 allows printable ASCII
/// without the double quote and the backslash in its parameters.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '\'',
        })
        .collect()
}

impl From<EdgeRefusal> for EdgeError {
    fn from(r: EdgeRefusal) -> Self {
        match r {
            EdgeRefusal::Host(h) => {
                EdgeError::Forbidden(format!("Forbidden: Host {h:?} is not allowed"))
            }
            EdgeRefusal::Origin(o) => {
                EdgeError::Forbidden(format!("Forbidden: Origin {o:?} is not allowed"))
            }
        }
    }
}

impl EdgeError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            EdgeError::Forbidden(_)
            | EdgeError::WrongServer(_)
            | EdgeError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            EdgeError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            EdgeError::AuthUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            EdgeError::UnknownServer(_) | EdgeError::SessionNotFound => StatusCode::NOT_FOUND,
            EdgeError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            EdgeError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            EdgeError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            EdgeError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            EdgeError::StreamConflict => StatusCode::CONFLICT,
            EdgeError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            EdgeError::TooManyInFlight(_) => StatusCode::TOO_MANY_REQUESTS,
            EdgeError::TooManySessions(_) => StatusCode::SERVICE_UNAVAILABLE,
            EdgeError::BodyRead(_)
            | EdgeError::Parse(_)
            | EdgeError::InvalidRequest { .. }
            | EdgeError::BatchNotAllowed(_)
            | EdgeError::SessionRequired
            | EdgeError::BadProtocolHeader(_)
            | EdgeError::HeaderMismatch(_)
            | EdgeError::StatelessMeta(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON-RPC error in the body.
    pub fn rpc(&self) -> (Option<Id>, ErrorObject) {
        let code = match self {
            EdgeError::Parse(_) => codes::PARSE_ERROR,
            EdgeError::InvalidRequest { .. }
            | EdgeError::BatchNotAllowed(_)
            | EdgeError::BodyTooLarge(_) => codes::INVALID_REQUEST,
            EdgeError::SessionNotFound => codes::SESSION_NOT_FOUND,
            EdgeError::HeaderMismatch(_) => codes::HEADER_MISMATCH,
            EdgeError::StatelessMeta(e) => e.code,
            EdgeError::Forbidden(_)
            | EdgeError::Unauthorized(_)
            | EdgeError::InsufficientScope(_)
            | EdgeError::AuthUnavailable(_)
            | EdgeError::WrongServer(_)
            | EdgeError::UnknownServer(_)
            | EdgeError::MethodNotAllowed
            | EdgeError::NotAcceptable
            | EdgeError::UnsupportedMediaType
            | EdgeError::BodyRead(_)
            | EdgeError::SessionRequired
            | EdgeError::BadProtocolHeader(_)
            | EdgeError::StreamConflict
            | EdgeError::BodyTimeout(_)
            | EdgeError::TooManyInFlight(_)
            | EdgeError::TooManySessions(_) => codes::SERVER_ERROR,
        };
        let id = match self {
            EdgeError::InvalidRequest { id, .. } => id.clone(),
            _ => None,
        };
        let err = match self {
            EdgeError::StatelessMeta(e) => e.clone(),
            other => ErrorObject::new(code, other.to_string()),
        };
        (id, err)
    }

    /// A stable label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            EdgeError::Forbidden(_) => "forbidden",
            EdgeError::Unauthorized(_) => "unauthorized",
            EdgeError::InsufficientScope(_) => "insufficient_scope",
            EdgeError::AuthUnavailable(_) => "auth_unavailable",
            EdgeError::WrongServer(_) => "wrong_server",
            EdgeError::UnknownServer(_) => "unknown_server",
            EdgeError::MethodNotAllowed => "method_not_allowed",
            EdgeError::NotAcceptable => "not_acceptable",
            EdgeError::UnsupportedMediaType => "unsupported_media_type",
            EdgeError::BodyTooLarge(_) => "body_too_large",
            EdgeError::BodyRead(_) => "body_read",
            EdgeError::BodyTimeout(_) => "body_timeout",
            EdgeError::TooManyInFlight(_) => "too_many_in_flight",
            EdgeError::Parse(_) => "parse_error",
            EdgeError::InvalidRequest { .. } => "invalid_request",
            EdgeError::BatchNotAllowed(_) => "batch_not_allowed",
            EdgeError::SessionRequired => "session_required",
            EdgeError::SessionNotFound => "session_not_found",
            EdgeError::BadProtocolHeader(_) => "bad_protocol_header",
            EdgeError::HeaderMismatch(_) => "header_mismatch",
            EdgeError::StatelessMeta(_) => "stateless_meta",
            EdgeError::StreamConflict => "stream_conflict",
            EdgeError::TooManySessions(_) => "too_many_sessions",
        }
    }
}

impl IntoResponse for EdgeError {
    fn into_response(self) -> Response {
        let status = self.status();
        tracing::debug!(
            status = status.as_u16(),
            error = self.label(),
            "request refused at the edge: {self}"
        );
        let (id, err) = self.rpc();
        let body = Message::error(id, &err).to_bytes();
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = status;
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match self {
            EdgeError::Unauthorized(c) | EdgeError::InsufficientScope(c) => {
                if let Ok(v) = HeaderValue::from_str(&c.header()) {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            EdgeError::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
            }
            _ => {}
        }
        resp
    }
}
