//! `toolgate audit replay`: a dry run of a candidate policy over recorded
//! calls, before rolling it out.
//!
//! Each recorded `tools/call`, `resources/read` and `prompts/get` is
//! evaluated against the candidate, in recorded order and at its recorded
//! time, with counters simulated from scratch, and compared with the
//! decision recorded then. Records whose arguments were not captured
//! (`audit.capture_args: false`, the default) are evaluated without
//! arguments: tool-, grant- and limit-level rules are judged exactly,
//! conditions on arguments as if the arguments were absent; the report
//! says how many records that concerns.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde_json::value::RawValue;
use toolgate_audit::StoredRecord;
use toolgate_gateway::policy::charge_of;
use toolgate_limits::{CounterStore, LimitError, MemoryStore};
use toolgate_policy::{Call, Decision, Policy, Principal, Verdict};

/// grant, target, recorded verdict, replayed verdict.
type ChangeKey = (String, String, String, String);

/// What a record becomes under the candidate.
struct Replayed {
    verdict: &'static str,
    rule: Option<String>,
}

pub(crate) fn run(
    policy_path: &Path,
    records: &[StoredRecord],
    verbose: bool,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(policy_path)
        .with_context(|| format!("cannot read {}", policy_path.display()))?;
    let policy = Policy::from_str_auto(&text, &policy_path.display().to_string())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = MemoryStore::new();
    let mut changes: BTreeMap<ChangeKey, (u64, Option<String>)> = BTreeMap::new();
    let (mut judged, mut without_args, mut changed) = (0u64, 0u64, 0u64);
    for s in records {
        let r = &s.record;
        let Some(target) = r.target.as_deref() else {
            continue;
        };
        let args = r
            .arguments
            .as_ref()
            .and_then(|a| serde_json::value::to_raw_value(a).ok());
        if args.is_none() && !r.argument_keys.is_empty() {
            without_args += 1;
        }
        let Some(call) = call_of(&r.method, target, args.as_deref()) else {
            continue;
        };
        judged += 1;
        let principal = Principal {
            grant: &r.grant,
            server: &r.server,
            session: r.session.as_deref(),
            subject: r.principal.as_deref(),
            claims: None,
        };
        let now = replay_now(&policy, &call, &principal, r.time, &store, &r.server);
        let before = recorded(&r.verdict);
        if now.verdict != before {
            changed += 1;
            let key = (
                r.grant.clone(),
                target.to_owned(),
                before.to_owned(),
                now.verdict.to_owned(),
            );
            let e = changes.entry(key).or_insert((0, now.rule.clone()));
            e.0 += 1;
            if verbose {
                println!(
                    "seq {:<6} {} {} {target}: {before} -> {} ({})",
                    s.seq,
                    toolgate_gateway::policy::rfc3339(r.time),
                    r.grant,
                    now.verdict,
                    now.rule.as_deref().unwrap_or("-")
                );
            }
        }
    }
    println!(
        "replayed {judged} recorded calls against {} ({})",
        policy_path.display(),
        policy.version()
    );
    if without_args > 0 {
        println!(
            "  {without_args} of them had no captured arguments: conditions on arguments were judged as if absent (enable audit.capture_args for a full replay)"
        );
    }
    if changes.is_empty() {
        println!("  no decision would change");
        return Ok(());
    }
    println!("  {changed} decisions would change:");
    for ((grant, target, before, after), (n, rule)) in &changes {
        println!(
            "  {n:>6}  {grant:<16} {target:<24} {before:>8} -> {after:<8} {}",
            rule.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

fn call_of<'a>(method: &str, target: &'a str, args: Option<&'a RawValue>) -> Option<Call<'a>> {
    match method {
        "tools/call" => Some(Call::Tool {
            name: target,
            arguments: args,
        }),
        "resources/read" => Some(Call::Resource { uri: target }),
        "prompts/get" => Some(Call::Prompt {
            name: target,
            arguments: args,
        }),
        _ => None,
    }
}

/// Recorded verdicts in the candidate's vocabulary: refusals by limits and
/// approvals count as what they were decided as.
fn recorded(v: &str) -> &'static str {
    match v {
        "allow" => "allow",
        "hide" => "hide",
        "approval" | "approval_required" | "approval_denied" => "approval",
        "rate_limited" => "limited",
        _ => "deny",
    }
}

fn replay_now(
    policy: &Policy,
    call: &Call<'_>,
    p: &Principal<'_>,
    at: std::time::SystemTime,
    store: &MemoryStore,
    server: &str,
) -> Replayed {
    let d: Decision = policy.evaluate(call, p, at);
    let verdict = match d.verdict {
        Verdict::Allow => "allow",
        Verdict::Deny => "deny",
        Verdict::Hide => "hide",
        Verdict::Approval { .. } => "approval",
    };
    if matches!(d.verdict, Verdict::Allow | Verdict::Approval { .. }) && !d.limits.is_empty() {
        let charges: Vec<_> = d.limits.iter().map(|l| charge_of(server, l)).collect();
        // The memory store answers at once: its future is ready.
        let reserved = futures_util::FutureExt::now_or_never(store.reserve(&charges, at));
        if let Some(Err(LimitError::Exceeded(e))) = reserved {
            let rule = d.limits.get(e.index).map(|l| l.rule.clone());
            return Replayed {
                verdict: "limited",
                rule,
            };
        }
    }
    Replayed {
        verdict,
        rule: d.rule,
    }
}
