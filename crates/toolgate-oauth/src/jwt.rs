//! The compact JWS shape: three base64url parts, a JSON header. Only what
//! choosing a key needs (`alg`, `kid`) is read before the signature is
//! checked; the claims are decoded after.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::{TokenError, sanitize};
use crate::settings::Algorithm;

/// Tokens longer than this are refused before any decoding. Real access
/// tokens are a few KiB; this bounds the work an attacker can ask for.
const MAX_TOKEN_LEN: usize = 32 * 1024;

/// A token split into its parts, header read, signature not yet checked.
#[derive(Debug)]
pub(crate) struct Unverified<'a> {
    /// The allowed algorithm the header names.
    pub(crate) alg: Algorithm,
    /// The header's `kid`, if any.
    pub(crate) kid: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    pub(crate) signing_input: &'a str,
    /// The base64url payload.
    pub(crate) payload: &'a str,
    /// The base64url signature.
    pub(crate) signature: &'a str,
}

/// Splits `token` and reads its header; refuses algorithms not in `allowed`.
pub(crate) fn parse<'a>(
    token: &'a str,
    allowed: &[Algorithm],
) -> Result<Unverified<'a>, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed("token too long"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "not a compact JWS (three dot-separated parts)",
        ));
    };
    let header = decode_object(header, "header is not a base64url JSON object")?;
    // RFC 7515 §4.1.11: extensions listed in `crit` must be understood, and
    // we understand none (`b64: false` would even change what is signed).
    if header.contains_key("crit") {
        return Err(TokenError::Malformed(
            "unsupported critical header parameter",
        ));
    }
    let Some(Value::String(alg)) = header.get("alg") else {
        return Err(TokenError::Malformed("header has no alg"));
    };
    let alg = Algorithm::from_name(alg)
        .filter(|a| allowed.contains(a))
        .ok_or_else(|| TokenError::UnsupportedAlgorithm(sanitize(alg)))?;
    // After the algorithm check, so that an unsigned (`none`) token is
    // reported as such.
    if payload.is_empty() || signature.is_empty() {
        return Err(TokenError::Malformed("empty JWS part"));
    }
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(TokenError::Malformed("kid is not a string")),
    };
    let signing_input = &token[..token.len() - signature.len() - 1];
    Ok(Unverified {
        alg,
        kid,
        signing_input,
        payload,
        signature,
    })
}

/// Decodes the (verified) payload into the claims object.
pub(crate) fn claims(payload: &str) -> Result<Map<String, Value>, TokenError> {
    decode_object(payload, "claims are not a base64url JSON object")
}

fn decode_object(part: &str, what: &'static str) -> Result<Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed(what))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) | Err(_) => Err(TokenError::Malformed(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64("{}"))
    }

    const ALLOWED: &[Algorithm] = &[Algorithm::Rs256];

    #[test]
    fn reads_alg_and_kid() {
        let t = token(r#"{"alg":"RS256","kid":"k1","typ":"at+jwt"}"#);
        let u = parse(&t, ALLOWED).unwrap();
        assert_eq!(u.alg, Algorithm::Rs256);
        assert_eq!(u.kid.as_deref(), Some("k1"));
        assert_eq!(format!("{}.{}", u.signing_input, u.signature), t);
        assert_eq!(claims(u.payload).unwrap(), Map::new());
    }

    #[test]
    fn refuses_bad_shapes() {
        let cases = [
            ("", "not three parts"),
            ("a.b", "two parts"),
            ("a.b.c.d", "four parts"),
            ("..", "empty parts"),
            ("!!.e30.c2ln", "bad base64"),
        ];
        for (t, why) in cases {
            assert!(
                matches!(parse(t, ALLOWED), Err(TokenError::Malformed(_))),
                "{why}"
            );
        }
        for header in [
            r#"[]"#,
            r#"{"kid":"k"}"#,
            r#"{"alg":1}"#,
            r#"{"alg":"RS256","kid":1}"#,
        ] {
            let t = token(header);
            assert!(
                matches!(parse(&t, ALLOWED), Err(TokenError::Malformed(_))),
                "{header}"
            );
        }
        let crit = token(r#"{"alg":"RS256","crit":["b64"],"b64":false}"#);
        assert!(matches!(
            parse(&crit, ALLOWED),
            Err(TokenError::Malformed(_))
        ));
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(
            parse(&long, ALLOWED),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn refuses_algorithms_not_allowed() {
        for alg in ["none", "HS256", "ES256", "RS256\u{0}"] {
            let t = token(&format!(r#"{{"alg":{}}}"#, Value::from(alg)));
            match parse(&t, ALLOWED) {
                Err(TokenError::UnsupportedAlgorithm(a)) => assert!(a.starts_with(&alg[..4])),
                other => panic!("{alg}: {other:?}"),
            }
        }
    }
}
