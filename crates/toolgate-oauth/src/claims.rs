//! The claims of a token whose signature checked out: issuer, audience,
//! lifetime, subject and scopes (RFC 9068 names, with the `scp` spellings
//! some authorization servers use). Time is a parameter.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::clock::unix_seconds;
use crate::error::TokenError;

/// Who a valid token speaks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    /// The `sub` claim: the resource owner (or the client, for client
    /// credentials).
    pub subject: String,
    /// The OAuth client the token was issued to (`client_id`, else `azp`).
    pub client_id: Option<String>,
    /// The granted scopes (`scope`, else `scp`; a space-separated string or
    /// an array).
    pub scopes: Vec<String>,
    /// Every claim, as a JSON object.
    pub claims: Value,
    /// When the token expires (`exp`).
    pub expires_at: SystemTime,
}

/// What the claims must satisfy.
#[derive(Debug)]
pub(crate) struct Rules {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) leeway: Duration,
    pub(crate) required_scopes: Vec<String>,
}

impl Rules {
    /// Checks verified claims at time `now`.
    pub(crate) fn check(
        &self,
        claims: Map<String, Value>,
        now: SystemTime,
    ) -> Result<Identity, TokenError> {
        match claims.get("iss") {
            Some(Value::String(iss)) if *iss == self.issuer => {}
            Some(Value::String(_)) => return Err(TokenError::WrongIssuer),
            Some(_) | None => return Err(TokenError::MissingClaim("iss")),
        }
        self.check_audience(claims.get("aud"))?;
        let exp = numeric_date(&claims, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
        let now = unix_seconds(now);
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        // RFC 7519 §4.1.4: valid only *before* exp.
        if now >= exp.saturating_add(leeway) {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = numeric_date(&claims, "nbf")?
            && now.saturating_add(leeway) < nbf
        {
            return Err(TokenError::NotYetValid);
        }
        let subject = match claims.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
            Some(_) | None => return Err(TokenError::MissingClaim("sub")),
        };
        let scopes = scopes(&claims)?;
        let missing: Vec<String> = self
            .required_scopes
            .iter()
            .filter(|s| !scopes.contains(s))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(TokenError::InsufficientScope {
                required: self.required_scopes.clone(),
                missing,
            });
        }
        let client_id = ["client_id", "azp"]
            .into_iter()
            .find_map(|name| claims.get(name).and_then(Value::as_str))
            .map(str::to_owned);
        let expires_at = u64::try_from(exp)
            .ok()
            .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
            .ok_or(TokenError::Malformed("exp out of range"))?;
        Ok(Identity {
            subject,
            client_id,
            scopes,
            claims: Value::Object(claims),
            expires_at,
        })
    }

    /// RFC 7519 §4.1.3: `aud` is one string or an array of strings, and
    /// must name this resource.
    fn check_audience(&self, aud: Option<&Value>) -> Result<(), TokenError> {
        let ours = |a: &str| self.audiences.iter().any(|o| o == a);
        let matched = match aud {
            Some(Value::String(a)) => ours(a),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(ours),
            Some(_) | None => return Err(TokenError::MissingClaim("aud")),
        };
        if matched {
            Ok(())
        } else {
            Err(TokenError::WrongAudience)
        }
    }
}

/// A NumericDate claim in whole seconds (fractions dropped); `None` when
/// absent.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, TokenError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                // `as` saturates, which is what an absurd date deserves.
                .map(|f| f.floor() as i64)
        }),
        _ => None,
    };
    match seconds {
        Some(s) => Ok(Some(s)),
        None => Err(TokenError::MissingClaim(name)),
    }
}

/// The granted scopes: `scope` (RFC 9068, a space-separated string), else
/// `scp` (a string or an array, as some servers write it).
fn scopes(claims: &Map<String, Value>) -> Result<Vec<String>, TokenError> {
    let (name, value) = match (claims.get("scope"), claims.get("scp")) {
        (Some(v), _) => ("scope", v),
        (None, Some(v)) => ("scp", v),
        (None, None) => return Ok(Vec::new()),
    };
    match value {
        Value::String(s) => Ok(s.split_whitespace().map(str::to_owned).collect()),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(TokenError::MissingClaim(name)),
        _ => Err(TokenError::MissingClaim(name)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules() -> Rules {
        Rules {
            issuer: "https://as".into(),
            audiences: vec!["https://gw/mcp/a".into()],
            leeway: Duration::from_secs(60),
            required_scopes: vec![],
        }
    }

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn check(claims: Value, now: u64) -> Result<Identity, TokenError> {
        let Value::Object(map) = claims else { panic!() };
        rules().check(map, at(now))
    }

    #[test]
    fn fractional_dates_and_scp_strings() {
        let id = check(
            json!({"iss":"https://as","aud":"https://gw/mcp/a","sub":"u","exp":1000.9,"scp":"a b"}),
            900,
        )
        .unwrap();
        assert_eq!(id.expires_at, at(1000));
        assert_eq!(id.scopes, ["a", "b"]);
        assert_eq!(id.client_id, None);
    }

    #[test]
    fn claims_of_the_wrong_type_count_as_missing() {
        let base = json!({"iss":"https://as","aud":"https://gw/mcp/a","sub":"u","exp":1000});
        for (name, bad) in [
            ("iss", json!(1)),
            ("aud", json!({"x":1})),
            ("exp", json!("1000")),
            ("nbf", json!(true)),
            ("sub", json!("")),
            ("scope", json!([1])),
        ] {
            let mut c = base.clone();
            c[name] = bad;
            assert_eq!(check(c, 900), Err(TokenError::MissingClaim(name)), "{name}");
        }
    }

    #[test]
    fn exp_is_exclusive_and_negative_exp_is_expired() {
        let c = |exp: i64| json!({"iss":"https://as","aud":"https://gw/mcp/a","sub":"u","exp":exp});
        assert!(check(c(1000), 1059).is_ok());
        assert_eq!(check(c(1000), 1060), Err(TokenError::Expired));
        assert_eq!(check(c(-100), 0), Err(TokenError::Expired));
    }
}
