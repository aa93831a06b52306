//! OAuth 2.1 access tokens at the gateway (the MCP authorization spec):
//! RFC 9728 metadata, 401 challenges that point at it, real RS256 and ES256
//! tokens from a key set served on loopback, 403 for a missing scope, and
//! the token's subject and claims in policy conditions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::time::UNIX_EPOCH;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use toolgate_gateway::clock::{Clock, SystemClock};
use toolgate_testkit::client::{Client, STATELESS};
use toolgate_testkit::harness::{
    TOKEN, TestGateway, UpstreamKind, policy_file, server_yaml, start_fixture, start_gateway,
};

const ISSUER: &str = "https://as.example";
const PUBLIC: &str = "https://gw.example";
const RESOURCE: &str = "https://gw.example/mcp/fx";

/// Calls of `echo` are allowed to the `gold` tier only, and the subject
/// `mallory` is denied everything; `add` only to the config grant.
const POLICY: &str = r#"{"version": "1", "default": "deny", "tools": {
  "echo": {"require": [{"expr": "principal.claims.tier == 'gold'"}],
           "deny_if": [{"path": "principal.sub", "op": "eq", "value": "mallory"}]},
  "add": {"require": [{"path": "grant.name", "op": "eq", "value": "tester"}]}}}"#;

struct Key {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../toolgate-oauth/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rsa(file: &str, kid: &'static str) -> Key {
    Key {
        kid,
        alg: Algorithm::RS256,
        key: EncodingKey::from_rsa_pem(&fixture(file)).unwrap(),
    }
}

fn ec() -> Key {
    Key {
        kid: "ec-1",
        alg: Algorithm::ES256,
        key: EncodingKey::from_ec_pem(&fixture("ec_p256.key.pem")).unwrap(),
    }
}

impl Key {
    fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).unwrap();
        jwk.common.key_id = Some(self.kid.into());
        serde_json::to_value(jwk).unwrap()
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.into());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

fn now() -> u64 {
    SystemClock
        .now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(sub: &str, changes: Value) -> Value {
    let mut c = json!({
        "iss": ISSUER, "aud": RESOURCE, "sub": sub, "client_id": "agent-7",
        "scope": "crm.read crm.write", "tier": "gold",
        "iat": now(), "exp": now() + 3600,
    });
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

/// Serves a JWK set on loopback.
async fn jwks_server(keys: &[&Key]) -> String {
    let body = json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string();
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn gateway(jwks: &str) -> TestGateway {
    let fixture = start_fixture(UpstreamKind::Stdio).await;
    let policy = policy_file(&format!("oauth{:x}", rand::random::<u64>()), POLICY);
    let yaml = format!(
        "listen: 127.0.0.1:0\npublic_url: {PUBLIC}\nservers:\n  fx:\n{}    oauth:\n      issuer: {ISSUER}\n      jwks_url: {jwks}\n      scopes: [crm.read]\n      policy: p\ngrants:\n  - {{name: tester, token: {TOKEN}, server: fx, policy: p}}\npolicies:\n  p: {:?}\n",
        server_yaml(UpstreamKind::Stdio, &fixture),
        policy.display().to_string(),
    );
    // The fixture process is owned by the config's command; the handle can go.
    drop(fixture);
    start_gateway(&yaml).await
}

async fn post_initialize(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"}}})
            .to_string(),
        );
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

fn challenge(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("no WWW-Authenticate on {}", resp.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn metadata_and_challenges() {
    let rsa_a = rsa("rsa_a.key.pem", "rsa-a");
    let gw = gateway(&jwks_server(&[&rsa_a]).await).await;
    let metadata_url = format!("{PUBLIC}/.well-known/oauth-protected-resource/mcp/fx");

    let doc: Value = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource/mcp/fx",
        gw.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(doc["resource"], RESOURCE);
    assert_eq!(doc["authorization_servers"], json!([ISSUER]));
    assert_eq!(doc["scopes_supported"], json!(["crm.read"]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    let missing = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource/mcp/nope",
        gw.base
    ))
    .await
    .unwrap();
    assert_eq!(missing.status(), 404);

    // No token: 401 pointing at the metadata, without an error code.
    let resp = post_initialize(&gw.url("fx"), None).await;
    assert_eq!(resp.status(), 401);
    let c = challenge(&resp);
    assert!(
        c.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{c}"
    );
    assert!(!c.contains("error="), "{c}");

    // Each bad token: 401 invalid_token, and the token is never echoed.
    let tampered = {
        let t = rsa_a.sign(&claims("alice", json!({})));
        let (head, sig) = t.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        format!("{head}.{flipped}{}", &sig[1..])
    };
    let cases = [
        (
            "expired",
            rsa_a.sign(&claims(
                "alice",
                json!({"exp": now() - 600, "iat": now() - 4000}),
            )),
            "token expired",
        ),
        (
            "wrong audience",
            rsa_a.sign(&claims(
                "alice",
                json!({"aud": "https://gw.example/mcp/other"}),
            )),
            "not issued for this resource",
        ),
        (
            "wrong issuer",
            rsa_a.sign(&claims("alice", json!({"iss": "https://evil.example"}))),
            "another authorization server",
        ),
        (
            "unknown key",
            rsa("rsa_b.key.pem", "rsa-b").sign(&claims("alice", json!({}))),
            "unknown signing key",
        ),
        ("tampered signature", tampered, "invalid signature"),
    ];
    for (what, token, message) in cases {
        let resp = post_initialize(&gw.url("fx"), Some(&token)).await;
        assert_eq!(resp.status(), 401, "{what}");
        let c = challenge(&resp);
        assert!(c.contains("error=\"invalid_token\""), "{what}: {c}");
        assert!(c.contains(&format!("resource_metadata=\"{metadata_url}\"")));
        let body = resp.text().await.unwrap();
        assert!(body.contains(message), "{what}: {body}");
        assert!(!body.contains(&token) && !c.contains(&token), "{what}");
    }

    // A valid token without the required scope: 403 insufficient_scope.
    let narrow = rsa_a.sign(&claims("alice", json!({"scope": "crm.write"})));
    let resp = post_initialize(&gw.url("fx"), Some(&narrow)).await;
    assert_eq!(resp.status(), 403);
    let c = challenge(&resp);
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(c.contains("scope=\"crm.read\""), "{c}");
    gw.stop().await;
}

#[tokio::test]
async fn tokens_reach_tools_and_policies_see_the_principal() {
    let (rsa_a, ec) = (rsa("rsa_a.key.pem", "rsa-a"), ec());
    let gw = gateway(&jwks_server(&[&rsa_a, &ec]).await).await;
    for (key, version) in [(&rsa_a, "2025-11-25"), (&ec, STATELESS)] {
        let gold = key.sign(&claims("alice", json!({})));
        let mut c = Client::new(&gw.url("fx"), Some(&gold), version);
        c.initialize().await;
        let r = c.call_tool("echo", json!({"message": "hi"})).await;
        assert_eq!(r.result()["content"][0]["text"], "Echo: hi", "{r:?}");
        // `add` requires the grant `tester`; an OAuth caller is `oauth:alice`.
        let r = c.call_tool("add", json!({"a": 1, "b": 2})).await;
        assert!(
            r.error().is_some() || r.result()["isError"] == true,
            "{r:?}"
        );

        let silver = key.sign(&claims("bob", json!({"tier": "silver"})));
        let mut c = Client::new(&gw.url("fx"), Some(&silver), version);
        c.initialize().await;
        let r = c.call_tool("echo", json!({"message": "hi"})).await;
        assert!(
            r.error().is_some() || r.result()["isError"] == true,
            "{r:?}"
        );

        let mallory = key.sign(&claims("mallory", json!({})));
        let mut c = Client::new(&gw.url("fx"), Some(&mallory), version);
        c.initialize().await;
        let r = c.call_tool("echo", json!({"message": "hi"})).await;
        assert!(
            r.error().is_some() || r.result()["isError"] == true,
            "{r:?}"
        );
    }
    // The configured grant still works on the same server, by its token.
    let mut c = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    c.initialize().await;
    let r = c.call_tool("add", json!({"a": 1, "b": 2})).await;
    assert!(r.error().is_none(), "{r:?}");
    gw.stop().await;
}

#[tokio::test]
async fn a_refreshed_token_continues_the_session_with_its_new_claims() {
    let rsa_a = rsa("rsa_a.key.pem", "rsa-a");
    let gw = gateway(&jwks_server(&[&rsa_a]).await).await;
    let first = rsa_a.sign(&claims("alice", json!({})));
    let mut c = Client::new(&gw.url("fx"), Some(&first), "2025-11-25");
    c.initialize().await;
    let r = c.call_tool("echo", json!({"message": "one"})).await;
    assert_eq!(r.result()["content"][0]["text"], "Echo: one", "{r:?}");
    // Same subject, new token, lower tier: same session, new claims judged.
    let refreshed = rsa_a.sign(&claims(
        "alice",
        json!({"tier": "silver", "iat": now() + 1, "jti": "2"}),
    ));
    c.set_token(Some(&refreshed));
    let r = c.call_tool("echo", json!({"message": "two"})).await;
    assert!(
        r.error().is_some() || r.result()["isError"] == true,
        "{r:?}"
    );
    // Back to gold: allowed again on the same session.
    let gold = rsa_a.sign(&claims("alice", json!({"jti": "3"})));
    c.set_token(Some(&gold));
    let r = c.call_tool("echo", json!({"message": "three"})).await;
    assert_eq!(r.result()["content"][0]["text"], "Echo: three", "{r:?}");
    // Another subject cannot use alice's session.
    let eve = rsa_a.sign(&claims("eve", json!({})));
    c.set_token(Some(&eve));
    let r = c
        .post(&c.request_body(99, "tools/list", json!({})), &[])
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    gw.stop().await;
}
