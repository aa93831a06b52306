//! The rest of the public API: format detection, the version hash,
//! `hides_tool`, `summary`, and sharing a policy between threads.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failure should stop the test with the value"
)]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use toolgate_policy::{Call, Policy, Principal, Summary, Verdict};

const SEED: &str = r#"{"version":"1","default":"deny","tools":{"createLead":{"limits":[{"counter":"createlead_rate","window":"minute","max":30,"scope":"grant"}]}}}"#;

fn principal() -> Principal<'static> {
    Principal {
        grant: "alice",
        server: "crm",
        session: Some("s1"),
        subject: None,
        claims: None,
    }
}

#[test]
fn version_is_a_prefix_of_the_texts_sha256() {
    let policy = Policy::from_json_str(SEED, "seed.json").unwrap();
    let hex: String = Sha256::digest(SEED.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(policy.version(), format!("sha256:{}", &hex[..16]));
    // Any change to the text is a new version, even one that means the same.
    let spaced = Policy::from_json_str(&format!(" {SEED}"), "seed.json").unwrap();
    assert_ne!(policy.version(), spaced.version());
}

#[test]
fn from_str_auto_picks_json_by_the_first_character() {
    assert!(Policy::from_str_auto(&format!("\n\t {SEED}"), "x").is_ok());
    let yaml = "version: \"1\"\ndefault: allow\n";
    assert!(Policy::from_str_auto(yaml, "x").is_ok());
    // A YAML flow mapping starts with `{` too, and is read as JSON.
    let err = Policy::from_str_auto("{version: \"1\", default: allow}", "x.yaml").unwrap_err();
    assert_eq!(err.to_string(), "x.yaml:1:2: (root): key must be a string");
    // Which is why YAML callers who know the format use from_yaml_str.
    assert!(Policy::from_yaml_str("{version: \"1\", default: allow}", "x.yaml").is_ok());
}

#[test]
fn hides_tool() {
    let policy = Policy::from_yaml_str(
        r#"
version: "1"
default: allow
hide: [delete*, exportAll]
tools:
  secret: {action: hide}
  deleteLead: {}
  getLead: {}
  "get*": {action: deny}
"#,
        "hide.yaml",
    )
    .unwrap();
    assert!(policy.hides_tool("deleteLead"));
    assert!(policy.hides_tool("deleteDeal"));
    assert!(policy.hides_tool("exportAll"));
    assert!(policy.hides_tool("secret"));
    assert!(!policy.hides_tool("getLead"));
    // Denied is not hidden: the tool is listed, and calls are refused.
    assert!(!policy.hides_tool("getDeal"));
    assert!(!policy.hides_tool("other"));
    let all =
        Policy::from_yaml_str("version: '1'\ndefault: deny\nhide: '*'\n", "all.yaml").unwrap();
    assert!(all.hides_tool("anything"));
}

#[test]
fn summary_counts() {
    let policy = Policy::from_yaml_str(
        r#"
version: "1"
default: deny
hide: [a, b*]
all_tools: {limits: [{counter: calls, window: minute, max: 100}]}
tools:
  createLead: {limits: [{counter: c, window: minute, max: 30}]}
  "get*": {}
  "*": {action: hide}
  updateDeal:
    require: [{path: args.id, op: exists}]
    deny_if: [{path: args.amount, op: gt, value: 10000}, {expr: "grant.name == 'x'"}]
    approval_if: [{path: args.stage, op: eq, value: WON}]
resources:
  rules:
    "file:///*": {limits: [{counter: r, window: hour, max: 5}]}
prompts:
  default: deny
  rules:
    p: {require: [{path: args.x, op: exists}]}
    q: {}
"#,
        "summary.yaml",
    )
    .unwrap();
    assert_eq!(
        policy.summary(),
        Summary {
            default_allow: false,
            tools: 4,
            globs: 2,
            hidden: 3,
            limits: 3,
            conditions: 5,
            resources: 1,
            prompts: 2,
        }
    );
}

#[test]
fn a_policy_is_shared_between_threads() {
    let policy = Arc::new(Policy::from_json_str(SEED, "seed.json").unwrap());
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let policy = Arc::clone(&policy);
            std::thread::spawn(move || {
                let grant = format!("grant-{i}");
                let who = Principal {
                    grant: &grant,
                    ..principal()
                };
                let call = Call::Tool {
                    name: "createLead",
                    arguments: None,
                };
                let now = UNIX_EPOCH + Duration::from_secs(1_772_452_800);
                let d = policy.evaluate(&call, &who, now);
                assert_eq!(d.verdict, Verdict::Allow);
                d.limits[0].key.clone()
            })
        })
        .collect();
    let keys: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(keys[3], "createlead_rate|grant=grant-3");
}

#[test]
fn errors_expose_their_parts() {
    let err = Policy::from_json_str(
        r#"{"version":"1","default":"deny","tools":{"t":{"action":"nope"}}}"#,
        "p.json",
    )
    .unwrap_err();
    assert_eq!(err.source_name, "p.json");
    assert_eq!((err.line, err.column), (1, 61));
    assert_eq!(err.path, "tools.t.action");
    assert!(err.message.starts_with("unknown variant `nope`"));
}
