//! Grants from the configuration: bearer tokens bound to one server. Only
//! SHA-256 digests of tokens are kept; a token is never logged or forwarded.
//!
//! Why a map keyed by digest is a constant-time check: what an attacker
//! controls is the token, and what the lookup compares is its SHA-256. The
//! time a lookup takes can at most reveal how many leading bytes of the
//! digest of a guess match a stored digest, which says nothing about the
//! token (finding a token with a chosen digest prefix is a preimage
//! search). The map's hasher is keyed at random per process, so bucket
//! timing reveals nothing either.

use foldhash::{HashMap, HashMapExt as _};
use std::sync::Arc;

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
            let principal = Arc::new(Principal::grant(&g.name, &g.server, g.policy.as_deref()));
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

    /// The server's anonymous grant, if it has one.
    pub fn anonymous(&self, server: &str) -> Option<Arc<Principal>> {
        self.anonymous.get(server).cloned()
    }

    /// The principal a token authenticates, if any.
    pub fn authenticate(&self, token: &str) -> Option<Arc<Principal>> {
        self.by_digest(&sha256(token.as_bytes()))
    }

    /// The principal of a token's SHA-256 digest, if any.
    pub fn by_digest(&self, digest: &[u8; 32]) -> Option<Arc<Principal>> {
        self.by_hash.get(digest).cloned()
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

pub(super) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
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
}
