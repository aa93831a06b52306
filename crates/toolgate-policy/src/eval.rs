//! Evaluation: from a call to a decision.

use crate::condition::Condition;
use crate::decision::{Decision, LimitCheck, Verdict};
use crate::document::Key;
use crate::facts::{EvalError, Facts};
use crate::glob::KeyMatcher;
use crate::limit::Limit;
use crate::rule::{Action, Rule, pointer_escape};

/// The rules of one section (`tools`, `resources.rules`, `prompts.rules`)
/// and the verdict for names no rule matches.
pub(crate) struct Table {
    matcher: KeyMatcher,
    pub(crate) rules: Vec<Rule>,
    pub(crate) default_allow: bool,
}

impl Table {
    /// Builds a table; `prefix` is the rules' JSON Pointer prefix, like `/tools/`.
    pub(crate) fn new(prefix: &str, entries: Vec<(Key, Rule)>, default_allow: bool) -> Table {
        let mut keys = Vec::with_capacity(entries.len());
        let mut rules = Vec::with_capacity(entries.len());
        for (key, mut rule) in entries {
            rule.place(format!("{prefix}{}", pointer_escape(&key.name)));
            keys.push((key.name, key.glob));
            rules.push(rule);
        }
        Table {
            matcher: KeyMatcher::new(keys),
            rules,
            default_allow,
        }
    }

    /// The rule that governs `name`, if any.
    pub(crate) fn find(&self, name: &str) -> Option<&Rule> {
        self.matcher.find(name).and_then(|i| self.rules.get(i))
    }

    /// How many keys are globs.
    pub(crate) fn glob_count(&self) -> usize {
        self.matcher.glob_count()
    }
}

/// What is being called, for messages and limit keys.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    /// "Tool", "Resource" or "Prompt".
    pub(crate) noun: &'static str,
    /// Scope label for `scope: tool` keys: "tool", "resource" or "prompt".
    pub(crate) kind: &'static str,
    pub(crate) name: &'a str,
}

/// Decides a call against one section; `extra` are limits every call of
/// the section charges after its rule's (`all_tools` for tools).
pub(crate) fn decide(
    table: &Table,
    target: Target<'_>,
    facts: &Facts<'_>,
    extra: &[Limit],
) -> Decision {
    match table.find(target.name) {
        Some(rule) => apply(rule, target, facts, extra),
        None if table.default_allow => match charge(extra.iter(), facts, target) {
            Ok(limits) => allow("(default allow)".to_owned(), limits),
            Err(decision) => decision,
        },
        None => deny(
            "(default deny)",
            format!(
                "{} \"{}\" is not allowed by this policy",
                target.noun, target.name
            ),
        ),
    }
}

/// The decision for a tool on the `hide` list.
pub(crate) fn hidden(rule: &str, target: Target<'_>) -> Decision {
    Decision {
        verdict: Verdict::Hide,
        rule: Some(rule.to_owned()),
        reason: Some(format!(
            "{} \"{}\" is hidden by policy",
            target.noun, target.name
        )),
        limits: Vec::new(),
    }
}

fn apply(rule: &Rule, target: Target<'_>, facts: &Facts<'_>, extra: &[Limit]) -> Decision {
    match rule.action {
        Action::Hide => return hidden(&rule.path, target),
        Action::Deny => {
            let reason = rule.reason.as_ref().or(rule.on_deny.as_ref()).cloned();
            let reason = reason.unwrap_or_else(|| {
                format!("{} \"{}\" is denied by policy", target.noun, target.name)
            });
            return deny(&rule.path, reason);
        }
        Action::Allow | Action::Approval => {}
    }
    for condition in &rule.require {
        match condition.holds(facts) {
            Ok(true) => {}
            Ok(false) => {
                let reason = denial(condition, rule, "Requirement not met");
                return deny(&condition.rule, reason);
            }
            Err(e) => return fail_closed(condition, e),
        }
    }
    if let Some(found) = first_holding(&rule.deny_if, facts) {
        return match found {
            Ok(condition) => deny(&condition.rule, denial(condition, rule, "Denied by policy")),
            Err((condition, e)) => fail_closed(condition, e),
        };
    }
    let approval = if rule.action == Action::Approval {
        Some((&rule.path, None))
    } else {
        match first_holding(&rule.approval_if, facts) {
            Some(Ok(condition)) => Some((&condition.rule, condition.message.as_ref())),
            Some(Err((condition, e))) => return fail_closed(condition, e),
            None => None,
        }
    };
    let limits = match charge(rule.limits.iter().chain(extra), facts, target) {
        Ok(limits) => limits,
        Err(decision) => return decision,
    };
    let Some((path, message)) = approval else {
        return allow(rule.path.clone(), limits);
    };
    let reason = message
        .or(rule.approval_reason.as_ref())
        .or(rule.reason.as_ref())
        .cloned()
        .unwrap_or_else(|| {
            format!(
                "{} \"{}\" requires human approval",
                target.noun, target.name
            )
        });
    Decision {
        verdict: Verdict::Approval {
            timeout: rule.approval_timeout,
        },
        rule: Some(path.clone()),
        reason: Some(reason),
        limits,
    }
}

/// The first condition that holds, or the first that cannot be evaluated.
fn first_holding<'r>(
    conditions: &'r [Condition],
    facts: &Facts<'_>,
) -> Option<Result<&'r Condition, (&'r Condition, EvalError)>> {
    conditions.iter().find_map(|c| match c.holds(facts) {
        Ok(true) => Some(Ok(c)),
        Ok(false) => None,
        Err(e) => Some(Err((c, e))),
    })
}

/// A denial's text: the condition's `message`, else the rule's `on_deny`,
/// else `<lead>: <condition>`.
fn denial(condition: &Condition, rule: &Rule, lead: &str) -> String {
    condition
        .message
        .as_ref()
        .or(rule.on_deny.as_ref())
        .cloned()
        .unwrap_or_else(|| format!("{lead}: {}", condition.text))
}

/// The limit checks for a call, or the fail-closed denial if an amount
/// cannot be evaluated.
fn charge<'l>(
    limits: impl Iterator<Item = &'l Limit>,
    facts: &Facts<'_>,
    target: Target<'_>,
) -> Result<Vec<LimitCheck>, Decision> {
    let mut checks = Vec::with_capacity(limits.size_hint().0);
    for limit in limits {
        match limit.check(facts, target.kind, target.name) {
            Ok(check) => checks.push(check),
            Err(e) => {
                let reason = format!(
                    "Policy limit \"{}\" could not be evaluated: {}",
                    limit.counter, e.0
                );
                return Err(deny(&limit.rule, reason));
            }
        }
    }
    Ok(checks)
}

fn fail_closed(condition: &Condition, e: EvalError) -> Decision {
    let reason = format!(
        "Policy condition \"{}\" could not be evaluated: {}",
        condition.text, e.0
    );
    deny(&condition.rule, reason)
}

fn allow(rule: String, limits: Vec<LimitCheck>) -> Decision {
    Decision {
        verdict: Verdict::Allow,
        rule: Some(rule),
        reason: None,
        limits,
    }
}

fn deny(rule: &str, reason: String) -> Decision {
    Decision {
        verdict: Verdict::Deny,
        rule: Some(rule.to_owned()),
        reason: Some(reason),
        limits: Vec::new(),
    }
}
