//! Signatures, algorithms and static key sources: only allowed asymmetric
//! algorithms, only the right key, and not one flipped byte.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use toolgate_oauth::{Algorithm, KeySource, SettingsError, TokenError, Validator};

use crate::support::*;

#[tokio::test]
async fn rs256_es256_and_opt_in_algorithms_verify() {
    let v = static_validator(|_| {});
    assert!(v.validate(&rsa_a().sign(&claims())).await.is_ok());
    assert!(v.validate(&ec().sign(&claims())).await.is_ok());

    // PS256 and EdDSA only when allowed.
    let mut ps = Header::new(jsonwebtoken::Algorithm::PS256);
    ps.kid = Some("rsa-a-pss".into());
    let ps_token = rsa_a().sign_with(ps, &claims());
    let ed_token = ed().sign(&claims());
    let mut rsa_no_alg = rsa_a().jwk();
    rsa_no_alg.as_object_mut().unwrap().remove("alg");
    rsa_no_alg["kid"] = json!("rsa-a-pss");
    let keys = json!({"keys": [rsa_no_alg, ed().jwk()]}).to_string();

    let default = validator(settings(KeySource::Jwk(keys.clone()))).0;
    for token in [&ps_token, &ed_token] {
        let err = default.validate(token).await.unwrap_err();
        assert!(matches!(err, TokenError::UnsupportedAlgorithm(_)), "{err}");
    }
    let mut s = settings(KeySource::Jwk(keys));
    s.algorithms = vec![Algorithm::Ps256, Algorithm::EdDsa];
    let opted_in = validator(s).0;
    assert!(opted_in.validate(&ps_token).await.is_ok());
    assert!(opted_in.validate(&ed_token).await.is_ok());
}

#[tokio::test]
async fn unsigned_tokens_are_refused() {
    let v = static_validator(|_| {});
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"rsa-a"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}.c2ln"),
    ] {
        let err = v.validate(&token).await.unwrap_err();
        assert_eq!(err, TokenError::UnsupportedAlgorithm("none".into()));
    }
}

#[tokio::test]
async fn hmac_with_the_public_key_as_secret_is_refused() {
    // The classic confusion attack: HS256 keyed with the RSA public key.
    let key = rsa_a();
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(key.kid.into());
    let secret = EncodingKey::from_secret(key.public_pem.as_bytes());
    let token = jsonwebtoken::encode(&header, &claims(), &secret).unwrap();
    for v in [
        static_validator(|_| {}),
        static_validator(|s| s.algorithms = Algorithm::ALL.to_vec()),
        validator(settings(KeySource::Pem(key.public_pem.clone()))).0,
    ] {
        assert_eq!(
            v.validate(&token).await.unwrap_err(),
            TokenError::UnsupportedAlgorithm("HS256".into())
        );
    }
}

/// `token` with one base64url character of part `part` changed.
fn flip(token: &str, part: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut bytes = parts[part].clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    parts[part] = String::from_utf8(bytes).unwrap();
    parts.join(".")
}

#[tokio::test]
async fn tampered_tokens_are_refused() {
    let v = static_validator(|_| {});
    for key in [rsa_a(), ec()] {
        let token = key.sign(&claims());
        assert!(v.validate(&token).await.is_ok());
        for part in [1, 2] {
            let err = v.validate(&flip(&token, part)).await.unwrap_err();
            assert_eq!(err, TokenError::BadSignature, "{} part {part}", key.kid);
        }
        // A re-encoded payload (admin scope added) keeps the old signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(claims_with(json!({"scope": "crm.admin"})).to_string());
        parts[1] = &forged;
        assert_eq!(
            v.validate(&parts.join(".")).await.unwrap_err(),
            TokenError::BadSignature
        );
    }
}

#[tokio::test]
async fn the_key_must_be_the_one_named() {
    let v = static_validator(|_| {});
    // Signed by another RSA key under a known kid.
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("rsa-a".into());
    assert_eq!(
        v.validate(&rsa_b().sign_with(header, &claims()))
            .await
            .unwrap_err(),
        TokenError::BadSignature
    );
    // The EC key's kid with an RSA algorithm.
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("ec-1".into());
    assert_eq!(
        v.validate(&rsa_a().sign_with(header, &claims()))
            .await
            .unwrap_err(),
        TokenError::BadSignature
    );
    // An unknown kid.
    assert_eq!(
        v.validate(&rsa_b().sign(&claims())).await.unwrap_err(),
        TokenError::UnknownKey(Some("rsa-b".into()))
    );
}

#[tokio::test]
async fn tokens_without_kid_try_every_fitting_key() {
    let v = static_validator(|_| {});
    for key in [rsa_a(), ec()] {
        let token = key.sign_with(Header::new(key.alg), &claims());
        assert!(v.validate(&token).await.is_ok(), "{}", key.kid);
    }
    let stranger = rsa_b().sign_with(Header::new(jsonwebtoken::Algorithm::RS256), &claims());
    assert_eq!(
        v.validate(&stranger).await.unwrap_err(),
        TokenError::BadSignature
    );
    // EdDSA is allowed, but no Ed25519 key is configured.
    let with_ed = static_validator(|s| s.algorithms.push(Algorithm::EdDsa));
    let ed_token = ed().sign_with(Header::new(jsonwebtoken::Algorithm::EdDSA), &claims());
    assert_eq!(
        with_ed.validate(&ed_token).await.unwrap_err(),
        TokenError::UnknownKey(None)
    );
}

#[tokio::test]
async fn static_pem_keys_verify_tokens_with_any_kid() {
    for key in [rsa_a(), ec(), ed()] {
        let mut s = settings(KeySource::Pem(key.public_pem.clone()));
        s.algorithms = vec![Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa];
        let (v, _) = validator(s);
        assert!(
            v.validate(&key.sign(&claims())).await.is_ok(),
            "{}",
            key.kid
        );
        let anonymous = key.sign_with(Header::new(key.alg), &claims());
        assert!(v.validate(&anonymous).await.is_ok(), "{}", key.kid);
        let other = if key.kid == "rsa-a" { rsa_b() } else { rsa_a() };
        let err = v.validate(&other.sign(&claims())).await.unwrap_err();
        assert!(
            matches!(err, TokenError::BadSignature | TokenError::UnknownKey(_)),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_single_static_jwk_is_a_key_set() {
    let (v, _) = validator(settings(KeySource::Jwk(ec().jwk().to_string())));
    assert!(v.validate(&ec().sign(&claims())).await.is_ok());
}

#[test]
fn unusable_static_keys_are_refused_up_front() {
    let clock = std::sync::Arc::new(toolgate_oauth::SystemClock);
    let private = fixture("rsa_a.key.pem");
    let err = Validator::new(settings(KeySource::Pem(private)), clock.clone()).unwrap_err();
    assert!(matches!(err, SettingsError::InvalidKey(_)), "{err}");

    let mut es_only = settings(KeySource::Pem(rsa_a().public_pem));
    es_only.algorithms = vec![Algorithm::Es256];
    assert_eq!(
        Validator::new(es_only, clock.clone()).unwrap_err(),
        SettingsError::NoUsableKey
    );

    let err = Validator::new(settings(KeySource::Jwk("{".into())), clock.clone()).unwrap_err();
    assert!(matches!(err, SettingsError::InvalidKey(_)));
    let mut no_aud = settings(KeySource::Pem(rsa_a().public_pem));
    no_aud.audiences.clear();
    assert_eq!(
        Validator::new(no_aud, clock.clone()).unwrap_err(),
        SettingsError::NoAudience
    );
    let insecure = settings(KeySource::JwksUrl("http://idp.example/jwks".into()));
    assert_eq!(
        Validator::new(insecure, clock).unwrap_err(),
        SettingsError::InsecureJwksUrl
    );
}

#[tokio::test]
async fn garbage_is_malformed() {
    let v = static_validator(|_| {});
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"rsa-a"}"#);
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        &format!("{header}..sig"),
        &format!("{header}.e30."),
    ] {
        let err = v.validate(token).await.unwrap_err();
        assert!(matches!(err, TokenError::Malformed(_)), "{token:?}: {err}");
    }
    // A valid signature over a payload that is not a JSON object.
    let key = rsa_a();
    let mut header_v = Header::new(key.alg);
    header_v.kid = Some(key.kid.into());
    let token = jsonwebtoken::encode(&header_v, &json!([1, 2]), &key.encoding).unwrap();
    assert!(matches!(
        v.validate(&token).await.unwrap_err(),
        TokenError::Malformed(_)
    ));
}
