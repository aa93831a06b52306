//! Making, listing and revoking grants: what `toolgate grant` and the admin
//! API share, so both check the same things.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use toolgate_config::Config;
use toolgate_state::{GrantRecord, GrantStore, StateError, new_token, token_sha256};

use crate::policy::rfc3339;

/// Why a grant could not be made, listed or revoked.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// The request names something that does not exist or is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The name is taken (by the configuration or the store).
    #[error("a grant named {0:?} already exists")]
    Duplicate(String),
    /// No grant of that name.
    #[error("no grant named {0:?}")]
    NotFound(String),
    /// The grant is written in the configuration file.
    #[error("grant {0:?} is defined in the configuration file; remove it there")]
    InConfig(String),
    /// There is no grant store (`grant_store: none`).
    #[error("no grant store is configured (grant_store: none)")]
    NoStore,
    /// The store failed.
    #[error("grant store: {0}")]
    Store(StateError),
}

impl From<StateError> for ManageError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Duplicate(name) => ManageError::Duplicate(name),
            other => ManageError::Store(other),
        }
    }
}

/// What to create.
#[derive(Debug, Clone)]
pub struct NewGrant {
    /// The unique name.
    pub name: String,
    /// The configured server it opens.
    pub server: String,
    /// The configured policy it is held to.
    pub policy: Option<String>,
}

/// A grant as listed (never with its token).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GrantView {
    /// Its name.
    pub name: String,
    /// The server it opens.
    pub server: String,
    /// Its policy.
    pub policy: Option<String>,
    /// `config` or `store`.
    pub source: &'static str,
    /// When it was made (store grants).
    pub created_at: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// Makes a grant: a fresh token, of which only the hash is stored. Returns
/// the token, to be shown once.
pub async fn create_grant(
    config: &Config,
    store: Option<&Arc<dyn GrantStore>>,
    grant: NewGrant,
    now: SystemTime,
) -> Result<(GrantView, String), ManageError> {
    let store = store.ok_or(ManageError::NoStore)?;
    let name_ok = !grant.name.is_empty()
        && grant.name.len() <= 128
        && grant
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if !name_ok {
        return Err(ManageError::Invalid(
            "a grant name may use letters, digits, '-', '_', '.' and '@' (at most 128)".into(),
        ));
    }
    if grant.name.starts_with("oauth:") || config.grants.iter().any(|g| g.name == grant.name) {
        return Err(ManageError::Duplicate(grant.name));
    }
    if !config.servers.contains_key(&grant.server) {
        return Err(ManageError::Invalid(format!(
            "no server named {:?} in the configuration",
            grant.server
        )));
    }
    if let Some(p) = &grant.policy
        && !config.policies.contains_key(p)
    {
        return Err(ManageError::Invalid(format!(
            "no policy named {p:?} in the configuration"
        )));
    }
    let token = new_token();
    let record = GrantRecord {
        name: grant.name,
        server: grant.server,
        policy: grant.policy,
        token_sha256: token_sha256(&token),
        created_at: now,
    };
    store.create(record.clone()).await?;
    Ok((view(&record, None), token))
}

/// Every grant: the configuration's, then the store's (revoked included).
pub async fn list_grants(
    config: &Config,
    store: Option<&Arc<dyn GrantStore>>,
) -> Result<Vec<GrantView>, ManageError> {
    let mut out: Vec<GrantView> = config
        .grants
        .iter()
        .map(|g| GrantView {
            name: g.name.clone(),
            server: g.server.clone(),
            policy: g.policy.clone(),
            source: "config",
            created_at: None,
            revoked_at: None,
        })
        .collect();
    if let Some(store) = store {
        for g in store.list().await? {
            out.push(view(&g.record, g.revoked_at));
        }
    }
    Ok(out)
}

/// Revokes a store grant from `now` on: every replica refuses its token
/// from the next request.
pub async fn revoke_grant(
    config: &Config,
    store: Option<&Arc<dyn GrantStore>>,
    name: &str,
    now: SystemTime,
) -> Result<(), ManageError> {
    if config.grants.iter().any(|g| g.name == name) {
        return Err(ManageError::InConfig(name.to_owned()));
    }
    let store = store.ok_or(ManageError::NoStore)?;
    match store.revoke(name, now).await {
        Ok(()) => Ok(()),
        Err(StateError::NotFound) => Err(ManageError::NotFound(name.to_owned())),
        Err(e) => Err(e.into()),
    }
}

fn view(r: &GrantRecord, revoked_at: Option<SystemTime>) -> GrantView {
    GrantView {
        name: r.name.clone(),
        server: r.server.clone(),
        policy: r.policy.clone(),
        source: "store",
        created_at: Some(rfc3339(r.created_at)),
        revoked_at: revoked_at.map(rfc3339),
    }
}
