//! Who is calling: a request's credential turned into a [`Principal`].
//!
//! A bearer token is, in order: an OAuth access token (JWT-shaped, on a
//! server with `oauth:`), a grant from the configuration (by SHA-256, no
//! I/O), or a grant from the grant store (one indexed query, nothing
//! cached, so a revocation holds from the next request on every replica).
//! A request without `Authorization` is the server's anonymous grant, if
//! it has one. Tokens are never logged, stored or passed upstream.

mod bearer;
mod grants;
mod manage;
mod oauth;
mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

use http::HeaderMap;
use toolgate_config::Config;
use toolgate_state::{GrantStore, StateError};

pub use bearer::{Credential, credential, looks_like_jwt};
pub use grants::GrantTable;
pub use manage::{GrantView, ManageError, NewGrant, create_grant, list_grants, revoke_grant};
pub use oauth::{OAuthResource, OAuthSetupError};
pub use store::{StoreOpenError, open_grant_store};

use crate::pipeline::Principal;

/// Why a request has no principal. Messages are safe to show the client:
/// they never repeat a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential, and the server has no anonymous grant.
    #[error("a bearer token is required")]
    Missing,
    /// A credential that does not authenticate (unknown, revoked, expired,
    /// badly signed, for another audience…).
    #[error("{0}")]
    Invalid(String),
    /// A valid access token without a scope the server requires.
    #[error("the access token lacks a required scope ({})", .0.join(" "))]
    InsufficientScope(Vec<String>),
    /// The grant opens another server.
    #[error("this grant is not valid for server {0:?}")]
    WrongServer(String),
    /// The grant store or the key set could not answer (fail closed).
    #[error("credentials cannot be checked right now: {0}")]
    Unavailable(String),
}

/// Turns credentials into principals for every server.
pub struct Authenticator {
    table: GrantTable,
    store: Option<Arc<dyn GrantStore>>,
    oauth: BTreeMap<String, OAuthResource>,
}

impl Authenticator {
    /// The grants of `config`, the store's, and each server's OAuth
    /// validator.
    pub fn new(
        config: &Config,
        store: Option<Arc<dyn GrantStore>>,
    ) -> Result<Authenticator, OAuthSetupError> {
        let mut oauth = BTreeMap::new();
        for (name, server) in &config.servers {
            if let Some(o) = &server.oauth {
                oauth.insert(name.clone(), OAuthResource::new(config, name, o)?);
            }
        }
        Ok(Authenticator {
            table: GrantTable::from_config(&config.grants),
            store,
            oauth,
        })
    }

    /// The principal of a request to `server`.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        server: &str,
    ) -> Result<Arc<Principal>, AuthError> {
        let principal = match credential(headers) {
            Credential::None => return self.table.anonymous(server).ok_or(AuthError::Missing),
            Credential::Unusable => {
                return Err(AuthError::Invalid(
                    "the Authorization header must be `Bearer <token>`".into(),
                ));
            }
            Credential::Bearer(token) => match self.oauth.get(server) {
                Some(resource) if looks_like_jwt(token) => resource.authenticate(token).await?,
                _ => self.grant(token).await?,
            },
        };
        if &*principal.server != server {
            return Err(AuthError::WrongServer(server.to_owned()));
        }
        Ok(principal)
    }

    /// A grant's principal by token: the configuration's, then the store's.
    pub async fn grant(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        let digest = grants::sha256(token.as_bytes());
        if let Some(p) = self.table.by_digest(&digest) {
            return Ok(p);
        }
        let unknown = || AuthError::Invalid("unknown or revoked token".into());
        let Some(store) = &self.store else {
            return Err(unknown());
        };
        match store.lookup(&hex::encode(digest)).await {
            Ok(Some(g)) => Ok(Arc::new(Principal::grant(
                &g.name,
                &g.server,
                g.policy.as_deref(),
            ))),
            Ok(None) => Err(unknown()),
            Err(e) => {
                tracing::warn!(store = store.kind(), error = %e, "grant store unavailable; request refused");
                Err(AuthError::Unavailable(
                    "the grant store is unavailable".into(),
                ))
            }
        }
    }

    /// A live grant's principal by name (for `toolgate stdio --grant`).
    pub async fn by_name(&self, name: &str) -> Result<Option<Arc<Principal>>, StateError> {
        if let Some(p) = self.table.by_name(name) {
            return Ok(Some(p));
        }
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let found = store
            .list()
            .await?
            .into_iter()
            .find(|g| g.record.name == name && g.revoked_at.is_none());
        Ok(found.map(|g| {
            Arc::new(Principal::grant(
                &g.record.name,
                &g.record.server,
                g.record.policy.as_deref(),
            ))
        }))
    }

    /// The server's OAuth resource, if it accepts access tokens.
    pub fn oauth(&self, server: &str) -> Option<&OAuthResource> {
        self.oauth.get(server)
    }

    /// Fetches every OAuth server's key set ahead of the first token.
    pub async fn warm_up(&self) {
        for resource in self.oauth.values() {
            resource.warm_up().await;
        }
    }

    /// The grant store, if there is one.
    pub fn store(&self) -> Option<&Arc<dyn GrantStore>> {
        self.store.as_ref()
    }
}
