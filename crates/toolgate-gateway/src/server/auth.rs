//! Grants: bearer tokens bound to one server. Only SHA-256 hashes of tokens
//! are kept; a token is never logged or forwarded.

use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderMap;
use sha2::{Digest, Sha256};
use toolgate_config::GrantConfig;

use crate::pipeline::Principal;

/// The grants from the configuration, by token hash.
#[derive(Default)]
pub struct GrantTable {
    by_hash: HashMap<[u8; 32], Arc<Principal>>,
    anonymous: HashMap<String, Arc<Principal>>,
}

impl GrantTable {
    /// Builds the table. Config validation guarantees each grant has a
    /// token or a 64-hex-digit hash.
    pub fn from_config(grants: &[GrantConfig]) -> GrantTable {
        let mut by_hash = HashMap::new();
        let mut anonymous = HashMap::new();
        for g in grants {
            let principal = Arc::new(Principal {
                grant: g.name.as_str().into(),
                server: g.server.as_str().into(),
                policy: g.policy.as_deref().map(Into::into),
            });
            if g.anonymous {
                tracing::warn!(grant = %g.name, server = %g.server, "server accepts unauthenticated requests (anonymous grant)");
                anonymous.insert(g.server.clone(), principal);
                continue;
            }
            let hash = match (&g.token, &g.token_sha256) {
                (Some(token), _) => sha256(token.as_bytes()),
                (None, Some(hex_hash)) => {
                    let mut out = [0u8; 32];
                    if hex::decode_to_slice(hex_hash, &mut out).is_err() {
                        continue;
                    }
                    out
                }
                (None, None) => continue,
            };
            by_hash.insert(hash, principal);
        }
        GrantTable { by_hash, anonymous }
    }

    /// The principal of a request to `server`: its bearer token's grant,
    /// or the server's anonymous grant when it sends no token.
    pub fn authenticate_headers(
        &self,
        headers: &HeaderMap,
        server: &str,
    ) -> Option<Arc<Principal>> {
        match bearer_token(headers) {
            Some(token) => self.authenticate(token),
            None if headers.get(http::header::AUTHORIZATION).is_none() => {
                self.anonymous.get(server).cloned()
            }
            None => None,
        }
    }

    /// The principal a token authenticates, if any.
    pub fn authenticate(&self, token: &str) -> Option<Arc<Principal>> {
        self.by_hash.get(&sha256(token.as_bytes())).cloned()
    }

    /// The principal of a named grant (for `toolgate stdio --grant NAME`).
    pub fn by_name(&self, name: &str) -> Option<Arc<Principal>> {
        self.by_hash
            .values()
            .chain(self.anonymous.values())
            .find(|p| &*p.grant == name)
            .cloned()
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(name: &str, token: Option<&str>, hash: Option<String>) -> GrantConfig {
        GrantConfig {
            name: name.into(),
            token: token.map(Into::into),
            token_sha256: hash,
            server: "crm".into(),
            policy: None,
            anonymous: false,
        }
    }

    #[test]
    fn tokens_and_hashes_authenticate() {
        let hashed = hex::encode(sha256(b"bob-token-0123456789"));
        let table = GrantTable::from_config(&[
            grant("alice", Some("alice-token-0123456789"), None),
            grant("bob", None, Some(hashed.to_uppercase())),
        ]);
        assert_eq!(
            &*table.authenticate("alice-token-0123456789").unwrap().grant,
            "alice"
        );
        assert_eq!(
            &*table.authenticate("bob-token-0123456789").unwrap().grant,
            "bob"
        );
        assert!(table.authenticate("alice-token-012345678").is_none());
        assert_eq!(&*table.by_name("bob").unwrap().server, "crm");
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert("authorization", "Bearer  abc ".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert("authorization", "bearer xyz".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("xyz"));
        h.insert("authorization", "Basic xyz".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
        h.insert("authorization", "Bearer ".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }
}
