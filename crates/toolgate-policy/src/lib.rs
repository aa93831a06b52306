//! toolgate's policy language: loading, compilation and evaluation.
//!
//! A policy document (PolicyLayer's hosted-gateway JSON, or toolgate's
//! superset of it, in JSON or YAML; see `docs/policy.md`) compiles into an
//! immutable [`Policy`]: globs, regexes and CEL expressions are compiled
//! once, at load, and every mistake is a [`PolicyError`] naming the file,
//! line, column and path of the offending value. [`Policy::evaluate`] turns
//! a [`Call`] by a [`Principal`] into a [`Decision`]: the verdict, the rule
//! that produced it, the text for the agent, and the limits to charge.
//!
//! **Architecture invariant:** this crate is pure. It does no I/O, reads no
//! clock (time is a parameter), knows nothing of HTTP or JSON-RPC and does
//! no counting: a decision lists the limits to charge and the counter store
//! counts.

#![forbid(unsafe_code)]

mod cel;
mod condition;
mod de;
mod decision;
mod document;
mod duration;
mod error;
mod eval;
mod facts;
mod glob;
mod limit;
mod ops;
mod path;
mod rule;

use std::time::SystemTime;

use sha2::{Digest, Sha256};

pub use decision::{Call, Decision, LimitCheck, Principal, Summary, Verdict};
pub use duration::Window;
pub use error::PolicyError;

use document::{DefaultVerdict, Document};
use eval::{Table, Target};
use facts::Facts;
use glob::KeyMatcher;
use limit::{CounterScope, Limit};
use rule::{Action, pointer_escape};

/// A compiled policy: immutable, cheap to evaluate, safe to share between
/// threads.
pub struct Policy {
    version: String,
    hide: KeyMatcher,
    all_tools: Vec<Limit>,
    tools: Table,
    resources: Table,
    prompts: Table,
    summary: Summary,
}

// The gateway shares one snapshot between every request task.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Policy>();
};

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("version", &self.version)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// Loads a policy from JSON text; `source` names it in errors.
    pub fn from_json_str(text: &str, source: &str) -> Result<Policy, PolicyError> {
        let _counters = CounterScope::enter();
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let document: Document = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|e| error::from_json(e, source))?;
        deserializer
            .end()
            .map_err(|e| error::json_error(&e, source, String::new()))?;
        Ok(Policy::assemble(document, text))
    }

    /// Loads a policy from YAML text (the same schema); `source` names it in
    /// errors.
    pub fn from_yaml_str(text: &str, source: &str) -> Result<Policy, PolicyError> {
        let _counters = CounterScope::enter();
        let deserializer = yaml_serde::Deserializer::from_str(text);
        let document: Document = serde_path_to_error::deserialize(deserializer)
            .map_err(|e| error::from_yaml(e, source))?;
        Ok(Policy::assemble(document, text))
    }

    /// JSON if the text starts with `{` (after whitespace), else YAML.
    pub fn from_str_auto(text: &str, source: &str) -> Result<Policy, PolicyError> {
        if text.trim_start().starts_with('{') {
            Policy::from_json_str(text, source)
        } else {
            Policy::from_yaml_str(text, source)
        }
    }

    /// "sha256:" + first 16 hex chars of SHA-256 of the source text bytes.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Decides a call. `now` is the wall-clock time of the call (CEL's `now`).
    ///
    /// Never fails: a condition that cannot be evaluated denies the call
    /// (fail closed), naming the condition in the reason.
    pub fn evaluate(
        &self,
        call: &Call<'_>,
        principal: &Principal<'_>,
        now: SystemTime,
    ) -> Decision {
        let facts = Facts::new(call, principal, now);
        match *call {
            Call::Tool { name, .. } => {
                let target = Target {
                    noun: "Tool",
                    kind: "tool",
                    name,
                };
                if self.hide.find(name).is_some() {
                    return eval::hidden("(hidden)", target);
                }
                eval::decide(&self.tools, target, &facts, &self.all_tools)
            }
            Call::Resource { uri } => {
                let target = Target {
                    noun: "Resource",
                    kind: "resource",
                    name: uri,
                };
                eval::decide(&self.resources, target, &facts, &[])
            }
            Call::Prompt { name, .. } => {
                let target = Target {
                    noun: "Prompt",
                    kind: "prompt",
                    name,
                };
                eval::decide(&self.prompts, target, &facts, &[])
            }
        }
    }

    /// True when tools/list must not show this tool to anyone (hide list or action hide).
    pub fn hides_tool(&self, tool: &str) -> bool {
        self.hide.find(tool).is_some()
            || self
                .tools
                .find(tool)
                .is_some_and(|rule| rule.action == Action::Hide)
    }

    /// Counts for `policy check`'s one-line summary.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    fn assemble(document: Document, text: &str) -> Policy {
        let digest = hex::encode(Sha256::digest(text.as_bytes()));
        let version = format!("sha256:{}", &digest[..16]);
        let mut all_tools = document.all_tools.map(|a| a.limits).unwrap_or_default();
        for limit in &mut all_tools {
            limit.rule = format!("/all_tools/limits/{}", pointer_escape(&limit.counter));
        }
        let tool_entries = document.tools.entries.into_iter().map(|(k, r)| (k, r.0));
        let tools = Table::new(
            "/tools/",
            tool_entries.collect(),
            document.default == DefaultVerdict::Allow,
        );
        let section = |s: Option<document::Section>, prefix: &str| {
            let (default, entries) = s.map_or((None, Vec::new()), |s| (s.default, s.rules.entries));
            let entries = entries.into_iter().map(|(k, r)| (k, r.0)).collect();
            Table::new(prefix, entries, default != Some(DefaultVerdict::Deny))
        };
        let resources = section(document.resources, "/resources/rules/");
        let prompts = section(document.prompts, "/prompts/rules/");
        let hidden_entries = document.hide.keys.len();
        let hide = KeyMatcher::new(document.hide.keys.into_iter().map(|k| (k.name, k.glob)));
        let mut policy = Policy {
            version,
            hide,
            all_tools,
            tools,
            resources,
            prompts,
            summary: Summary {
                default_allow: document.default == DefaultVerdict::Allow,
                tools: 0,
                globs: 0,
                hidden: hidden_entries,
                limits: 0,
                conditions: 0,
                resources: 0,
                prompts: 0,
            },
        };
        policy.count();
        policy
    }

    fn count(&mut self) {
        let tables = [&self.tools, &self.resources, &self.prompts];
        let rules = || tables.iter().flat_map(|t| t.rules.iter());
        let summary = &mut self.summary;
        summary.tools = self.tools.rules.len();
        summary.globs = self.tools.glob_count();
        summary.hidden += self
            .tools
            .rules
            .iter()
            .filter(|r| r.action == Action::Hide)
            .count();
        summary.limits = self.all_tools.len() + rules().map(|r| r.limits.len()).sum::<usize>();
        summary.conditions = rules().map(|r| r.conditions().count()).sum();
        summary.resources = self.resources.rules.len();
        summary.prompts = self.prompts.rules.len();
    }
}
