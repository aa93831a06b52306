//! Why a token was refused. Every message may be shown to the client that
//! sent the token: none holds the token or any part of its payload. The
//! only token-supplied text kept (`alg`, `kid`) is cut short and reduced to
//! printable ASCII first.

/// Why a token was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a compact JWS with a JSON header and claims object.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm that is not allowed (this includes
    /// `none` and every HMAC algorithm, always).
    #[error("unsupported signature algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// No key is known for the token's `kid` (or, without a `kid`, no key
    /// fits its algorithm), even after refetching the key set.
    #[error("unknown signing key{}", match .0 { Some(kid) => format!(" {kid:?}"), None => String::new() })]
    UnknownKey(Option<String>),
    /// No candidate key verifies the signature.
    #[error("invalid signature")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("token issued by another authorization server")]
    WrongIssuer,
    /// `aud` names none of this resource's identifiers.
    #[error("token not issued for this resource")]
    WrongAudience,
    /// A required claim is absent or has the wrong type.
    #[error("token lacks the {0:?} claim")]
    MissingClaim(&'static str),
    /// The token is valid but lacks scopes this resource requires.
    #[error("insufficient scope: requires {:?}", .required.join(" "))]
    InsufficientScope {
        /// Every scope the resource requires (for `WWW-Authenticate`'s
        /// `scope` attribute).
        required: Vec<String>,
        /// Those the token lacks.
        missing: Vec<String>,
    },
    /// The key set could not be fetched and none is cached: the fault is
    /// ours (or the authorization server's), not the client's.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
}

/// How the HTTP edge should answer a refused token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
    InvalidToken,
    /// 403 with `WWW-Authenticate: Bearer error="insufficient_scope"`.
    InsufficientScope,
    /// 503: the token could not be checked; the client may retry.
    Unavailable,
}

impl TokenError {
    /// Which answer this error calls for.
    pub fn kind(&self) -> ErrorKind {
        match self {
            TokenError::Malformed(_)
            | TokenError::UnsupportedAlgorithm(_)
            | TokenError::UnknownKey(_)
            | TokenError::BadSignature
            | TokenError::Expired
            | TokenError::NotYetValid
            | TokenError::WrongIssuer
            | TokenError::WrongAudience
            | TokenError::MissingClaim(_) => ErrorKind::InvalidToken,
            TokenError::InsufficientScope { .. } => ErrorKind::InsufficientScope,
            TokenError::KeysUnavailable(_) => ErrorKind::Unavailable,
        }
    }

    /// The RFC 6750 `error` code, if this is a bearer-token error.
    pub fn error_code(&self) -> Option<&'static str> {
        self.kind().error_code()
    }
}

impl ErrorKind {
    /// The HTTP status to answer with.
    pub fn status(self) -> http::StatusCode {
        match self {
            ErrorKind::InvalidToken => http::StatusCode::UNAUTHORIZED,
            ErrorKind::InsufficientScope => http::StatusCode::FORBIDDEN,
            ErrorKind::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The RFC 6750 `error` code (`None` for [`ErrorKind::Unavailable`],
    /// which is not the token's fault).
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            ErrorKind::InvalidToken => Some("invalid_token"),
            ErrorKind::InsufficientScope => Some("insufficient_scope"),
            ErrorKind::Unavailable => None,
        }
    }
}

/// Longest token-supplied string kept in an error.
const MAX_ECHO: usize = 64;

/// `s` made safe to echo: at most [`MAX_ECHO`] characters, anything but
/// printable ASCII replaced by `?`.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .take(MAX_ECHO)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_statuses_and_codes() {
        let scope = TokenError::InsufficientScope {
            required: vec!["a".into(), "b".into()],
            missing: vec!["b".into()],
        };
        assert_eq!(scope.kind().status(), http::StatusCode::FORBIDDEN);
        assert_eq!(scope.error_code(), Some("insufficient_scope"));
        assert_eq!(scope.to_string(), r#"insufficient scope: requires "a b""#);
        assert_eq!(TokenError::Expired.kind().status(), 401);
        assert_eq!(TokenError::Expired.error_code(), Some("invalid_token"));
        let down = TokenError::KeysUnavailable("x".into());
        assert_eq!(down.kind().status(), 503);
        assert_eq!(down.error_code(), None);
    }

    #[test]
    fn echoed_strings_are_short_and_printable() {
        let s = sanitize(&format!("a\u{7}\nb{}", "x".repeat(100)));
        assert!(s.starts_with("a??b"));
        assert_eq!(s.chars().count(), MAX_ECHO);
        assert_eq!(
            TokenError::UnknownKey(Some("k1".into())).to_string(),
            r#"unknown signing key "k1""#
        );
        assert_eq!(
            TokenError::UnknownKey(None).to_string(),
            "unknown signing key"
        );
    }
}
