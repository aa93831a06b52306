//! Property tests: random valid policies load (as JSON and as YAML, with
//! the same decisions), evaluation never panics and keeps its invariants,
//! and no input makes the loader panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failure should stop the test with the value"
)]

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use toolgate_policy::{Call, Decision, Policy, Principal, Verdict};

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,8}"
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => name(),
        1 => name().prop_map(|n| format!("{n}*")),
        1 => name().prop_map(|n| format!("*{n}")),
        1 => "[a-z]{1,3}\\?[a-z]{0,3}",
        1 => "[a-z]{0,2}\\[[a-c]{1,3}\\][a-z]{0,2}",
        1 => Just("*".to_owned()),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-zA-Z0-9 ]{0,8}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![Just(Value::Null), scalar()].prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "args\\.[a-z]{1,4}",
        1 => "args\\.[a-z]{1,4}\\[[0-3]\\]\\.[a-z]{1,3}",
        1 => "[a-z ]{1,4}".prop_map(|k| format!("args[{}]", Value::from(k))),
        1 => prop::sample::select(vec!["grant.name", "server.name", "tool.name", "session.id", "principal.sub", "uri", "args"])
            .prop_map(str::to_owned),
        1 => "principal\\.claims\\.[a-z]{1,4}",
    ]
}

fn op_value() -> impl Strategy<Value = (String, Option<Value>)> {
    let op = |names: &'static [&'static str]| prop::sample::select(names).prop_map(str::to_owned);
    prop_oneof![
        (op(&["eq", "neq", "contains"]), scalar()).prop_map(|(o, v)| (o, Some(v))),
        (op(&["in", "not_in"]), prop::collection::vec(scalar(), 0..4))
            .prop_map(|(o, v)| (o, Some(Value::from(v)))),
        (op(&["lt", "lte", "gt", "gte"]), -1e6f64..1e6).prop_map(|(o, v)| (o, Some(json!(v)))),
        (op(&["starts_with", "ends_with"]), "[a-z]{0,4}").prop_map(|(o, v)| (o, Some(json!(v)))),
        "[a-z.*+]{0,6}".prop_map(|v| ("regex".to_owned(), Some(json!(regex::escape(&v))))),
        prop::option::of(any::<bool>()).prop_map(|v| ("exists".to_owned(), v.map(Value::from))),
        (op(&["len_gt", "len_lt"]), 0u64..50).prop_map(|(o, v)| (o, Some(json!(v)))),
    ]
}

fn condition() -> impl Strategy<Value = Value> {
    let expr = prop_oneof![
        (1i64..100_000).prop_map(|n| format!("has(args.amount) && args.amount > {n}")),
        name().prop_map(|n| format!("grant.name == '{n}'")),
        Just("now > 0 && (has(session.id) || uri == null)".to_owned()),
        Just("has(args.items) && args.items.exists(i, i == 1)".to_owned()),
    ];
    let message = prop::option::of("[a-zA-Z ]{1,12}");
    prop_oneof![
        3 => (path(), op_value(), message.clone()).prop_map(|(p, (op, value), m)| {
            let mut c = json!({"path": p, "op": op});
            if let Some(v) = value { c["value"] = v; }
            if let Some(m) = m { c["message"] = json!(m); }
            c
        }),
        1 => (expr, message).prop_map(|(e, m)| {
            let mut c = json!({"expr": e});
            if let Some(m) = m { c["message"] = json!(m); }
            c
        }),
    ]
}

/// A limit; its counter's name is derived from its definition, so shared
/// names never conflict.
fn limit() -> impl Strategy<Value = Value> {
    let window = prop_oneof![
        prop::sample::select(vec!["second", "minute", "hour", "day"]).prop_map(|w| json!(w)),
        (
            "[1-9][0-9]{0,3}",
            prop::sample::select(vec!["ms", "s", "m", "h", "d", ""])
        )
            .prop_map(|(n, u)| json!(format!("{n}{u}"))),
        (1u64..100_000).prop_map(|n| json!(n)),
    ];
    let scope = prop::sample::select(vec!["grant", "session", "server", "tool", "global"]);
    let mode = prop::sample::select(vec!["fixed", "sliding"]);
    let from = prop::option::of(prop_oneof![Just("args.quantity"), Just("args.n")]);
    (
        window,
        1u64..1000,
        scope,
        mode,
        prop::option::of(1u64..10),
        from,
    )
        .prop_map(|(w, max, scope, mode, inc, from)| {
            let counter = format!("c-{}-{max}-{scope}-{mode}", w.to_string().replace('"', ""));
            let mut l =
                json!({"counter": counter, "window": w, "max": max, "scope": scope, "mode": mode});
            if let Some(i) = inc {
                l["increment"] = json!(i);
            }
            if let Some(f) = from {
                l["increment_from"] = json!(f);
            }
            l
        })
}

fn rule(tools: bool) -> impl Strategy<Value = Value> {
    let actions: Vec<Option<&str>> = if tools {
        vec![
            None,
            Some("allow"),
            Some("deny"),
            Some("hide"),
            Some("approval"),
        ]
    } else {
        vec![None, Some("allow"), Some("deny"), Some("approval")]
    };
    let conditions = || prop::collection::vec(condition(), 0..3);
    (
        prop::sample::select(actions),
        prop::option::of("[a-zA-Z ]{1,12}"),
        (conditions(), conditions(), conditions()),
        prop::collection::vec(limit(), 0..3),
        prop::option::of(("[1-9][0-9]?m", prop::option::of("[a-z ]{1,8}"))),
        prop::option::of("[a-zA-Z ]{1,12}"),
    )
        .prop_map(
            |(action, reason, (require, deny_if, approval_if), limits, approval, on_deny)| {
                let mut r = Map::new();
                if let Some(a) = action {
                    r.insert("action".into(), json!(a));
                }
                if let Some(t) = reason {
                    r.insert("reason".into(), json!(t));
                }
                if !require.is_empty() {
                    r.insert("require".into(), json!(require));
                }
                if !deny_if.is_empty() {
                    r.insert("deny_if".into(), json!(deny_if));
                }
                let conditional = !approval_if.is_empty();
                if conditional {
                    r.insert("approval_if".into(), json!(approval_if));
                }
                if !limits.is_empty() {
                    r.insert("limits".into(), json!(limits));
                }
                if let Some(t) = on_deny {
                    r.insert("on_deny".into(), json!(t));
                }
                let settings_allowed = match action {
                    None | Some("approval") => true,
                    Some("allow") => conditional,
                    Some(_) => false,
                };
                if let (Some((timeout, reason)), true) = (approval, settings_allowed) {
                    let mut a = json!({"timeout": timeout});
                    if let Some(t) = reason {
                        a["reason"] = json!(t);
                    }
                    r.insert("approval".into(), a);
                }
                Value::Object(r)
            },
        )
}

fn section() -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop::sample::select(vec!["allow", "deny"])),
        prop::collection::btree_map(key(), rule(false), 0..4),
    )
        .prop_map(|(default, rules)| {
            let mut s = json!({"rules": Value::Object(rules.into_iter().collect())});
            if let Some(d) = default {
                s["default"] = json!(d);
            }
            s
        })
}

fn policy() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["allow", "deny"]),
        prop::option::of(prop_oneof![
            Just(json!("*")),
            prop::collection::vec(key(), 0..3).prop_map(|k| json!(k)),
        ]),
        prop::option::of(prop::collection::vec(limit(), 0..3)),
        prop::collection::btree_map(key(), rule(true), 0..6),
        prop::option::of(section()),
        prop::option::of(section()),
    )
        .prop_map(|(default, hide, all_tools, tools, resources, prompts)| {
            let mut p = json!({"version": "1", "default": default, "description": "generated"});
            if let Some(h) = hide {
                p["hide"] = h;
            }
            if let Some(l) = all_tools {
                p["all_tools"] = json!({"limits": l});
            }
            p["tools"] = Value::Object(tools.into_iter().collect());
            if let Some(s) = resources {
                p["resources"] = s;
            }
            if let Some(s) = prompts {
                p["prompts"] = s;
            }
            p
        })
}

fn call_target() -> impl Strategy<Value = (u8, String)> {
    (0u8..3, prop_oneof![key(), "[a-z:/]{1,12}"])
}

fn decide(
    policy: &Policy,
    (kind, name): &(u8, String),
    args: Option<&RawValue>,
    session: bool,
) -> Decision {
    let call = match kind {
        0 => Call::Tool {
            name,
            arguments: args,
        },
        1 => Call::Resource { uri: name },
        _ => Call::Prompt {
            name,
            arguments: args,
        },
    };
    let claims = json!({"groups": ["a"]});
    let principal = Principal {
        grant: "alice",
        server: "crm",
        session: session.then_some("s1"),
        subject: Some("user-1"),
        claims: Some(&claims),
    };
    policy.evaluate(
        &call,
        &principal,
        UNIX_EPOCH + Duration::from_secs(1_772_452_800),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn generated_policies_load_and_decide_alike_as_json_and_yaml(
        doc in policy(),
        calls in prop::collection::vec((call_target(), prop::option::of(json_value()), any::<bool>()), 1..6),
    ) {
        let json_text = serde_json::to_string_pretty(&doc).unwrap();
        let from_json = Policy::from_json_str(&json_text, "gen.json");
        prop_assert!(from_json.is_ok(), "{}\n{json_text}", from_json.unwrap_err());
        let from_json = from_json.unwrap();
        let yaml_text = yaml_serde::to_string(&doc).unwrap();
        let from_yaml = Policy::from_yaml_str(&yaml_text, "gen.yaml");
        prop_assert!(from_yaml.is_ok(), "{}\n{yaml_text}", from_yaml.unwrap_err());
        let from_yaml = from_yaml.unwrap();
        prop_assert_eq!(from_json.summary(), from_yaml.summary());
        for (target, args, session) in &calls {
            let raw = args.as_ref().map(|a| RawValue::from_string(a.to_string()).unwrap());
            let d = decide(&from_json, target, raw.as_deref(), *session);
            prop_assert_eq!(&d, &decide(&from_yaml, target, raw.as_deref(), *session));
            prop_assert_eq!(matches!(d.verdict, Verdict::Allow), d.reason.is_none());
            prop_assert!(d.rule.is_some());
            if matches!(d.verdict, Verdict::Deny | Verdict::Hide) {
                prop_assert!(d.limits.is_empty());
            }
        }
    }

    #[test]
    fn any_text_loads_or_fails_cleanly(text in any::<String>()) {
        let _ = Policy::from_str_auto(&text, "fuzz");
    }

    #[test]
    fn any_bytes_load_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Policy::from_str_auto(&String::from_utf8_lossy(&bytes), "fuzz");
    }

    #[test]
    fn damaged_policies_fail_cleanly(doc in policy(), cut in any::<prop::sample::Index>(), c in any::<char>()) {
        let mut text = serde_json::to_string(&doc).unwrap();
        let at = cut.index(text.len());
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.insert(at, c);
        if let Err(e) = Policy::from_str_auto(&text, "damaged.json") {
            prop_assert!(e.line >= 1 && e.column >= 1);
            prop_assert!(!e.path.is_empty() && !e.message.is_empty());
        }
        let yaml = yaml_serde::to_string(&doc).unwrap();
        let at = cut.index(yaml.len());
        let at = (0..=at).rev().find(|i| yaml.is_char_boundary(*i)).unwrap_or(0);
        let _ = Policy::from_yaml_str(&yaml[..at], "damaged.yaml");
    }
}
