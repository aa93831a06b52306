//! The shipped examples (`examples/policies/*.json|yaml`) load, and they and
//! the data-driven case policies validate against
//! `schemas/policy.schema.json`; policies the loader rejects for reasons a
//! schema can express are rejected by the schema too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failure should stop the test with the value"
)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use toolgate_policy::Policy;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("schemas/policy.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft202012::new(&schema).expect("the schema is valid draft 2020-12")
}

/// The policy text as a JSON value, whichever format it is in.
fn as_value(text: &str) -> Value {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).unwrap()
    } else {
        yaml_serde::from_str(text).unwrap()
    }
}

fn schema_errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn examples_load_and_match_the_schema() {
    let validator = validator();
    let dir = repo().join("examples/policies");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with(".json") || name.ends_with(".yaml")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if let Err(e) = Policy::from_str_auto(&text, &name) {
            panic!("{e}");
        }
        let errors = schema_errors(&validator, &as_value(&text));
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        seen.push(name);
    }
    seen.sort();
    assert_eq!(seen, ["advanced.yaml", "crm.json", "seed.json"]);
}

#[test]
fn case_policies_match_the_schema() {
    #[derive(serde::Deserialize)]
    struct Case {
        policy: String,
        #[serde(default)]
        equivalent: Vec<String>,
    }
    let validator = validator();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let case: Case = yaml_serde::from_str(&text).unwrap();
        for policy in std::iter::once(&case.policy).chain(&case.equivalent) {
            let errors = schema_errors(&validator, &as_value(policy));
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        }
    }
}

#[test]
fn the_schema_rejects_what_the_loader_rejects() {
    let validator = validator();
    let base = || json!({"version": "1", "default": "deny"});
    let with_tool = |rule: Value| {
        let mut p = base();
        p["tools"] = json!({"t": rule});
        p
    };
    let limit = |extra: Value| {
        let mut l = json!({"counter": "c", "window": "minute", "max": 1});
        l.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        with_tool(json!({"limits": [l]}))
    };
    let condition = |c: Value| with_tool(json!({"require": [c]}));
    let bad = [
        json!({"version": "2", "default": "deny"}),
        json!({"version": "1"}),
        json!({"version": "1", "default": "deny", "tool": {}}),
        json!({"version": "1", "default": "deny", "hide": "all"}),
        json!({"version": "1", "default": "deny", "tools": {"a[b": {}}}),
        json!({"version": "1", "default": "deny", "tools": {"": {}}}),
        with_tool(json!({"limts": []})),
        with_tool(json!({"action": "block"})),
        with_tool(json!({"action": "deny", "approval": {}})),
        with_tool(json!({"action": "allow", "approval": {}})),
        with_tool(json!({"approval": {"timeout": "10 minutes"}})),
        limit(json!({"window": "minnute"})),
        limit(json!({"window": "0s"})),
        limit(json!({"window": 0})),
        limit(json!({"max": 0})),
        limit(json!({"scope": "user"})),
        limit(json!({"mode": "rolling"})),
        limit(json!({"counter": "a|b"})),
        limit(json!({"increment": 0})),
        limit(json!({"increment_from": "quantity"})),
        condition(json!({"path": "args.x", "op": "gtt", "value": 1})),
        condition(json!({"path": "args.x", "op": "in", "value": "a"})),
        condition(json!({"path": "args.x", "op": "gt", "value": "100"})),
        condition(json!({"path": "args.x", "op": "eq", "value": null})),
        condition(json!({"path": "args.x", "op": "eq"})),
        condition(json!({"path": "args.x", "op": "exists", "value": "yes"})),
        condition(json!({"path": "args.x", "op": "len_gt", "value": -1})),
        condition(json!({"path": "args.x", "op": "regex", "value": 1})),
        condition(json!({"path": "arg.x", "op": "exists"})),
        condition(json!({"path": "grant.id", "op": "exists"})),
        condition(json!({"path": "args.x", "value": 1})),
        condition(json!({"path": "args.x", "op": "eq", "value": 1, "expr": "true"})),
        condition(json!({"path": "args.x", "op": "eq", "vaule": 1})),
        condition(json!({})),
        json!({"version": "1", "default": "deny", "resources": {"rules": {"file:///x": {"action": "hide"}}}}),
        json!({"version": "1", "default": "deny", "prompts": {"defaults": "deny"}}),
    ];
    for doc in &bad {
        let text = doc.to_string();
        assert!(
            Policy::from_json_str(&text, "bad.json").is_err(),
            "the loader accepts {text}"
        );
        assert!(!validator.is_valid(doc), "the schema accepts {text}");
    }
    let good = [
        condition(json!({"path": "args[\"odd key\"].x[0]", "op": "exists"})),
        condition(json!({"path": "principal.claims.groups", "op": "contains", "value": "a"})),
        condition(json!({"expr": "grant.name == 'x'", "message": "m"})),
        with_tool(
            json!({"action": "allow", "approval": {}, "approval_if": [{"path": "uri", "op": "exists"}]}),
        ),
        limit(
            json!({"window": 90, "scope": "global", "mode": "sliding", "increment_from": "args.n"}),
        ),
        limit(json!({"window": "250ms"})),
        json!({"version": 1, "default": "allow", "hide": "*", "tools": {"[!x]*": {}, "a[*]": {"action": "hide"}}}),
    ];
    for doc in &good {
        let text = doc.to_string();
        if let Err(e) = Policy::from_json_str(&text, "good.json") {
            panic!("the loader rejects {text}: {e}");
        }
        let errors = schema_errors(&validator, doc);
        assert!(errors.is_empty(), "{text}: {errors:#?}");
    }
}
