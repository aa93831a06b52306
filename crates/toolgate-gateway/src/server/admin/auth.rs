//! The admin API's credential: one bearer token, separate from every grant,
//! known to the gateway by its SHA-256 only. The presented token is hashed
//! and the digests are compared in constant time, so the time a refusal
//! takes says nothing about how much of the token was right. Tokens are
//! never logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::auth::{Credential, credential};
use crate::gateway::Gateway;
use crate::metrics::Metrics;

/// What the check needs: the token's digest (none: the API is off) and
/// where refusals are counted.
pub(super) struct Guard {
    digest: Option<[u8; 32]>,
    metrics: Arc<Metrics>,
}

impl Guard {
    /// The guard for `gw`'s `admin.token` or `admin.token_sha256`.
    pub(super) fn new(gw: &Gateway) -> Guard {
        let admin = gw.config.admin.as_ref();
        let digest = match (
            admin.and_then(|a| a.token.as_deref()),
            admin.and_then(|a| a.token_sha256.as_deref()),
        ) {
            (Some(token), _) => Some(sha256(token.as_bytes())),
            (None, Some(hex_digest)) => {
                let parsed = hex::decode(hex_digest)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok());
                if parsed.is_none() {
                    // The configuration validator checks the form; if it
                    // slipped through, the API stays off rather than open.
                    tracing::error!("admin.token_sha256 is not a SHA-256; the admin API is off");
                }
                parsed
            }
            (None, None) => None,
        };
        Guard {
            digest,
            metrics: gw.metrics.clone(),
        }
    }

    fn check(&self, request: &Request) -> Result<(), Refusal> {
        let Some(expected) = &self.digest else {
            return Err(Refusal::Disabled);
        };
        match credential(request.headers()) {
            Credential::None => Err(Refusal::Missing),
            Credential::Unusable => Err(Refusal::Malformed),
            Credential::Bearer(token) => {
                let presented = sha256(token.as_bytes());
                if bool::from(presented.ct_eq(expected)) {
                    Ok(())
                } else {
                    Err(Refusal::Wrong)
                }
            }
        }
    }
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    /// No admin token is configured.
    Disabled,
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    Malformed,
    /// A token that is not the admin token.
    Wrong,
}

impl Refusal {
    /// The `http_refusals` metric's reason label.
    fn label(self) -> &'static str {
        match self {
            Refusal::Disabled => "admin_disabled",
            Refusal::Missing | Refusal::Malformed | Refusal::Wrong => "admin_unauthorized",
        }
    }

    fn error(self) -> ApiError {
        match self {
            Refusal::Disabled => ApiError::Disabled,
            Refusal::Missing => ApiError::Unauthorized("an admin bearer token is required"),
            Refusal::Malformed => {
                ApiError::Unauthorized("the Authorization header must be `Bearer <admin token>`")
            }
            Refusal::Wrong => ApiError::Unauthorized("invalid admin token"),
        }
    }
}

/// Lets the request through only with the admin token.
pub(super) async fn require(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    match guard.check(&request) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            guard.metrics.edge_refusal(refusal.label());
            tracing::debug!(
                path = request.uri().path(),
                ?refusal,
                "admin request refused"
            );
            refusal.error().into_response()
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}
