//! The engine's inputs (a call and who makes it) and output (a decision).

use std::time::Duration;

use serde_json::value::RawValue;

use crate::duration::Window;

/// The MCP request being decided.
#[derive(Clone, Copy, Debug)]
pub enum Call<'a> {
    /// `tools/call`.
    Tool {
        /// The tool's name.
        name: &'a str,
        /// `params.arguments`, untouched; parsed only if a condition or a
        /// limit's `increment_from` needs it.
        arguments: Option<&'a RawValue>,
    },
    /// `resources/read`.
    Resource {
        /// The resource's URI.
        uri: &'a str,
    },
    /// `prompts/get`.
    Prompt {
        /// The prompt's name.
        name: &'a str,
        /// `params.arguments`, untouched.
        arguments: Option<&'a RawValue>,
    },
}

/// Who makes the call, and through what.
#[derive(Clone, Copy, Debug)]
pub struct Principal<'a> {
    /// The grant (labelled bearer token) the call came with.
    pub grant: &'a str,
    /// The configured server the call is for.
    pub server: &'a str,
    /// The MCP session, if the client has one (stateless clients do not).
    pub session: Option<&'a str>,
    /// The OAuth subject, when there is one.
    pub subject: Option<&'a str>,
    /// Identity claims (any JSON), visible as `principal.claims`.
    pub claims: Option<&'a serde_json::Value>,
}

/// What the policy says about one call.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Allow, deny, hide or hold for approval.
    pub verdict: Verdict,
    /// The rule that produced the verdict, as a JSON Pointer into the policy in PolicyLayer's style:
    /// `"/tools/createLead"`, `"/tools/create_charge/deny_if/args.amount-gt"`, `"/tools/x/require/args.reason-exists"`,
    /// `"/tools/x/deny_if/2"` (expr conditions: their index), `"(default deny)"`, `"(hidden)"`, `"/resources/rules/<key>"`, `"(default allow)"` …
    ///
    /// Always `Some` in this version: a call allowed by `default: allow`
    /// with no rule says `"(default allow)"`. Keys are escaped as RFC 6901
    /// requires (`/` → `~1`, `~` → `~0`).
    pub rule: Option<String>,
    /// Text for the agent (deny/approval); None for allow.
    ///
    /// Hide decisions carry a reason too (`Tool "x" is hidden by policy`),
    /// for a gateway that answers a hidden tool's call with it.
    pub reason: Option<String>,
    /// Limits to charge if the call goes ahead (rule limits then all_tools limits), in that order.
    ///
    /// Empty for deny and hide.
    pub limits: Vec<LimitCheck>,
}

/// The outcome.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Forward the call (after charging the limits).
    Allow,
    /// Refuse it, telling the agent the reason.
    Deny,
    /// Act as if the tool did not exist (it is also left out of `tools/list`).
    Hide,
    /// Hold the call until a human approves it, or deny after `timeout`.
    Approval {
        /// How long to wait for a human before denying.
        timeout: Duration,
    },
}

/// One limit to charge for a call.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitCheck {
    /// Where it is defined: `"/tools/createLead/limits/createlead_rate"` or `"/all_tools/limits/<counter>"`.
    pub rule: String,
    /// The counter's name, as written.
    pub counter: String,
    /// The counter key the store counts under: stable across reloads and policy edits that keep the
    /// counter; includes the scope and its value, e.g. `"createlead_rate|grant=alice-laptop"`,
    /// `"calls|tool=getLead"`, `"x|global"`. (The gateway prefixes the server name.)
    pub key: String,
    /// The most the counter may reach within one window.
    pub max: u64,
    /// How much this call charges (1, `increment`, or the increment_from argument).
    pub amount: u64,
    /// The window the counter counts over.
    pub window: Window,
}

/// Counts for `policy check`'s one-line summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// `default` is `allow`.
    pub default_allow: bool,
    /// Keys under `tools` (exact names and globs).
    pub tools: usize,
    /// How many of those keys are globs.
    pub globs: usize,
    /// Entries of `hide` (`"*"` counts as one) plus rules with `action: hide`.
    pub hidden: usize,
    /// Limits defined anywhere (`all_tools`, tools, resources, prompts).
    pub limits: usize,
    /// Conditions (`require`, `deny_if`, `approval_if`) anywhere.
    pub conditions: usize,
    /// Keys under `resources.rules`.
    pub resources: usize,
    /// Keys under `prompts.rules`.
    pub prompts: usize,
}
