//! Answers the gateway gives in the upstream's place, and the response
//! filter.

use serde_json::json;
use toolgate_mcp::message::to_raw;
use toolgate_mcp::{ErrorObject, Message, RawObject, codes};

use super::context::{CallContext, Principal, Target};
use super::decision::Decision;
use super::phases::{Authorize, Refusal};
use crate::metrics::Metrics;

/// Prefix of every denial text, as PolicyLayer's gateway writes it, so
/// agents and their users recognise it.
pub(crate) const DENIED_PREFIX: &str = "[POLICY DENIED]";

/// JSON-RPC code for a policy denial of a method other than `tools/call`
/// (outside the range the JSON-RPC and MCP specs reserve).
pub(super) const POLICY_DENIED: i64 = -31001;

/// A hidden tool is answered exactly as an unknown one, so the agent
/// cannot tell it exists.
pub(crate) fn unknown(msg: &Message, ctx: &CallContext) -> Message {
    let what = match &ctx.target {
        Target::Tool(n) => format!("Unknown tool: {n}"),
        Target::Prompt(n) => format!("Unknown prompt: {n}"),
        Target::Resource(u) => format!("Resource not found: {u}"),
        Target::None => "Method not found".to_owned(),
    };
    let code = match ctx.target {
        Target::None => codes::METHOD_NOT_FOUND,
        _ => codes::INVALID_PARAMS,
    };
    Message::error(msg.id().cloned(), &ErrorObject::new(code, what))
}

/// A denial: for `tools/call`, a tool result with `isError` the agent can
/// read (and should not retry); for other methods, a JSON-RPC error.
pub(crate) fn denied(
    msg: &Message,
    ctx: &CallContext,
    decision: &Decision,
    reason: &str,
) -> Message {
    deny_with(msg, ctx, decision, reason, "deny")
}

/// A refusal by the limit or approval phase.
pub(crate) fn refused(
    msg: &Message,
    ctx: &CallContext,
    decision: &Decision,
    refusal: &Refusal,
) -> Message {
    let mut d = decision.clone();
    if refusal.rule.is_some() {
        d.rule = refusal.rule.clone();
    }
    deny_with(msg, ctx, &d, &refusal.reason, refusal.kind)
}

fn deny_with(
    msg: &Message,
    ctx: &CallContext,
    decision: &Decision,
    reason: &str,
    kind: &str,
) -> Message {
    let text = format!("{DENIED_PREFIX} {reason}");
    let meta = json!({
        "verdict": kind,
        "rule": decision.rule,
        "policyVersion": decision.policy_version,
        "retry": false,
    });
    let id = msg.id().cloned();
    if ctx.method != "tools/call" {
        let err =
            ErrorObject::new(POLICY_DENIED, text).with_data(json!({ "toolgate/decision": meta }));
        return Message::error(id, &err);
    }
    let mut result = json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
        "_meta": {"toolgate/decision": meta},
    });
    if ctx.protocol.is_stateless() {
        result["resultType"] = "complete".into();
    }
    let Some(id) = id else {
        return Message::error(None, &ErrorObject::new(codes::INVALID_REQUEST, text));
    };
    Message::result(id, to_raw(&result))
}

/// Removes hidden tools from a `tools/list` result, keeping every other
/// member (and every kept tool) byte for byte.
pub(crate) fn filter_tools_list(
    response: &mut Message,
    authorize: &dyn Authorize,
    principal: &Principal,
    learn: Option<(&Metrics, &str)>,
) {
    let Some(result) = response.result_raw() else {
        return;
    };
    let Ok(mut obj) = RawObject::parse(Some(result)) else {
        return;
    };
    let Some(tools) = obj.get("tools") else {
        return;
    };
    let Ok(tools) = serde_json::from_str::<Vec<Box<serde_json::value::RawValue>>>(tools.get())
    else {
        return;
    };
    let before = tools.len();
    let named: Vec<(Option<String>, Box<serde_json::value::RawValue>)> = tools
        .into_iter()
        .map(|t| {
            let name = RawObject::parse(Some(&t))
                .ok()
                .and_then(|o| o.get_as::<String>("name"));
            (name, t)
        })
        .collect();
    // The names the server lists become bounded metric labels.
    if let Some((metrics, server)) = learn {
        metrics.learn_tools(server, named.iter().filter_map(|(n, _)| n.as_deref()));
    }
    let kept: Vec<_> = named
        .into_iter()
        .filter(|(name, _)| {
            !name
                .as_deref()
                .is_some_and(|n| authorize.hides_tool(principal, n))
        })
        .map(|(_, t)| t)
        .collect();
    if kept.len() != before {
        obj.set_value("tools", &kept);
        response.set_result(obj.into_raw());
    }
}
