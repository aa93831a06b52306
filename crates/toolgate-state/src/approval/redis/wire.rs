//! Approvals as Redis stores them: JSON for what was asked and decided,
//! times in milliseconds since the epoch.

use serde::{Deserialize, Serialize};

use super::super::{Approval, ApprovalId, ApprovalState, Decision, PendingApproval};
use crate::error::StateError;
use crate::time::{from_ms, to_ms};

#[derive(Serialize, Deserialize)]
struct PendingWire {
    server: String,
    grant: String,
    tool: String,
    argument_keys: Vec<String>,
    arguments_sha256: String,
    arguments: Option<String>,
    reason: String,
    rule: Option<String>,
    created_ms: u64,
    expires_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct DecisionWire {
    approved: bool,
    by: String,
    note: Option<String>,
    at_ms: u64,
}

/// The stored form of a pending approval.
pub(super) fn encode_pending(p: &PendingApproval) -> Result<String, StateError> {
    let wire = PendingWire {
        server: p.server.clone(),
        grant: p.grant.clone(),
        tool: p.tool.clone(),
        argument_keys: p.argument_keys.clone(),
        arguments_sha256: p.arguments_sha256.clone(),
        arguments: p.arguments.clone(),
        reason: p.reason.clone(),
        rule: p.rule.clone(),
        created_ms: to_ms(p.created_at),
        expires_ms: to_ms(p.expires_at),
    };
    serde_json::to_string(&wire).map_err(|e| StateError::Corrupt(format!("encoding: {e}")))
}

/// The stored form of a decision.
pub(super) fn encode_decision(d: &Decision) -> Result<String, StateError> {
    let wire = DecisionWire {
        approved: d.approved,
        by: d.by.clone(),
        note: d.note.clone(),
        at_ms: to_ms(d.at),
    };
    serde_json::to_string(&wire).map_err(|e| StateError::Corrupt(format!("encoding: {e}")))
}

/// The state string a decision is stored under.
pub(super) fn decided_state(d: &Decision) -> &'static str {
    if d.approved { "approved" } else { "denied" }
}

/// Reads a stored approval back: its pending JSON, its state string and,
/// when decided, its decision JSON.
pub(super) fn decode(
    id: &ApprovalId,
    pending: &str,
    state: &str,
    decision: Option<&str>,
) -> Result<Approval, StateError> {
    let p: PendingWire = serde_json::from_str(pending).map_err(|e| corrupt(id, &e))?;
    let state = match (state, decision.filter(|d| !d.is_empty())) {
        ("pending", _) => ApprovalState::Pending,
        ("expired", _) => ApprovalState::Expired,
        (s @ ("approved" | "denied"), Some(d)) => {
            let d: DecisionWire = serde_json::from_str(d).map_err(|e| corrupt(id, &e))?;
            if d.approved != (s == "approved") {
                return Err(StateError::Corrupt(format!(
                    "approval {id}: state {s} disagrees with its decision"
                )));
            }
            ApprovalState::Decided(Decision {
                approved: d.approved,
                by: d.by,
                note: d.note,
                at: from_ms(d.at_ms),
            })
        }
        (other, _) => {
            let other: String = other.chars().take(20).collect();
            return Err(StateError::Corrupt(format!(
                "approval {id}: unknown state {other:?} or missing decision"
            )));
        }
    };
    Ok(Approval {
        id: id.clone(),
        pending: PendingApproval {
            server: p.server,
            grant: p.grant,
            tool: p.tool,
            argument_keys: p.argument_keys,
            arguments_sha256: p.arguments_sha256,
            arguments: p.arguments,
            reason: p.reason,
            rule: p.rule,
            created_at: from_ms(p.created_ms),
            expires_at: from_ms(p.expires_ms),
        },
        state,
    })
}

/// serde's messages may quote stored values (arguments): keep only where.
fn corrupt(id: &ApprovalId, e: &serde_json::Error) -> StateError {
    StateError::Corrupt(format!(
        "approval {id}: unreadable record ({:?} error at line {} column {})",
        e.classify(),
        e.line(),
        e.column()
    ))
}
