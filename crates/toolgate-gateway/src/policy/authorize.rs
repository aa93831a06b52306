//! The authorize phase backed by policies: each grant's calls are judged by
//! the policy it names. A grant without a policy may list and read
//! metadata, but every tool call, resource read and prompt is denied, as in
//! PolicyLayer's gateway.

use std::sync::Arc;

use toolgate_policy::{Call, Policy, Principal as PolicyPrincipal, Verdict as PolicyVerdict};

use super::store::PolicyStore;
use crate::pipeline::{Authorize, CallContext, Decision, Principal, Target, Verdict};

/// The rule named when a grant has no policy.
pub const NO_POLICY: &str = "(no policy)";

/// Judges requests by the policy of their grant.
pub struct PolicyAuthorizer {
    store: Arc<PolicyStore>,
}

impl PolicyAuthorizer {
    /// Judges by the policies in `store`.
    pub fn new(store: Arc<PolicyStore>) -> PolicyAuthorizer {
        PolicyAuthorizer { store }
    }

    fn policy_of(&self, principal: &Principal) -> Option<Arc<Policy>> {
        principal
            .policy
            .as_deref()
            .and_then(|name| self.store.get(name))
    }
}

impl Authorize for PolicyAuthorizer {
    fn decide(&self, ctx: &CallContext) -> Decision {
        let call = match &ctx.target {
            Target::Tool(name) => Call::Tool {
                name,
                arguments: ctx.arguments.as_deref(),
            },
            Target::Prompt(name) => Call::Prompt {
                name,
                arguments: ctx.arguments.as_deref(),
            },
            Target::Resource(uri) if ctx.method == "resources/read" => Call::Resource { uri },
            // Listing, subscribing, completions, pings: nothing a policy
            // governs (hidden tools are filtered from lists separately).
            Target::Resource(_) | Target::None => return Decision::allow(),
        };
        let Some(policy) = self.policy_of(&ctx.principal) else {
            return Decision {
                verdict: Verdict::Deny {
                    reason: format!(
                        "grant {:?} has no policy, so no call is allowed",
                        &*ctx.principal.grant
                    ),
                },
                rule: Some(NO_POLICY.to_owned()),
                policy_version: None,
                limits: Vec::new(),
            };
        };
        let principal = PolicyPrincipal {
            grant: &ctx.principal.grant,
            server: &ctx.server,
            session: ctx.session.as_deref(),
            subject: ctx.principal.subject.as_deref(),
            claims: ctx.principal.claims.as_deref(),
        };
        let d = policy.evaluate(&call, &principal, ctx.received);
        let reason = d.reason.unwrap_or_default();
        let verdict = match d.verdict {
            PolicyVerdict::Allow => Verdict::Allow,
            PolicyVerdict::Deny => Verdict::Deny { reason },
            PolicyVerdict::Hide => Verdict::Hide,
            PolicyVerdict::Approval { timeout } => Verdict::Approval { reason, timeout },
        };
        Decision {
            verdict,
            rule: d.rule,
            policy_version: Some(policy.version().to_owned()),
            limits: d.limits,
        }
    }

    fn hides_tool(&self, principal: &Principal, tool: &str) -> bool {
        self.policy_of(principal)
            .is_some_and(|p| p.hides_tool(tool))
    }
}
