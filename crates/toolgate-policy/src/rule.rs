//! Rules: what `tools.<key>`, `resources.rules.<key>` and
//! `prompts.rules.<key>` say.

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::condition::Condition;
use crate::de::checked_map;
use crate::duration::Timeout;
use crate::error::Invalid;
use crate::limit::Limit;

/// Approval timeout when a rule does not set one.
pub(crate) const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(600);

/// A rule's verdict before conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    Allow,
    Deny,
    Hide,
    Approval,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Hide => "hide",
            Action::Approval => "approval",
        }
    }
}

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    /// JSON Pointer, e.g. `/tools/createLead` (set by [`Rule::place`]).
    pub(crate) path: String,
    pub(crate) action: Action,
    pub(crate) reason: Option<String>,
    pub(crate) on_deny: Option<String>,
    pub(crate) approval_timeout: Duration,
    pub(crate) approval_reason: Option<String>,
    pub(crate) require: Vec<Condition>,
    pub(crate) deny_if: Vec<Condition>,
    pub(crate) approval_if: Vec<Condition>,
    pub(crate) limits: Vec<Limit>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a map with \"timeout\" and \"reason\""
)]
struct RawApproval {
    timeout: Option<Timeout>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "description")]
    _description: Option<String>,
    action: Option<Action>,
    reason: Option<String>,
    approval: Option<RawApproval>,
    #[serde(default)]
    require: Vec<Condition>,
    #[serde(default)]
    deny_if: Vec<Condition>,
    #[serde(default)]
    approval_if: Vec<Condition>,
    #[serde(default)]
    limits: Vec<Limit>,
    on_deny: Option<String>,
}

/// A rule under `tools`.
pub(crate) struct ToolRule(pub(crate) Rule);

/// A rule under `resources.rules` or `prompts.rules` (no `hide` there).
pub(crate) struct OtherRule(pub(crate) Rule);

impl<'de> Deserialize<'de> for ToolRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_map(deserializer, "a rule object", |raw| {
            check(raw, true).map(ToolRule)
        })
    }
}

impl<'de> Deserialize<'de> for OtherRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_map(deserializer, "a rule object", |raw| {
            check(raw, false).map(OtherRule)
        })
    }
}

fn check(raw: RawRule, tools: bool) -> Result<Rule, Invalid> {
    // `approval` alone makes every call need approval; next to
    // `approval_if` it configures the approval those conditions ask for.
    let conditional = !raw.approval_if.is_empty();
    let action = match (raw.action, &raw.approval) {
        (None, Some(_)) if !conditional => Action::Approval,
        (None, _) => Action::Allow,
        (Some(action @ (Action::Deny | Action::Hide)), Some(_)) => {
            return Err(Invalid::at(
                "approval",
                format!(
                    "\"approval\" settings do not apply to action {:?}",
                    action.as_str()
                ),
            ));
        }
        (Some(Action::Allow), Some(_)) if !conditional => {
            return Err(Invalid::at(
                "approval",
                "\"approval\" settings with action \"allow\" need \"approval_if\"",
            ));
        }
        (Some(action), _) => action,
    };
    if action == Action::Hide && !tools {
        return Err(Invalid::at(
            "action",
            "action \"hide\" applies to tools only (use \"deny\")",
        ));
    }
    let (approval_timeout, approval_reason) = match raw.approval {
        Some(a) => (
            a.timeout.map_or(DEFAULT_APPROVAL_TIMEOUT, |t| t.0),
            a.reason,
        ),
        None => (DEFAULT_APPROVAL_TIMEOUT, None),
    };
    Ok(Rule {
        path: String::new(),
        action,
        reason: raw.reason,
        on_deny: raw.on_deny,
        approval_timeout,
        approval_reason,
        require: raw.require,
        deny_if: raw.deny_if,
        approval_if: raw.approval_if,
        limits: raw.limits,
    })
}

impl Rule {
    /// Sets the rule's JSON Pointer and those of its conditions and limits.
    pub(crate) fn place(&mut self, path: String) {
        for (list, name) in [
            (&mut self.require, "require"),
            (&mut self.deny_if, "deny_if"),
            (&mut self.approval_if, "approval_if"),
        ] {
            place_conditions(list, &format!("{path}/{name}"));
        }
        for limit in &mut self.limits {
            limit.rule = format!("{path}/limits/{}", pointer_escape(&limit.counter));
        }
        self.path = path;
    }

    /// Every condition of the rule.
    pub(crate) fn conditions(&self) -> impl Iterator<Item = &Condition> {
        self.require
            .iter()
            .chain(&self.deny_if)
            .chain(&self.approval_if)
    }
}

/// Conditions are `<path>-<op>` (PolicyLayer's style), or their index for
/// expressions and for a repeat of an earlier `<path>-<op>` in the list.
fn place_conditions(list: &mut [Condition], base: &str) {
    let mut seen = HashSet::new();
    for (index, condition) in list.iter_mut().enumerate() {
        let id = match condition.natural_id() {
            Some(id) if seen.insert(id.clone()) => id,
            _ => index.to_string(),
        };
        condition.rule = format!("{base}/{}", pointer_escape(&id));
    }
}

/// Escapes one JSON Pointer reference token (RFC 6901).
pub(crate) fn pointer_escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
