//! Verification keys: parsed from a JWK Set (or one JWK) or a PEM public
//! key, each tagged with what it can verify so that a token's `alg` picks
//! only keys of its own type. Keys a resource server must not or cannot use
//! (symmetric `oct` keys, encryption keys, unknown types and curves) are
//! skipped rather than failing the whole set: one odd key at the
//! authorization server must not lock every client out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use serde_json::Value;

use crate::settings::Algorithm;

/// RSA moduli shorter than this are refused (RFC 7518 §3.3: 2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// The kind of a public key, which decides the algorithms it can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyType {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyType {
    fn fits(self, alg: Algorithm) -> bool {
        match alg {
            Algorithm::Rs256
            | Algorithm::Rs384
            | Algorithm::Rs512
            | Algorithm::Ps256
            | Algorithm::Ps384
            | Algorithm::Ps512 => self == KeyType::Rsa,
            Algorithm::Es256 => self == KeyType::EcP256,
            Algorithm::Es384 => self == KeyType::EcP384,
            Algorithm::EdDsa => self == KeyType::Ed25519,
        }
    }
}

/// One public key and what it may verify.
#[derive(Clone)]
pub(crate) struct VerifyingKey {
    kid: Option<String>,
    key_type: KeyType,
    /// The JWK's `alg`: when present, the only algorithm the key may verify.
    alg: Option<Algorithm>,
    key: DecodingKey,
}

impl VerifyingKey {
    fn fits(&self, alg: Algorithm) -> bool {
        self.key_type.fits(alg) && self.alg.is_none_or(|a| a == alg)
    }

    /// Whether `signature` over `input` verifies with this key and `alg`.
    pub(crate) fn verifies(&self, input: &str, signature: &str, alg: Algorithm) -> bool {
        // An error here means a key the backend cannot use for `alg` (it was
        // filtered by type already) or a signature that is not base64url:
        // either way, not a valid signature.
        jsonwebtoken::crypto::verify(signature, input.as_bytes(), &self.key, alg.to_jwt())
            .unwrap_or(false)
    }
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("key_type", &self.key_type)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A set of verification keys.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeySet {
    keys: Vec<VerifyingKey>,
}

impl KeySet {
    /// The keys to try for a token with `kid` and `alg`, or `None` if the
    /// set knows no such key (which may warrant a refetch).
    ///
    /// With a `kid`: the keys carrying it that fit `alg` (possibly none:
    /// the token's header and the key disagree); failing that, the keys
    /// without a `kid` that fit. Without a `kid`: every key that fits.
    pub(crate) fn candidates(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Option<Vec<&VerifyingKey>> {
        let fitting = |k: &&VerifyingKey| k.fits(alg);
        if let Some(kid) = kid {
            let named: Vec<&VerifyingKey> = self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect();
            if !named.is_empty() {
                return Some(named.into_iter().filter(fitting).collect());
            }
        }
        let unnamed: Vec<&VerifyingKey> = self
            .keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.is_none())
            .filter(fitting)
            .collect();
        (!unnamed.is_empty()).then_some(unnamed)
    }

    /// How many keys the set holds.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether any key can verify one of `algs`.
    pub(crate) fn fits_any(&self, algs: &[Algorithm]) -> bool {
        self.keys.iter().any(|k| algs.iter().any(|a| k.fits(*a)))
    }

    /// Reads a JWK Set, or a single JWK, skipping keys it cannot use.
    pub(crate) fn from_jwk_json(json: &[u8]) -> Result<KeySet, String> {
        let doc: Value = serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
        let entries = match doc {
            Value::Object(mut map) => match map.remove("keys") {
                Some(Value::Array(keys)) => keys,
                Some(_) => return Err("\"keys\" is not an array".into()),
                None if map.contains_key("kty") => vec![Value::Object(map)],
                None => return Err("neither a JWK nor a JWK Set".into()),
            },
            _ => return Err("neither a JWK nor a JWK Set".into()),
        };
        let mut keys = Vec::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            match from_jwk(entry) {
                Ok(key) => keys.push(key),
                Err(why) => tracing::debug!(index = i, why, "skipping JWK"),
            }
        }
        Ok(KeySet { keys })
    }

    /// Reads one PEM public key (RSA, EC P-256/P-384, Ed25519).
    pub(crate) fn from_pem(pem: &str) -> Result<KeySet, String> {
        if pem.contains("PRIVATE KEY") {
            return Err("a private key was given; configure the public key".into());
        }
        let pem = pem.as_bytes();
        let (key, key_type) = if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            (key, KeyType::Rsa)
        } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            // The SEC1 point's length names the curve: 04 || x || y.
            let key_type = match key.try_get_as_bytes().map(<[u8]>::len) {
                Ok(65) => KeyType::EcP256,
                Ok(97) => KeyType::EcP384,
                _ => return Err("unsupported EC curve".into()),
            };
            (key, key_type)
        } else if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            (key, KeyType::Ed25519)
        } else {
            return Err("not a PEM public key (RSA, EC or Ed25519)".into());
        };
        Ok(KeySet {
            keys: vec![VerifyingKey {
                kid: None,
                key_type,
                alg: None,
                key,
            }],
        })
    }
}

/// The members of a public JWK this crate reads (RFC 7517, RFC 7518 §6).
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn from_jwk(value: Value) -> Result<VerifyingKey, &'static str> {
    let jwk: RawJwk = serde_json::from_value(value).map_err(|_| "not a JWK")?;
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err("not a signature key (use)");
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return Err("not a verification key (key_ops)");
    }
    let alg = match jwk.alg.as_deref() {
        None => None,
        Some(name) => Some(Algorithm::from_name(name).ok_or("unsupported alg")?),
    };
    let (key_type, key) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => {
            let (n, e) = jwk
                .n
                .as_deref()
                .zip(jwk.e.as_deref())
                .ok_or("RSA key without n or e")?;
            let modulus = URL_SAFE_NO_PAD.decode(n).map_err(|_| "bad n")?;
            let significant = modulus.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err("RSA key shorter than 2048 bits");
            }
            let key = DecodingKey::from_rsa_components(n, e).map_err(|_| "bad RSA key")?;
            (KeyType::Rsa, key)
        }
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (key_type, len) = if crv == "P-256" {
                (KeyType::EcP256, 32)
            } else {
                (KeyType::EcP384, 48)
            };
            let (x, y) = jwk
                .x
                .as_deref()
                .zip(jwk.y.as_deref())
                .ok_or("EC key without x or y")?;
            coordinate(x, len)?;
            coordinate(y, len)?;
            (
                key_type,
                DecodingKey::from_ec_components(x, y).map_err(|_| "bad EC key")?,
            )
        }
        ("OKP", Some("Ed25519")) => {
            let x = jwk.x.as_deref().ok_or("OKP key without x")?;
            coordinate(x, 32)?;
            (
                KeyType::Ed25519,
                DecodingKey::from_ed_components(x).map_err(|_| "bad OKP key")?,
            )
        }
        // `oct` above all: a symmetric key has no place at a resource server.
        _ => return Err("unsupported key type or curve"),
    };
    if alg.is_some_and(|a| !key_type.fits(a)) {
        return Err("alg does not match the key type");
    }
    Ok(VerifyingKey {
        kid: jwk.kid,
        key_type,
        alg,
        key,
    })
}

fn coordinate(b64: &str, len: usize) -> Result<(), &'static str> {
    match URL_SAFE_NO_PAD.decode(b64) {
        Ok(bytes) if bytes.len() == len => Ok(()),
        Ok(_) | Err(_) => Err("bad curve coordinate"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_keys_are_skipped_not_fatal() {
        let doc = br#"{"keys":[
            {"kty":"oct","k":"c2VjcmV0","kid":"hmac"},
            {"kty":"RSA","kid":"small","n":"AQAB","e":"AQAB"},
            {"kty":"EC","crv":"secp256k1","kid":"k1","x":"AA","y":"AA"},
            {"kty":"RSA","use":"enc","kid":"enc","n":"AQAB","e":"AQAB"},
            {"kty":"EC","crv":"P-256","kid":"short","x":"AAAA","y":"AAAA"},
            {"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]}"#;
        let set = KeySet::from_jwk_json(doc).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.candidates(Some("hmac"), Algorithm::Rs256).is_none());
        assert_eq!(
            set.candidates(Some("ed"), Algorithm::EdDsa)
                .map(|c| c.len()),
            Some(1)
        );
        // Known kid, wrong algorithm: no candidate, but no refetch either.
        assert_eq!(
            set.candidates(Some("ed"), Algorithm::Es256)
                .map(|c| c.len()),
            Some(0)
        );
        assert!(set.candidates(None, Algorithm::Rs256).is_none());
    }

    #[test]
    fn documents_that_are_not_key_sets_are_errors() {
        for doc in [&b"[]"[..], b"{}", b"{\"keys\":1}", b"nope"] {
            assert!(KeySet::from_jwk_json(doc).is_err());
        }
    }

    #[test]
    fn private_pem_keys_are_refused() {
        let pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(KeySet::from_pem(pem).unwrap_err().contains("private key"));
    }
}
