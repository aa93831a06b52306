use std::path::Path;

use super::*;
use crate::{Env, parse};

#[test]
fn urls() {
    let cases = [
        ("memory", "memory"),
        ("sqlite://toolgate.db", "sqlite://toolgate.db"),
        ("sqlite:///var/a@b.db", "sqlite:///var/a@b.db"),
        ("redis://:hunter2@r:6379/0", "redis://:<redacted>@r:6379/0"),
        (
            "postgres://app:p%40ss@db.internal:5432/toolgate?sslmode=require",
            "postgres://app:<redacted>@db.internal:5432/toolgate?sslmode=require",
        ),
        ("postgres://app@db/t", "postgres://app@db/t"),
        (
            "https://up.example/mcp?api_key=k1&x=1&access_token=t1#frag",
            "https://up.example/mcp?api_key=<redacted>&x=1&access_token=<redacted>#frag",
        ),
        (
            "https://u:p@h?Password=x&sig=y",
            "https://u:<redacted>@h?Password=<redacted>&sig=<redacted>",
        ),
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318"),
    ];
    for (url, want) in cases {
        assert_eq!(redact_url(url), want, "{url}");
    }
}

#[test]
fn command_lines() {
    let args: Vec<String> = [
        "/bin/srv",
        "--api-key",
        "k1",
        "--token=t1",
        "API_SECRET=s1",
        "--verbose",
        "stdio",
        "--db",
        "postgres://u:p1@h/db",
        "./rel/path=1",
    ]
    .map(String::from)
    .to_vec();
    let want = [
        "/bin/srv",
        "--api-key",
        "<redacted>",
        "--token=<redacted>",
        "API_SECRET=<redacted>",
        "--verbose",
        "stdio",
        "--db",
        "postgres://u:<redacted>@h/db",
        "./rel/path=1",
    ];
    assert_eq!(redact_args(&args), want);
}

const SECRETS: [&str; 10] = [
    "grant-token-0123456789",
    "admin-token-0123456789",
    "abababababababab",
    "bearer-upstream-secret",
    "api-key-secret",
    "env-secret-value",
    "redis-password",
    "pg-password",
    "store-password",
    "jwks-password",
];

const YAML: &str = r#"
public_url: https://gw.example
servers:
  up:
    url: "https://user:bearer-upstream-secret@up.example/mcp?token=api-key-secret"
    headers: {Authorization: "Bearer bearer-upstream-secret", X-Api-Key: api-key-secret}
    oauth:
      issuer: https://issuer.example
      jwks_url: https://jw:jwks-password@issuer.example/jwks
  local:
    command: [srv, --token, grant-token-0123456789]
    env: {API_KEY: env-secret-value, MODE: prod}
grants:
  - {name: g, token: grant-token-0123456789, server: up}
  - {name: h, token_sha256: "0000000000000000000000000000000000000000000000000000000000000000", server: local}
admin: {token: admin-token-0123456789}
sessions:
  key: abababababababababababababababababababababababababababababababab
audit: postgres://app:pg-password@db/toolgate
limits: redis://:redis-password@redis:6379/0
grant_store: postgres://app:store-password@db/grants
"#;

fn config() -> Config {
    parse(
        YAML,
        Path::new("/etc/toolgate/toolgate.yaml"),
        &Env::from_pairs([]),
    )
    .unwrap()
}

#[test]
fn redacted_config_holds_no_secret() {
    let c = config();
    let r = c.redacted();
    let shown = format!("{r:?}\n{}", yaml_serde::to_string(&r).unwrap());
    for s in SECRETS {
        assert!(!shown.contains(s), "{s} leaked:\n{shown}");
    }
    assert_eq!(r.grants[0].token.as_deref(), Some(REDACTED));
    assert_eq!(r.grants[1].token, None);
    assert_eq!(r.grants[1].token_sha256, c.grants[1].token_sha256);
    assert_eq!(r.servers["local"].env["API_KEY"], REDACTED);
    assert_eq!(r.servers["local"].env["MODE"], REDACTED);
    assert_eq!(r.servers["up"].headers["X-Api-Key"], REDACTED);
    assert_eq!(r.sessions.key.as_deref(), Some(REDACTED));
    assert_eq!(r.limits.store, "redis://:<redacted>@redis:6379/0");
    assert_eq!(
        r.grant_store_url(),
        Some("postgres://app:<redacted>@db/grants")
    );
    // What is not secret survives.
    assert_eq!(r.resource_url("up"), c.resource_url("up"));
    assert_eq!(r.servers["local"].command.as_ref().unwrap()[0], "srv");
    assert_eq!(r.base_dir, c.base_dir);
}

#[test]
fn debug_of_whole_config_holds_no_secret() {
    let c = config();
    let shown = format!("{c:?} {:?} {:?}", c.servers["up"], c.grants[0]);
    for s in SECRETS {
        assert!(!shown.contains(s), "{s} leaked:\n{shown}");
    }
    assert!(shown.contains("X-Api-Key"), "{shown}");
    assert!(shown.contains(REDACTED), "{shown}");
}
