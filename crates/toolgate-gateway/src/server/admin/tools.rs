//! `GET /api/v1/servers/{name}/tools`: the server's tools as it lists them
//! now (asked live: the gateway keeps no tool cache), each with what every
//! policy that governs this server's grants would do with it.
//!
//! Those verdicts are hints: they come from a call with empty arguments,
//! outside any session, so conditions on arguments, sessions or OAuth
//! claims may decide otherwise for a real call.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use toolgate_mcp::message::to_raw;
use toolgate_policy::{Call, Policy, Principal, Verdict};

use super::error::ApiError;
use crate::auth::list_grants;
use crate::gateway::Gateway;
use crate::policy::NO_POLICY;

/// The members of a tool object shown.
const SHOWN: [&str; 5] = ["name", "title", "description", "annotations", "inputSchema"];

/// Explains the `policies` of each tool.
const HINT_NOTE: &str = "verdicts are hints: each is a call with empty arguments outside any \
                         session, and conditions on arguments, sessions or claims may decide \
                         otherwise";

/// Grants by the policy they are held to (`None`: no policy).
type Groups = BTreeMap<Option<String>, Vec<String>>;

/// The tool list with per-policy hints.
pub(super) async fn list(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rt = gw
        .server(&name)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no server named {name:?}")))?;
    let listed = rt
        .list_tools(rt.request_timeout())
        .await
        .map_err(ApiError::Upstream)?;
    gw.metrics
        .learn_tools(&name, listed.iter().filter_map(|t| t["name"].as_str()));
    let groups = groups(&gw, &name).await;
    let now = gw.pipeline.clock.now();
    let tools: Vec<Value> = listed
        .iter()
        .map(|tool| {
            let mut shown = serde_json::Map::new();
            for key in SHOWN {
                if let Some(v) = tool.get(key) {
                    shown.insert(key.into(), v.clone());
                }
            }
            let tool_name = tool["name"].as_str().unwrap_or_default();
            let hints: Vec<Value> = groups
                .iter()
                .filter_map(|(policy, grants)| {
                    hint(&gw, policy.as_deref(), grants, &name, tool_name, now)
                })
                .collect();
            shown.insert("policies".into(), hints.into());
            Value::Object(shown)
        })
        .collect();
    Ok(Json(
        json!({ "server": name, "tools": tools, "note": HINT_NOTE }),
    ))
}

/// The live grants that open `server`, by policy: the configuration's,
/// the store's (left out, with a warning, if it cannot answer) and the
/// OAuth section's callers.
async fn groups(gw: &Gateway, server: &str) -> Groups {
    let grants = match list_grants(&gw.config, gw.auth.store()).await {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, "grant store unavailable; tool hints cover configured grants only");
            list_grants(&gw.config, None).await.unwrap_or_default()
        }
    };
    let mut groups = Groups::new();
    for g in grants
        .into_iter()
        .filter(|g| g.server == server && g.revoked_at.is_none())
    {
        groups.entry(g.policy).or_default().push(g.name);
    }
    if let Some(oauth) = gw.config.servers.get(server).and_then(|s| s.oauth.as_ref()) {
        groups
            .entry(oauth.policy.clone())
            .or_default()
            .push("oauth:*".into());
    }
    groups
}

/// What `policy` says about a call of `tool` by the first of `grants`;
/// `None` when the policy is not loaded (a gateway without a policy store).
fn hint(
    gw: &Gateway,
    policy: Option<&str>,
    grants: &[String],
    server: &str,
    tool: &str,
    now: SystemTime,
) -> Option<Value> {
    let Some(policy_name) = policy else {
        return Some(json!({
            "policy": null,
            "grants": grants,
            "verdict": "deny",
            "rule": NO_POLICY,
            "reason": "a grant without a policy may call no tool",
        }));
    };
    let compiled = gw.policies.as_ref()?.get(policy_name)?;
    let (verdict, rule, reason) = judge(&compiled, grants, server, tool, now);
    Some(json!({
        "policy": policy_name,
        "version": compiled.version(),
        "grants": grants,
        "verdict": verdict,
        "rule": rule,
        "reason": reason,
    }))
}

fn judge(
    policy: &Policy,
    grants: &[String],
    server: &str,
    tool: &str,
    now: SystemTime,
) -> (&'static str, Option<String>, Option<String>) {
    let empty = to_raw(&json!({}));
    let principal = Principal {
        grant: grants.first().map_or("", String::as_str),
        server,
        session: None,
        subject: None,
        claims: None,
    };
    let call = Call::Tool {
        name: tool,
        arguments: Some(&empty),
    };
    let d = policy.evaluate(&call, &principal, now);
    // A tool hidden by an `action: hide` rule is left out of lists even
    // where evaluation alone would not say so.
    let verdict = if policy.hides_tool(tool) {
        "hide"
    } else {
        match d.verdict {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
            Verdict::Hide => "hide",
            Verdict::Approval { .. } => "approval",
        }
    };
    (verdict, d.rule, d.reason)
}
