//! What the audit benches share: a record as the gateway writes it.

use std::time::{Duration, UNIX_EPOCH};

use toolgate_audit::AuditRecord;

/// The `i`th record of a run: an allowed (every tenth a denied)
/// `tools/call`, distinct in time, request id and argument digest; its
/// arguments hashed, not captured (the default).
pub(crate) fn record(i: usize) -> AuditRecord {
    AuditRecord {
        time: UNIX_EPOCH + Duration::from_micros(1_795_521_600_000_000 + i as u64),
        request_id: format!("bench-{i}"),
        grant: "ci".into(),
        principal: None,
        session: Some("8f14e45fceea167a5a36dedd4bea2543".into()),
        server: "crm".into(),
        method: "tools/call".into(),
        target: Some("crm.lead.add".into()),
        verdict: if i.is_multiple_of(10) {
            "deny"
        } else {
            "allow"
        }
        .into(),
        rule: Some("/tools/crm.lead.add".into()),
        policy_version: Some("3f2a9c".into()),
        reason: None,
        upstream: "ok".into(),
        rpc_error_code: None,
        gateway_micros: 85,
        upstream_micros: 1200,
        argument_keys: vec!["fields".into(), "params".into()],
        arguments_sha256: Some(format!("{:064x}", i)),
        arguments: None,
    }
}
