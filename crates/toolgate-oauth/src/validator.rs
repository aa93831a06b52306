//! The validator: header → key → signature → claims, in that order, so
//! that nothing in a token is believed before its signature is checked
//! (except the `alg` and `kid` needed to find the key, and those only
//! choose among keys we already trust).

use std::net::IpAddr;
use std::sync::Arc;

use crate::claims::{Identity, Rules};
use crate::clock::Clock;
use crate::error::{TokenError, sanitize};
use crate::fetch::JwksFetcher;
use crate::jwks::RemoteKeys;
use crate::jwt;
use crate::keys::KeySet;
use crate::settings::{Algorithm, KeySource, Settings, SettingsError};

/// Validates OAuth 2.1 access tokens (JWTs) for one protected resource.
pub struct Validator {
    algorithms: Vec<Algorithm>,
    rules: Rules,
    keys: Keys,
    clock: Arc<dyn Clock>,
}

enum Keys {
    Static(Arc<KeySet>),
    // Shared with its background refetches.
    Remote(Arc<RemoteKeys>),
}

impl Validator {
    /// A validator for `settings`, reading time from `clock`.
    ///
    /// Static keys are parsed now; a JWKS URL is checked but not fetched
    /// until the first token (or [`Validator::refresh`]).
    pub fn new(settings: Settings, clock: Arc<dyn Clock>) -> Result<Validator, SettingsError> {
        if settings.issuer.is_empty() {
            return Err(SettingsError::EmptyIssuer);
        }
        if settings.audiences.iter().all(String::is_empty) {
            return Err(SettingsError::NoAudience);
        }
        if settings.algorithms.is_empty() {
            return Err(SettingsError::NoAlgorithm);
        }
        let keys = match &settings.keys {
            KeySource::JwksUrl(url) => Keys::Remote(Arc::new(RemoteKeys::new(
                JwksFetcher::new(jwks_url(url)?, settings.http_timeout),
                settings.jwks_cache_ttl,
                settings.jwks_min_refetch_interval,
                clock.clone(),
            ))),
            KeySource::Pem(pem) => {
                Keys::Static(static_keys(KeySet::from_pem(pem), &settings.algorithms)?)
            }
            KeySource::Jwk(json) => Keys::Static(static_keys(
                KeySet::from_jwk_json(json.as_bytes()),
                &settings.algorithms,
            )?),
        };
        Ok(Validator {
            algorithms: settings.algorithms,
            rules: Rules {
                issuer: settings.issuer,
                audiences: settings.audiences,
                leeway: settings.leeway,
                required_scopes: settings.required_scopes,
            },
            keys,
            clock,
        })
    }

    /// Validates a bearer token (without the `Bearer ` prefix) and says who
    /// it speaks for.
    pub async fn validate(&self, token: &str) -> Result<Identity, TokenError> {
        let token = jwt::parse(token, &self.algorithms)?;
        let kid = token.kid.as_deref();
        let keys = match &self.keys {
            Keys::Static(keys) => keys.clone(),
            Keys::Remote(remote) => remote.keys_for(kid, token.alg).await?,
        };
        let candidates = keys
            .candidates(kid, token.alg)
            .ok_or_else(|| TokenError::UnknownKey(kid.map(sanitize)))?;
        let verified = candidates
            .iter()
            .any(|key| key.verifies(token.signing_input, token.signature, token.alg));
        if !verified {
            return Err(TokenError::BadSignature);
        }
        let claims = jwt::claims(token.payload)?;
        self.rules.check(claims, self.clock.now())
    }

    /// Fetches the JWK Set now (a startup warm-up; a no-op for static
    /// keys). Not rate limited, but joins a fetch already in flight.
    pub async fn refresh(&self) -> Result<(), TokenError> {
        match &self.keys {
            Keys::Static(_) => Ok(()),
            Keys::Remote(remote) => remote.refresh().await,
        }
    }

    /// Waits until a background refetch of stale keys, if one is running,
    /// has finished (for tests and tools that need the cache settled).
    pub async fn revalidated(&self) {
        if let Keys::Remote(remote) = &self.keys {
            remote.revalidated().await;
        }
    }
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("algorithms", &self.algorithms)
            .field("rules", &self.rules)
            .field(
                "keys",
                &match self.keys {
                    Keys::Static(_) => "static",
                    Keys::Remote(_) => "jwks_url",
                },
            )
            .finish_non_exhaustive()
    }
}

fn static_keys(
    parsed: Result<KeySet, String>,
    algs: &[Algorithm],
) -> Result<Arc<KeySet>, SettingsError> {
    let keys = parsed.map_err(SettingsError::InvalidKey)?;
    if !keys.fits_any(algs) {
        return Err(SettingsError::NoUsableKey);
    }
    Ok(Arc::new(keys))
}

/// Parses a JWKS URL: https, or plain http to a loopback host (tests, a
/// sidecar). Anything else would let the network choose our keys.
fn jwks_url(url: &str) -> Result<http::Uri, SettingsError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| SettingsError::InvalidJwksUrl(e.to_string()))?;
    let Some(host) = uri.host() else {
        return Err(SettingsError::InvalidJwksUrl("no host".into()));
    };
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if loopback => Ok(uri),
        Some("http") => Err(SettingsError::InsecureJwksUrl),
        _ => Err(SettingsError::InvalidJwksUrl(
            "the scheme must be https".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_urls_must_be_https_unless_loopback() {
        for ok in [
            "https://idp.example/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert!(jwks_url(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            jwks_url("http://idp.example/jwks"),
            Err(SettingsError::InsecureJwksUrl)
        );
        assert!(matches!(
            jwks_url("ftp://idp/jwks"),
            Err(SettingsError::InvalidJwksUrl(_))
        ));
        assert!(matches!(
            jwks_url("/jwks"),
            Err(SettingsError::InvalidJwksUrl(_))
        ));
        assert!(matches!(
            jwks_url("not a url"),
            Err(SettingsError::InvalidJwksUrl(_))
        ));
    }
}
