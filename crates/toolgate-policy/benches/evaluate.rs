//! Evaluation speed: the PolicyLayer seed policy, and a generated policy of
//! 1,000 tools with 10 path conditions each (called with arguments that
//! pass them all). Run with `cargo bench -p toolgate-policy`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark setup: a failure should stop the run"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use divan::{Bencher, black_box};
use serde_json::json;
use serde_json::value::RawValue;
use toolgate_policy::{Call, Policy, Principal, Verdict};

const SEED: &str = r#"{"version":"1","default":"deny","tools":{"createLead":{"limits":[{"counter":"createlead_rate","window":"minute","max":30,"scope":"grant"}]}}}"#;

fn main() {
    divan::main();
}

fn principal() -> Principal<'static> {
    Principal {
        grant: "alice-laptop",
        server: "crm",
        session: Some("9b2f4c1e"),
        subject: None,
        claims: None,
    }
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_772_452_800)
}

/// 1,000 tools, each with 5 `require` and 5 `deny_if` path conditions and
/// a limit, and an `all_tools` limit.
fn large_policy_text() -> String {
    let rule = |i: usize| {
        json!({
            "require": [
                {"path": "args.id", "op": "exists"},
                {"path": "args.amount", "op": "gt", "value": 0},
                {"path": "args.amount", "op": "lte", "value": 1_000_000},
                {"path": "args.currency", "op": "in", "value": ["USD", "EUR", "GBP"]},
                {"path": "args.sku", "op": "regex", "value": format!("^SKU-{i}-[0-9]+$")},
            ],
            "deny_if": [
                {"path": "args.status", "op": "eq", "value": "frozen"},
                {"path": "args.note", "op": "contains", "value": "DROP TABLE"},
                {"path": "args.items", "op": "len_gt", "value": 100},
                {"path": "args.owner", "op": "starts_with", "value": "root"},
                {"path": "args.customer.country", "op": "not_in", "value": ["US", "DE", "FR"]},
            ],
            "limits": [{"counter": format!("tool_{i}"), "window": "minute", "max": 30}],
        })
    };
    let tools: serde_json::Map<String, serde_json::Value> =
        (0..1000).map(|i| (format!("tool_{i}"), rule(i))).collect();
    json!({
        "version": "1",
        "default": "deny",
        "all_tools": {"limits": [{"counter": "calls", "window": "minute", "max": 1000}]},
        "tools": tools,
    })
    .to_string()
}

#[divan::bench]
fn seed_allow(bencher: Bencher<'_, '_>) {
    let policy = Policy::from_json_str(SEED, "seed.json").unwrap();
    let args = RawValue::from_string(r#"{"title":"Acme","email":"a@acme.test"}"#.into()).unwrap();
    let call = Call::Tool {
        name: "createLead",
        arguments: Some(&args),
    };
    let who = principal();
    assert_eq!(policy.evaluate(&call, &who, now()).verdict, Verdict::Allow);
    bencher.bench_local(|| policy.evaluate(black_box(&call), black_box(&who), now()));
}

#[divan::bench]
fn seed_default_deny(bencher: Bencher<'_, '_>) {
    let policy = Policy::from_json_str(SEED, "seed.json").unwrap();
    let call = Call::Tool {
        name: "deleteLead",
        arguments: None,
    };
    let who = principal();
    bencher.bench_local(|| policy.evaluate(black_box(&call), black_box(&who), now()));
}

#[divan::bench]
fn large_allow(bencher: Bencher<'_, '_>) {
    let policy = Policy::from_json_str(&large_policy_text(), "large.json").unwrap();
    let args = RawValue::from_string(
        json!({
            "id": "D-1", "amount": 1250.5, "currency": "EUR", "sku": "SKU-617-0042",
            "status": "open", "note": "renewal", "items": [1, 2, 3], "owner": "alice",
            "customer": {"country": "DE"}
        })
        .to_string(),
    )
    .unwrap();
    let call = Call::Tool {
        name: "tool_617",
        arguments: Some(&args),
    };
    let who = principal();
    let decision = policy.evaluate(&call, &who, now());
    assert_eq!(decision.verdict, Verdict::Allow, "{decision:?}");
    assert_eq!(decision.limits.len(), 2);
    bencher.bench_local(|| policy.evaluate(black_box(&call), black_box(&who), now()));
}

#[divan::bench]
fn large_load(bencher: Bencher<'_, '_>) {
    let text = large_policy_text();
    bencher.bench_local(|| Policy::from_json_str(black_box(&text), "large.json").unwrap());
}

#[divan::bench]
fn cel_condition(bencher: Bencher<'_, '_>) {
    let policy = Policy::from_json_str(
        r#"{"version":"1","default":"deny","tools":{"create_charge":{"deny_if":[{"expr":"args.amount > 10000 && grant.name != 'finance-bot'"}]}}}"#,
        "cel.json",
    )
    .unwrap();
    let args = RawValue::from_string(r#"{"amount":500,"currency":"USD"}"#.into()).unwrap();
    let call = Call::Tool {
        name: "create_charge",
        arguments: Some(&args),
    };
    let who = principal();
    assert_eq!(policy.evaluate(&call, &who, now()).verdict, Verdict::Allow);
    bencher.bench_local(|| policy.evaluate(black_box(&call), black_box(&who), now()));
}

/// Not the gateway's code: plain CPU work that `scripts/bench-check.sh`
/// divides this binary's other figures by (see `toolgate_load::calibrate`).
#[divan::bench]
fn calibrate(b: Bencher<'_, '_>) {
    let data = toolgate_load::calibrate::data();
    b.bench(|| toolgate_load::calibrate::work(black_box(&data)));
}
