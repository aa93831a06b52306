//! OAuth 2.1 access-token validation for toolgate as a resource server.
//!
//! The MCP authorization spec makes the gateway a resource server: clients
//! present access tokens issued by an authorization server, and the gateway
//! must check each one before anything reaches an upstream. This crate
//! checks JWT access tokens (RFC 9068): the signature against the
//! authorization server's public keys (a JWKS URL, or static keys), then
//! `iss`, `aud` (RFC 8707: the gateway's resource URL for that server),
//! `exp`/`nbf` with leeway, `sub` and the required scopes. The answer is an
//! [`Identity`] or a [`TokenError`] that says whether the client gets 401
//! `invalid_token`, 403 `insufficient_scope` or 503.
//!
//! Only asymmetric algorithms can be configured, so `none` and HMAC tokens
//! are always refused and a public key is never used as an HMAC secret.
//!
//! **Invariants:** wall-clock time comes from an injected [`Clock`]; no
//! error message holds the token; the crate knows nothing of the gateway's
//! configuration file or HTTP edge (the gateway maps its config into
//! [`Settings`] and the errors into responses).
#![forbid(unsafe_code)]

mod claims;
mod clock;
mod error;
mod fetch;
mod jwks;
mod jwt;
mod keys;
mod settings;
mod validator;

pub use claims::Identity;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ErrorKind, TokenError};
pub use settings::{Algorithm, KeySource, Settings, SettingsError};
pub use validator::Validator;
