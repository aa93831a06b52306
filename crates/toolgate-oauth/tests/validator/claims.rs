//! What a correctly signed token must also say: issuer, audience,
//! lifetime, subject, scopes.

use std::time::Duration;

use serde_json::json;
use toolgate_oauth::{ErrorKind, TokenError};

use crate::support::*;

#[tokio::test]
async fn a_valid_token_says_who_it_speaks_for() {
    let v = static_validator(|_| {});
    let id = v.validate(&rsa_a().sign(&claims())).await.unwrap();
    assert_eq!(id.subject, "user-42");
    assert_eq!(id.client_id.as_deref(), Some("agent-7"));
    assert_eq!(id.scopes, ["crm.read", "crm.write"]);
    assert_eq!(id.expires_at, t0() + Duration::from_secs(3600));
    assert_eq!(id.claims, claims());
}

#[tokio::test]
async fn scopes_and_client_also_come_from_scp_and_azp() {
    let v = static_validator(|_| {});
    let cases = [
        (json!({"scope": null, "scp": ["a", "b"]}), vec!["a", "b"]),
        (json!({"scope": null, "scp": "a b"}), vec!["a", "b"]),
        (json!({"scope": "  a   b "}), vec!["a", "b"]),
        (json!({"scope": null}), vec![]),
    ];
    for (changes, scopes) in cases {
        let id = v
            .validate(&ec().sign(&claims_with(changes.clone())))
            .await
            .unwrap();
        assert_eq!(id.scopes, scopes, "{changes}");
    }
    let token = ec().sign(&claims_with(json!({"client_id": null, "azp": "agent-9"})));
    let id = v.validate(&token).await.unwrap();
    assert_eq!(id.client_id.as_deref(), Some("agent-9"));
}

#[tokio::test]
async fn lifetime_is_checked_with_leeway() {
    let t = |s: i64| T0 as i64 + s;
    // (exp, nbf, leeway seconds, expected)
    type Case = (i64, Option<i64>, u64, Result<(), TokenError>);
    let cases: [Case; 9] = [
        (t(3600), None, 60, Ok(())),
        (t(-59), None, 60, Ok(())),
        (t(-60), None, 60, Err(TokenError::Expired)),
        (t(-3600), None, 60, Err(TokenError::Expired)),
        (t(-1), None, 0, Err(TokenError::Expired)),
        (t(3600), Some(t(60)), 60, Ok(())),
        (t(3600), Some(t(61)), 60, Err(TokenError::NotYetValid)),
        (t(3600), Some(t(1)), 0, Err(TokenError::NotYetValid)),
        (t(3600), Some(t(0)), 0, Ok(())),
    ];
    for (exp, nbf, leeway, expected) in cases {
        let v = static_validator(|s| s.leeway = Duration::from_secs(leeway));
        let c = claims_with(json!({"exp": exp, "nbf": nbf}));
        let got = v.validate(&rsa_a().sign(&c)).await.map(|_| ());
        assert_eq!(got, expected, "exp {exp} nbf {nbf:?} leeway {leeway}");
    }
}

#[tokio::test]
async fn tokens_expire_as_the_clock_moves() {
    let (v, clock) = validator(settings(toolgate_oauth::KeySource::Pem(rsa_a().public_pem)));
    let token = rsa_a().sign(&claims());
    assert!(v.validate(&token).await.is_ok());
    clock.advance(Duration::from_secs(3600 + 59));
    assert!(v.validate(&token).await.is_ok());
    clock.advance(Duration::from_secs(1));
    assert_eq!(v.validate(&token).await.unwrap_err(), TokenError::Expired);
}

#[tokio::test]
async fn audience_must_name_this_resource() {
    let v = static_validator(|s| s.audiences.push("https://gw.example/mcp/other".into()));
    let cases = [
        (json!(AUDIENCE), Ok(())),
        (json!("https://gw.example/mcp/other"), Ok(())),
        (json!(["https://elsewhere", AUDIENCE]), Ok(())),
        (json!("https://elsewhere"), Err(TokenError::WrongAudience)),
        (
            json!(["https://elsewhere", "x"]),
            Err(TokenError::WrongAudience),
        ),
        (json!([]), Err(TokenError::WrongAudience)),
        (
            json!("https://gw.example/mcp/crm/"),
            Err(TokenError::WrongAudience),
        ),
        (json!(null), Err(TokenError::MissingClaim("aud"))),
        (json!(7), Err(TokenError::MissingClaim("aud"))),
    ];
    for (aud, expected) in cases {
        let got = v
            .validate(&rsa_a().sign(&claims_with(json!({"aud": aud}))))
            .await;
        assert_eq!(got.map(|_| ()), expected, "aud {aud}");
    }
}

#[tokio::test]
async fn issuer_must_match_exactly() {
    let v = static_validator(|_| {});
    let cases = [
        (json!("https://evil.example"), TokenError::WrongIssuer),
        (json!("https://as.example/"), TokenError::WrongIssuer),
        (json!(null), TokenError::MissingClaim("iss")),
    ];
    for (iss, expected) in cases {
        let got = v
            .validate(&rsa_a().sign(&claims_with(json!({"iss": iss}))))
            .await;
        assert_eq!(got.unwrap_err(), expected, "iss {iss}");
    }
}

#[tokio::test]
async fn subject_and_expiry_are_required() {
    let v = static_validator(|_| {});
    for (name, changes) in [
        ("sub", json!({"sub": null})),
        ("sub", json!({"sub": ""})),
        ("exp", json!({"exp": null})),
        ("exp", json!({"exp": "tomorrow"})),
    ] {
        let err = v
            .validate(&rsa_a().sign(&claims_with(changes)))
            .await
            .unwrap_err();
        assert_eq!(err, TokenError::MissingClaim(name));
        assert_eq!(err.kind(), ErrorKind::InvalidToken);
    }
}

#[tokio::test]
async fn required_scopes_must_all_be_granted() {
    let v = static_validator(|s| s.required_scopes = vec!["crm.read".into(), "crm.admin".into()]);
    let err = v.validate(&rsa_a().sign(&claims())).await.unwrap_err();
    assert_eq!(
        err,
        TokenError::InsufficientScope {
            required: vec!["crm.read".into(), "crm.admin".into()],
            missing: vec!["crm.admin".into()],
        }
    );
    assert_eq!(err.kind(), ErrorKind::InsufficientScope);
    assert_eq!(err.kind().status(), 403);
    assert_eq!(err.error_code(), Some("insufficient_scope"));

    let granted = claims_with(json!({"scope": null, "scp": ["crm.admin", "crm.read"]}));
    assert!(v.validate(&rsa_a().sign(&granted)).await.is_ok());
}

#[tokio::test]
async fn error_messages_never_echo_the_token() {
    let v = static_validator(|s| s.required_scopes = vec!["crm.admin".into()]);
    let secretish = "SECRET-CLAIM-VALUE";
    let tokens = [
        rsa_a().sign(&claims_with(json!({"sub": secretish}))),
        rsa_a().sign(&claims_with(
            json!({"sub": secretish, "iss": "https://evil"}),
        )),
        rsa_a().sign(&claims_with(json!({"sub": secretish, "exp": T0 - 3600}))),
        format!("{}x", rsa_a().sign(&claims_with(json!({"sub": secretish})))),
    ];
    for token in tokens {
        let err = v.validate(&token).await.unwrap_err();
        let msg = err.to_string();
        let payload = token.split('.').nth(1).unwrap();
        assert!(!msg.contains(secretish) && !msg.contains(payload), "{msg}");
        assert!(err.error_code().is_some());
    }
}
