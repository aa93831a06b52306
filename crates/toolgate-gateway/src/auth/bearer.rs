//! Reading the credential of a request.

use http::HeaderMap;

/// What a request's `Authorization` header holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// No `Authorization` header.
    None,
    /// `Bearer <token>`.
    Bearer(&'a str),
    /// Some other scheme, or a malformed header: refused, never anonymous.
    Unusable,
}

/// The request's credential.
pub fn credential(headers: &HeaderMap) -> Credential<'_> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Credential::None;
    };
    let Some((scheme, token)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return Credential::Unusable;
    };
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
        Credential::Bearer(token)
    } else {
        Credential::Unusable
    }
}

/// Whether a token has a JWT's shape (three base64url segments): such a
/// token goes to the OAuth validator, any other to the grants. Grant tokens
/// from `toolgate grant create` never contain a dot.
pub fn looks_like_jwt(token: &str) -> bool {
    let mut parts = 0;
    for part in token.split('.') {
        let ok = !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        // The signature may be empty only for `alg: none`, which is refused
        // anyway; requiring it keeps the shape test strict.
        if !ok {
            return false;
        }
        parts += 1;
    }
    parts == 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials() {
        let mut h = HeaderMap::new();
        assert_eq!(credential(&h), Credential::None);
        h.insert("authorization", "Bearer  abc ".parse().unwrap());
        assert_eq!(credential(&h), Credential::Bearer("abc"));
        h.insert("authorization", "bearer xyz".parse().unwrap());
        assert_eq!(credential(&h), Credential::Bearer("xyz"));
        h.insert("authorization", "Basic xyz".parse().unwrap());
        assert_eq!(credential(&h), Credential::Unusable);
        h.insert("authorization", "Bearer ".parse().unwrap());
        assert_eq!(credential(&h), Credential::Unusable);
        h.insert("authorization", "Bearer".parse().unwrap());
        assert_eq!(credential(&h), Credential::Unusable);
    }

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt("eyJh.eyJz.c2ln"));
        assert!(!looks_like_jwt("tg_0123456789abcdef"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt("a..c"));
        assert!(!looks_like_jwt("a.b.c="));
    }
}
