//! What the gateway tells the validator: whose tokens to accept, for which
//! resource, signed how, and where the keys come from. A plain struct: the
//! gateway maps its own configuration into it, so this crate has no opinion
//! on file formats.

use std::time::Duration;

/// The signature algorithms a token may use.
///
/// Only asymmetric algorithms exist here: a resource server verifies with
/// the authorization server's *public* keys, so `none` and the HMAC family
/// cannot even be configured (no algorithm confusion: a public key is never
/// used as an HMAC secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// EdDSA on Ed25519.
    EdDsa,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The JOSE name (`"RS256"`, `"ES256"`, …), as in a token's `alg`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// The algorithm with JOSE name `name` (case-sensitive, as RFC 7518
    /// says); `None` for `none`, HMAC and anything unknown.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    pub(crate) fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::Rs384 => jsonwebtoken::Algorithm::RS384,
            Algorithm::Rs512 => jsonwebtoken::Algorithm::RS512,
            Algorithm::Ps256 => jsonwebtoken::Algorithm::PS256,
            Algorithm::Ps384 => jsonwebtoken::Algorithm::PS384,
            Algorithm::Ps512 => jsonwebtoken::Algorithm::PS512,
            Algorithm::Es256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::Es384 => jsonwebtoken::Algorithm::ES384,
            Algorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

/// Where the authorization server's public keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// A JWK Set fetched over HTTPS (plain HTTP only to a loopback host),
    /// cached, and refetched when a token names a key it does not hold.
    JwksUrl(String),
    /// One PEM public key (`BEGIN PUBLIC KEY`: RSA, EC P-256/P-384 or
    /// Ed25519; or `BEGIN RSA PUBLIC KEY`). It has no `kid`, so it is tried
    /// for every token whose algorithm fits it.
    Pem(String),
    /// A JSON document holding one JWK or a JWK Set (`{"keys": [...]}`).
    Jwk(String),
}

/// How to validate access tokens for one protected resource.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The authorization server's issuer identifier; a token's `iss` must
    /// equal it exactly.
    pub issuer: String,
    /// The resource's identifiers (RFC 8707: the gateway's URL for the
    /// upstream server); a token's `aud` must contain at least one.
    pub audiences: Vec<String>,
    /// Where the verification keys come from.
    pub keys: KeySource,
    /// The algorithms a token may be signed with (default RS256, ES256).
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `nbf` (default 60 s).
    pub leeway: Duration,
    /// Scopes every token must carry, or the request is refused with
    /// `insufficient_scope`.
    pub required_scopes: Vec<String>,
    /// How long a fetched JWK Set is fresh when the response has no
    /// `Cache-Control: max-age` (default 5 min). A `max-age` is honoured
    /// but clamped between [`Settings::jwks_min_refetch_interval`] and a day.
    pub jwks_cache_ttl: Duration,
    /// The least time between two fetches of the JWK Set, whatever asks for
    /// them (default 30 s): tokens with made-up `kid`s, or an authorization
    /// server that is down, must not make us hammer it.
    pub jwks_min_refetch_interval: Duration,
    /// The limit on one fetch, connect to last byte (default 5 s).
    pub http_timeout: Duration,
}

impl Settings {
    /// Settings with the defaults above for everything but what has none.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>, keys: KeySource) -> Settings {
        Settings {
            issuer: issuer.into(),
            audiences,
            keys,
            algorithms: vec![Algorithm::Rs256, Algorithm::Es256],
            leeway: Duration::from_secs(60),
            required_scopes: Vec::new(),
            jwks_cache_ttl: Duration::from_secs(300),
            jwks_min_refetch_interval: Duration::from_secs(30),
            http_timeout: Duration::from_secs(5),
        }
    }
}

/// Why settings were refused by [`crate::Validator::new`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The issuer is empty.
    #[error("the issuer is empty")]
    EmptyIssuer,
    /// No audience (resource identifier) is configured.
    #[error("no audience is configured")]
    NoAudience,
    /// No algorithm is allowed.
    #[error("no signature algorithm is allowed")]
    NoAlgorithm,
    /// The JWKS URL does not parse or is not http(s).
    #[error("invalid JWKS URL: {0}")]
    InvalidJwksUrl(String),
    /// The JWKS URL is plain HTTP to a host other than loopback: anyone on
    /// the path could substitute keys.
    #[error("the JWKS URL must use https (plain http only to a loopback host)")]
    InsecureJwksUrl,
    /// A static key does not parse (or is a private key).
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// No static key can verify any of the allowed algorithms.
    #[error("no configured key fits the allowed algorithms")]
    NoUsableKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_refuse_symmetric_algorithms() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        }
        for name in ["none", "None", "HS256", "HS384", "HS512", "rs256", ""] {
            assert_eq!(Algorithm::from_name(name), None, "{name}");
        }
    }
}
