//! `toolgate policy check|explain|test`: policy tooling for people and CI.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::value::RawValue;
use toolgate_gateway::clock::{Clock, SystemClock};
use toolgate_gateway::policy::{charge_of, rfc3339};
use toolgate_limits::{CounterStore, LimitError, MemoryStore};
use toolgate_policy::{Call, Decision, Policy, Principal, Verdict};

/// Policy tooling.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCmd {
    /// Validate a policy file: print its errors, or a one-line summary.
    Check {
        /// The policy file (JSON or YAML).
        file: PathBuf,
    },
    /// Show the decision for one call, and the rule that made it.
    Explain(ExplainArgs),
    /// Run table-driven policy tests (call → expected verdict).
    Test {
        /// The policy file.
        file: PathBuf,
        /// The cases (YAML).
        cases: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The policy file.
    file: PathBuf,
    /// The tool called.
    #[arg(long, conflicts_with_all = ["resource", "prompt"])]
    tool: Option<String>,
    /// The resource read (resources/read).
    #[arg(long, conflicts_with = "prompt")]
    resource: Option<String>,
    /// The prompt fetched (prompts/get).
    #[arg(long)]
    prompt: Option<String>,
    /// The arguments, as a JSON object.
    #[arg(long, default_value = "{}")]
    args: String,
    /// The grant making the call.
    #[arg(long, default_value = "explain")]
    grant: String,
    /// The session, for session-scoped limits.
    #[arg(long)]
    session: Option<String>,
    /// Print the decision as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(cmd: PolicyCmd) -> anyhow::Result<()> {
    match cmd {
        PolicyCmd::Check { file } => check(&file),
        PolicyCmd::Explain(args) => explain(&args),
        PolicyCmd::Test { file, cases } => test(&file, &cases).await,
    }
}

fn load(path: &Path) -> anyhow::Result<Policy> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Policy::from_str_auto(&text, &path.display().to_string()).map_err(|e| anyhow::anyhow!("{e}"))
}

fn check(path: &Path) -> anyhow::Result<()> {
    let p = load(path)?;
    let s = p.summary();
    println!(
        "ok  {}  {}  default {} · {} tool rules ({} globs) · {} hidden · {} limits · {} conditions · {} resource rules · {} prompt rules",
        path.display(),
        p.version(),
        if s.default_allow { "allow" } else { "deny" },
        s.tools,
        s.globs,
        s.hidden,
        s.limits,
        s.conditions,
        s.resources,
        s.prompts,
    );
    Ok(())
}

fn explain(a: &ExplainArgs) -> anyhow::Result<()> {
    let policy = load(&a.file)?;
    let raw = RawValue::from_string(a.args.clone()).context("--args must be JSON")?;
    let call = match (&a.tool, &a.resource, &a.prompt) {
        (Some(t), _, _) => Call::Tool {
            name: t,
            arguments: Some(&raw),
        },
        (_, Some(r), _) => Call::Resource { uri: r },
        (_, _, Some(p)) => Call::Prompt {
            name: p,
            arguments: Some(&raw),
        },
        _ => bail!("name a --tool, --resource or --prompt"),
    };
    let principal = Principal {
        grant: &a.grant,
        server: "server",
        session: a.session.as_deref(),
        subject: None,
        claims: None,
    };
    let now = SystemClock.now();
    let d = policy.evaluate(&call, &principal, now);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&decision_json(&d, &policy, now))?
        );
        return Ok(());
    }
    println!("decision  {}", verdict_label(&d.verdict));
    println!("rule      {}", d.rule.as_deref().unwrap_or("-"));
    if let Some(r) = &d.reason {
        println!("reason    {r}");
    }
    if let Verdict::Approval { timeout } = d.verdict {
        println!("approval  waits up to {}s", timeout.as_secs());
    }
    println!("policy    {}", policy.version());
    for l in &d.limits {
        let (_, reset) = l.window.fixed_bounds(now);
        let kind = if l.window.sliding {
            "sliding".to_owned()
        } else {
            format!("fixed, resets {}", rfc3339(reset))
        };
        println!(
            "limit     {} +{} of {} per {} ({kind}; key {})",
            l.counter, l.amount, l.max, l.window.label, l.key
        );
    }
    Ok(())
}

fn verdict_label(v: &Verdict) -> &'static str {
    match v {
        Verdict::Allow => "allow",
        Verdict::Deny => "deny",
        Verdict::Hide => "hide",
        Verdict::Approval { .. } => "approval",
    }
}

fn decision_json(d: &Decision, policy: &Policy, now: SystemTime) -> serde_json::Value {
    let limits: Vec<_> = d
        .limits
        .iter()
        .map(|l| {
            serde_json::json!({
                "rule": l.rule, "counter": l.counter, "key": l.key, "max": l.max, "amount": l.amount,
                "window": l.window.label, "sliding": l.window.sliding,
                "resets_at": (!l.window.sliding).then(|| rfc3339(l.window.fixed_bounds(now).1)),
            })
        })
        .collect();
    serde_json::json!({
        "verdict": verdict_label(&d.verdict),
        "rule": d.rule,
        "reason": d.reason,
        "policy_version": policy.version(),
        "limits": limits,
    })
}

/// A file of policy test cases.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    cases: Vec<Case>,
}

/// One case: a call and what the policy must decide.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    tool: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    args: Option<serde_json::Value>,
    #[serde(default = "default_grant")]
    grant: String,
    #[serde(default)]
    session: Option<String>,
    /// Make the call this many times (counting limits); the expectation is
    /// about the last one.
    #[serde(default = "one")]
    repeat: u32,
    expect: Expect,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    reason_contains: Option<String>,
}

fn default_grant() -> String {
    "test".into()
}

fn one() -> u32 {
    1
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Expect {
    Allow,
    Deny,
    Hide,
    Approval,
}

/// What the gateway would do: the policy's verdict, then its limits.
struct Outcome {
    verdict: &'static str,
    rule: Option<String>,
    reason: Option<String>,
}

async fn test(policy_path: &Path, cases_path: &Path) -> anyhow::Result<()> {
    let policy = load(policy_path)?;
    let text = std::fs::read_to_string(cases_path)
        .with_context(|| format!("cannot read {}", cases_path.display()))?;
    let cases: Cases = yaml_serde::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", cases_path.display()))?;
    let (mut passed, mut failed) = (0, 0);
    for case in &cases.cases {
        match run_case(&policy, case).await {
            Ok(()) => {
                passed += 1;
                println!("PASS  {}", case.name);
            }
            Err(why) => {
                failed += 1;
                println!("FAIL  {}: {why}", case.name);
            }
        }
    }
    println!("{passed} passed, {failed} failed ({})", policy.version());
    if failed > 0 {
        bail!("{failed} policy test(s) failed");
    }
    Ok(())
}

/// A fixed instant, so a case's outcome never depends on the wall clock.
const CASE_TIME: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

async fn run_case(policy: &Policy, case: &Case) -> Result<(), String> {
    let args = case.args.clone().unwrap_or_else(|| serde_json::json!({}));
    let raw = serde_json::value::to_raw_value(&args).map_err(|e| e.to_string())?;
    let call = match (&case.tool, &case.resource, &case.prompt) {
        (Some(t), None, None) => Call::Tool {
            name: t,
            arguments: Some(&raw),
        },
        (None, Some(r), None) => Call::Resource { uri: r },
        (None, None, Some(p)) => Call::Prompt {
            name: p,
            arguments: Some(&raw),
        },
        _ => return Err("name exactly one of tool, resource, prompt".into()),
    };
    let principal = Principal {
        grant: &case.grant,
        server: "server",
        session: case.session.as_deref(),
        subject: None,
        claims: None,
    };
    let store = MemoryStore::new();
    let mut outcome = None;
    for i in 0..case.repeat.max(1) {
        let now = SystemTime::UNIX_EPOCH
            + Duration::from_secs(CASE_TIME)
            + Duration::from_millis(u64::from(i));
        outcome = Some(decide(policy, &call, &principal, &store, now).await);
    }
    let Some(got) = outcome else {
        return Err("no call made".into());
    };
    let want = match case.expect {
        Expect::Allow => "allow",
        Expect::Deny => "deny",
        Expect::Hide => "hide",
        Expect::Approval => "approval",
    };
    let describe =
        |o: &Outcome| format!("{} (rule {})", o.verdict, o.rule.as_deref().unwrap_or("-"));
    if got.verdict != want {
        return Err(format!("expected {want}, got {}", describe(&got)));
    }
    if let Some(rule) = &case.rule
        && got.rule.as_deref() != Some(rule)
    {
        return Err(format!("expected rule {rule}, got {}", describe(&got)));
    }
    if let Some(needle) = &case.reason_contains
        && !got
            .reason
            .as_deref()
            .unwrap_or("")
            .contains(needle.as_str())
    {
        return Err(format!(
            "reason {:?} does not contain {needle:?}",
            got.reason.unwrap_or_default()
        ));
    }
    Ok(())
}

async fn decide(
    policy: &Policy,
    call: &Call<'_>,
    principal: &Principal<'_>,
    store: &MemoryStore,
    now: SystemTime,
) -> Outcome {
    let d = policy.evaluate(call, principal, now);
    let passes = matches!(d.verdict, Verdict::Allow | Verdict::Approval { .. });
    if passes && !d.limits.is_empty() {
        let charges: Vec<_> = d.limits.iter().map(|l| charge_of("server", l)).collect();
        let reserved = store.reserve(&charges, now).await;
        if let Err(LimitError::Exceeded(e)) = reserved {
            let l = &d.limits[e.index.min(d.limits.len() - 1)];
            return Outcome {
                verdict: "deny",
                rule: Some(l.rule.clone()),
                reason: Some(format!(
                    "rate limit: at most {} per {} (resets {})",
                    l.max,
                    l.window.label,
                    rfc3339(e.resets_at)
                )),
            };
        }
    }
    Outcome {
        verdict: verdict_label(&d.verdict),
        rule: d.rule,
        reason: d.reason,
    }
}
