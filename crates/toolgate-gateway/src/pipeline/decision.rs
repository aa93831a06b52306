//! What the authorize phase decides.

use std::time::Duration;

/// The verdict on one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Forward it.
    Allow,
    /// Refuse it; the reason is shown to the agent.
    Deny {
        /// Why, in words an agent can act on.
        reason: String,
    },
    /// Pretend the tool does not exist.
    Hide,
    /// Hold it until a person approves.
    Approval {
        /// Why approval is needed.
        reason: String,
        /// How long to wait for the person.
        timeout: Duration,
    },
}

impl Verdict {
    /// A stable label for logs, audit and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny { .. } => "deny",
            Verdict::Hide => "hide",
            Verdict::Approval { .. } => "approval",
        }
    }
}

/// A verdict and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// The rule that produced it (a path into the policy), if any.
    pub rule: Option<String>,
    /// The policy version (a content hash), if a policy was consulted.
    pub policy_version: Option<String>,
    /// The limits to charge if the request goes ahead.
    pub limits: Vec<toolgate_policy::LimitCheck>,
}

impl Decision {
    /// An allow with no rule (no policy in force).
    pub fn allow() -> Decision {
        Decision {
            verdict: Verdict::Allow,
            rule: None,
            policy_version: None,
            limits: Vec::new(),
        }
    }
}
