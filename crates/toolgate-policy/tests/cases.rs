//! Data-driven decision tests: every `tests/cases/*.yaml` holds a policy
//! (JSON or YAML text), optionally equivalent texts of the same policy, and
//! calls with the decisions expected. Every file's full decisions are also
//! snapshotted with insta, so any change in behaviour shows up in review.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failure should stop the test with the value"
)]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use toolgate_policy::{Call, Decision, Policy, Principal, Verdict};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[allow(dead_code, reason = "documentation for the reader")]
    description: String,
    policy: String,
    #[serde(default)]
    equivalent: Vec<String>,
    calls: Vec<CaseCall>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CaseCall {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<String>,
    /// Arguments as a value (serialized to the raw text the engine gets)…
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<serde_json::Value>,
    /// …or as raw text, for what a value cannot express.
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_args: Option<String>,
    #[serde(default = "default_grant")]
    grant: String,
    #[serde(default = "default_server")]
    server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<serde_json::Value>,
    /// RFC 3339 UTC time, like `2026-01-01T12:00:00Z`.
    #[serde(default = "default_time")]
    time: String,
    #[serde(skip_serializing)]
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    verdict: String,
    /// Approval timeout in seconds.
    timeout: Option<u64>,
    rule: Option<String>,
    /// A substring of the reason.
    reason: Option<String>,
    /// `"<key> +<amount>"`, in order; omitted means none.
    #[serde(default)]
    limits: Vec<String>,
}

fn default_grant() -> String {
    "alice".into()
}
fn default_server() -> String {
    "crm".into()
}
fn default_time() -> String {
    "2026-01-01T12:00:00Z".into()
}

/// The snapshot's view of one decision.
#[derive(Serialize)]
struct Snapshot<'a> {
    call: &'a CaseCall,
    verdict: String,
    rule: Option<String>,
    reason: Option<String>,
    limits: Vec<String>,
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (the subset the cases use).
fn parse_time(text: &str) -> SystemTime {
    let (date, time) = text
        .strip_suffix('Z')
        .and_then(|t| t.split_once('T'))
        .expect("time like 2026-01-01T12:00:00Z");
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (hms, millis) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m, day) = (d[0] - i64::from(d[1] <= 2), d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + t[0] * 3_600 + t[1] * 60 + t[2];
    UNIX_EPOCH
        + Duration::from_secs(u64::try_from(secs).unwrap())
        + Duration::from_millis(millis.parse().unwrap())
}

fn verdict_name(v: &Verdict) -> String {
    match v {
        Verdict::Allow => "allow".into(),
        Verdict::Deny => "deny".into(),
        Verdict::Hide => "hide".into(),
        Verdict::Approval { timeout } => format!("approval ({}s)", timeout.as_secs()),
    }
}

fn limit_lines(d: &Decision) -> Vec<String> {
    d.limits
        .iter()
        .map(|l| format!("{} +{}", l.key, l.amount))
        .collect()
}

fn evaluate(policy: &Policy, call: &CaseCall) -> Decision {
    let args_text = match (&call.args, &call.raw_args) {
        (Some(v), _) => Some(v.to_string()),
        (None, Some(raw)) => Some(raw.clone()),
        (None, None) => None,
    };
    let raw: Option<Box<RawValue>> = args_text.map(|t| RawValue::from_string(t).unwrap());
    let arguments = raw.as_deref();
    let target = match (&call.tool, &call.resource, &call.prompt) {
        (Some(name), None, None) => Call::Tool { name, arguments },
        (None, Some(uri), None) => Call::Resource { uri },
        (None, None, Some(name)) => Call::Prompt { name, arguments },
        _ => panic!("{}: exactly one of tool, resource, prompt", call.name),
    };
    let principal = Principal {
        grant: &call.grant,
        server: &call.server,
        session: call.session.as_deref(),
        subject: call.subject.as_deref(),
        claims: call.claims.as_ref(),
    };
    policy.evaluate(&target, &principal, parse_time(&call.time))
}

/// Checks one decision against its expectation and the engine's invariants.
fn check(call: &CaseCall, d: &Decision) -> Vec<String> {
    let mut problems = Vec::new();
    let e = &call.expect;
    let verdict = match &d.verdict {
        Verdict::Approval { .. } => "approval".to_owned(),
        other => verdict_name(other),
    };
    if verdict != e.verdict {
        problems.push(format!("verdict {verdict}, expected {}", e.verdict));
    }
    if let (Verdict::Approval { timeout }, Some(t)) = (&d.verdict, e.timeout)
        && timeout.as_secs() != t
    {
        problems.push(format!("timeout {timeout:?}, expected {t}s"));
    }
    if let Some(rule) = &e.rule
        && d.rule.as_ref() != Some(rule)
    {
        problems.push(format!("rule {:?}, expected {rule:?}", d.rule));
    }
    match (&e.reason, &d.reason) {
        (Some(want), Some(got)) if !got.contains(want.as_str()) => {
            problems.push(format!("reason {got:?} lacks {want:?}"));
        }
        (Some(want), None) => problems.push(format!("no reason, expected {want:?}")),
        _ => {}
    }
    if limit_lines(d) != e.limits {
        problems.push(format!(
            "limits {:?}, expected {:?}",
            limit_lines(d),
            e.limits
        ));
    }
    let allowed = matches!(d.verdict, Verdict::Allow);
    if allowed == d.reason.is_some() {
        problems.push("an allow has no reason, and every other verdict has one".into());
    }
    if matches!(d.verdict, Verdict::Deny | Verdict::Hide) && !d.limits.is_empty() {
        problems.push("deny and hide charge no limits".into());
    }
    problems
}

#[test]
fn cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "case files are missing");
    let mut failures = Vec::new();
    let mut snapshots = Vec::new();
    for file in &files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(file).unwrap();
        let case: CaseFile =
            yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let policy = Policy::from_str_auto(&case.policy, &stem)
            .unwrap_or_else(|e| panic!("{stem}: the policy does not load: {e}"));
        let decisions: Vec<Decision> = case.calls.iter().map(|c| evaluate(&policy, c)).collect();
        for (call, decision) in case.calls.iter().zip(&decisions) {
            for problem in check(call, decision) {
                failures.push(format!(
                    "{stem} / {}: {problem}\n    {decision:?}",
                    call.name
                ));
            }
        }
        for (i, other) in case.equivalent.iter().enumerate() {
            let other = Policy::from_str_auto(other, &format!("{stem}[equivalent {i}]"))
                .unwrap_or_else(|e| panic!("{stem}: an equivalent policy does not load: {e}"));
            for (call, decision) in case.calls.iter().zip(&decisions) {
                if evaluate(&other, call) != *decision {
                    failures.push(format!(
                        "{stem} / {}: equivalent {i} decides differently",
                        call.name
                    ));
                }
            }
        }
        snapshots.push((stem, case, decisions));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (stem, case, decisions) in &snapshots {
        let view: Vec<Snapshot<'_>> = case
            .calls
            .iter()
            .zip(decisions)
            .map(|(call, d)| Snapshot {
                call,
                verdict: verdict_name(&d.verdict),
                rule: d.rule.clone(),
                reason: d.reason.clone(),
                limits: d
                    .limits
                    .iter()
                    .map(|l| {
                        let mode = if l.window.sliding { "sliding" } else { "fixed" };
                        format!(
                            "{} {} +{} of {} per {} ({mode}, {:?})",
                            l.rule, l.key, l.amount, l.max, l.window.label, l.window.length
                        )
                    })
                    .collect(),
            })
            .collect();
        insta::assert_yaml_snapshot!(stem.as_str(), view);
    }
}
