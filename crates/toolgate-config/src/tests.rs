use std::path::Path;

use super::*;

fn env() -> Env {
    Env::from_pairs([
        ("ALICE_TOKEN", "alice-token-0123456789"),
        ("CRM_API_KEY", "k-123"),
        ("EVERYTHING_TOKEN", "ev"),
    ])
}

fn parse_ok(text: &str) -> Config {
    parse(text, Path::new("/etc/toolgate/toolgate.yaml"), &env()).unwrap()
}

fn parse_err(text: &str) -> String {
    parse(text, Path::new("/etc/toolgate/toolgate.yaml"), &env())
        .unwrap_err()
        .to_string()
}

const ISSUE_EXAMPLE: &str = r#"
listen: 127.0.0.1:8800
servers:
  crm:                       # stdio upstream
    command: ["node", "server.js"]
    env: {API_KEY: "${CRM_API_KEY}"}   # ${VAR} expands from the environment
    cwd: /srv/crm
  everything:
    url: http://127.0.0.1:3001/mcp
    headers: {Authorization: "Bearer ${EVERYTHING_TOKEN}"}
grants:
  - name: alice-laptop
    token: "${ALICE_TOKEN}"
    server: crm
    policy: crm
policies:
  crm: policies/crm.json
"#;

#[test]
fn the_documented_example_loads() {
    let c = parse_ok(ISSUE_EXAMPLE);
    assert_eq!(c.listen_addr().to_string(), "127.0.0.1:8800");
    let crm = &c.servers["crm"];
    assert_eq!(
        crm.command.as_deref(),
        Some(&["node".to_owned(), "server.js".to_owned()][..])
    );
    assert_eq!(crm.env["API_KEY"], "k-123");
    assert_eq!(crm.instances, Instances::PerSession);
    assert_eq!(crm.inherit_env, InheritEnv::Minimal);
    let ev = &c.servers["everything"];
    assert_eq!(ev.headers["Authorization"], "Bearer ev");
    assert_eq!(ev.transport, Transport::Auto);
    assert_eq!(c.grants[0].token.as_deref(), Some("alice-token-0123456789"));
    assert_eq!(
        c.resolve_path(&c.policies["crm"]),
        Path::new("/etc/toolgate/policies/crm.json")
    );
    assert_eq!(c.http.max_body_bytes, ByteSize(4 << 20));
}

#[test]
fn audit_takes_a_url_or_a_section() {
    let short = parse_ok("servers:\n  s:\n    command: [x]\naudit: \"postgres://u@h/db\"\n");
    assert_eq!(short.audit.sink, "postgres://u@h/db");
    assert_eq!(short.audit.durability, Durability::Default);
    let full = parse_ok(
        "servers:\n  s:\n    command: [x]\naudit:\n  sink: none\n  durability: strict\n  capture_args: true\n  batch_interval: 50ms\n",
    );
    assert_eq!(full.audit.sink, "none");
    assert_eq!(full.audit.durability, Durability::Strict);
    assert!(full.audit.capture_args);
    assert_eq!(
        full.audit.batch_interval,
        Seconds(std::time::Duration::from_millis(50))
    );
    let default = parse_ok("servers:\n  s:\n    command: [x]\n");
    assert_eq!(default.audit.sink, "sqlite://toolgate.db");
}

#[test]
fn limits_take_a_url_or_a_section() {
    let default = parse_ok("servers:\n  s:\n    command: [x]\n");
    assert_eq!(default.limits.store, "memory");
    assert_eq!(default.limits_unavailable, Unavailable::Deny);
    assert_eq!(
        default.limits.timeout,
        Seconds(std::time::Duration::from_millis(50))
    );
    let short = parse_ok(
        "servers:\n  s:\n    command: [x]\nlimits: redis://127.0.0.1:6379/0\nlimits_unavailable: allow\n",
    );
    assert_eq!(short.limits.store, "redis://127.0.0.1:6379/0");
    assert_eq!(short.limits.key_prefix, "toolgate:limits:");
    assert_eq!(short.limits_unavailable, Unavailable::Allow);
    let full = parse_ok(
        "servers:\n  s:\n    command: [x]\nlimits:\n  store: redis://r:6379\n  timeout: 200ms\n  key_prefix: \"fleet-a:\"\n",
    );
    assert_eq!(
        full.limits.timeout,
        Seconds(std::time::Duration::from_millis(200))
    );
    assert_eq!(full.limits.key_prefix, "fleet-a:");
}

#[test]
fn units_and_options_parse() {
    let c = parse_ok(
        "servers:\n  s:\n    url: https://x.example/mcp\n    transport: sse\n    timeout: 90s\n    protocol: stateless\nhttp:\n  max_body_bytes: 1MiB\n  allowed_hosts: [gw.internal]\n",
    );
    let s = &c.servers["s"];
    assert_eq!(s.transport, Transport::Sse);
    assert_eq!(s.timeout, Seconds::from_secs(90));
    assert_eq!(s.protocol, ProtocolChoice::Stateless);
    assert_eq!(c.http.max_body_bytes, ByteSize(1 << 20));
    assert_eq!(c.http.allowed_hosts, vec!["gw.internal".to_owned()]);
    assert_eq!(c.listen, "127.0.0.1:8800");
}

#[test]
fn errors_name_the_place() {
    let cases = [
        (
            "servers:\n  s:\n    comand: [x]\n",
            "toolgate.yaml:3:5: servers.s: unknown field `comand`",
        ),
        (
            "servers:\n  s:\n    url: http://x\n    timeout: 5 parsecs\n",
            "invalid duration",
        ),
        (
            "servers:\n  s:\n    command: [x]\n    env: {K: \"${NOPE}\"}\n",
            "servers.s.env.K: environment variable NOPE is not set",
        ),
        (
            "servers:\n  s:\n    command: [x]\n    url: http://x\n",
            "servers.s: set either",
        ),
        ("servers:\n  s: {}\n", "servers.s: set `command`"),
        ("servers:\n  s:\n    url: ftp://x\n", "servers.s.url"),
        (
            "servers:\n  s:\n    url: http://x\n    cwd: /tmp\n",
            "servers.s.cwd",
        ),
        (
            "servers:\n  s:\n    command: [x]\n    headers: {A: b}\n",
            "servers.s.headers",
        ),
        (
            "servers:\n  'a/b':\n    command: [x]\n",
            "servers.a/b: a server name",
        ),
        (
            "listen: nowhere\nservers:\n  s:\n    command: [x]\n",
            "listen",
        ),
        ("servers: {}\n", "at least one server"),
        (
            "servers:\n  s:\n    command: [x]\ngrants:\n  - {name: g, token: \"${ALICE_TOKEN}\", server: t}\n",
            "grants[0].server: no server named \"t\"",
        ),
        (
            "servers:\n  s:\n    command: [x]\ngrants:\n  - {name: g, token: short, server: s}\n",
            "at least 16",
        ),
        (
            "servers:\n  s:\n    command: [x]\ngrants:\n  - {name: g, token_sha256: abc, server: s}\n",
            "64 hex",
        ),
        (
            "servers:\n  s:\n    command: [x]\ngrants:\n  - {name: g, token: \"${ALICE_TOKEN}\", server: s, policy: p}\n",
            "no policy named \"p\"",
        ),
        (
            "servers:\n  s:\n    command: [x]\ngrants:\n  - {name: g, token: \"${ALICE_TOKEN}\", server: s}\n  - {name: g, token: \"${ALICE_TOKEN}x\", server: s}\n",
            "duplicate grant name",
        ),
        (
            "servers:\n  s:\n    command: [x]\ngrants:\n  - {name: a, token: \"${ALICE_TOKEN}\", server: s}\n  - {name: b, token: \"${ALICE_TOKEN}\", server: s}\n",
            "share one token",
        ),
    ];
    let anon = [
        (
            "servers:\n  s:\n    command: [x]\ngrants:\n  - {name: a, anonymous: true, token: \"${ALICE_TOKEN}\", server: s}\n",
            "an anonymous grant has no token",
        ),
        (
            "servers:\n  s:\n    command: [x]\ngrants:\n  - {name: a, anonymous: true, server: s}\n  - {name: b, anonymous: true, server: s}\n",
            "already has an anonymous grant",
        ),
    ];
    let audit = [
        (
            "servers:\n  s:\n    command: [x]\naudit: mysql://x\n",
            "audit.sink",
        ),
        (
            "servers:\n  s:\n    command: [x]\naudit: {sink: none, durablity: strict}\n",
            "unknown field `durablity`",
        ),
        (
            "servers:\n  s:\n    command: [x]\nlimits: memcached://x\n",
            "limits.store",
        ),
        (
            "servers:\n  s:\n    command: [x]\nlimits_unavailable: maybe\n",
            "limits_unavailable",
        ),
    ];
    for (text, needle) in cases.into_iter().chain(anon).chain(audit) {
        let err = parse_err(text);
        assert!(err.contains(needle), "{text}\n=> {err}");
    }
}

#[test]
fn load_reads_a_file_and_reports_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toolgate.yaml");
    std::fs::write(&path, "servers:\n  s:\n    command: [\"$${HOME}\"]\n").unwrap();
    let c = load(&path).unwrap();
    assert_eq!(c.servers["s"].command.as_ref().unwrap()[0], "${HOME}");
    assert_eq!(c.base_dir, dir.path());
    let err = load(&dir.path().join("nope.yaml")).unwrap_err().to_string();
    assert!(err.contains("nope.yaml"), "{err}");
}

#[test]
fn the_session_key_is_32_bytes_from_the_file_or_the_environment() {
    let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let base = "servers:\n  s:\n    command: [x]\n";
    assert_eq!(parse_ok(base).sessions.key_bytes(), Ok(None));
    let from_file = parse_ok(&format!("{base}sessions:\n  key: {hex_key}\n"));
    let bytes = from_file.sessions.key_bytes().unwrap().unwrap();
    assert_eq!(hex::encode(bytes), hex_key);
    let b64 = "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=";
    for text in [
        b64,
        b64.trim_end_matches('='),
        "ABEiM0RVZneImaq7zN3u_wARIjNEVWZ3iJmqu8zd7v8",
    ] {
        let c = parse_ok(&format!("{base}sessions:\n  key: \"{text}\"\n"));
        assert_eq!(c.sessions.key_bytes().unwrap(), Some(bytes), "{text}");
    }
    let env = Env::from_pairs([("TOOLGATE_SESSION_KEY", hex_key), ("K", hex_key)]);
    let path = Path::new("/etc/toolgate/toolgate.yaml");
    let from_env = parse(base, path, &env).unwrap();
    assert_eq!(from_env.sessions.key_bytes().unwrap(), Some(bytes));
    let expanded = parse(
        &format!("{base}sessions: {{key: \"${{K}}\"}}\n"),
        path,
        &env,
    )
    .unwrap();
    assert_eq!(expanded.sessions.key_bytes().unwrap(), Some(bytes));
    assert!(
        !format!("{:?}", from_env.sessions).contains(hex_key),
        "Debug hides the key"
    );
    for bad in ["0011", "not a key at all!", &hex_key[..62]] {
        let err = parse_err(&format!("{base}sessions:\n  key: \"{bad}\"\n"));
        assert!(
            err.contains("sessions.key") && err.contains("32"),
            "{bad} => {err}"
        );
        assert!(!err.contains(bad), "the error never repeats the key: {err}");
    }
}
