//! Shared by the integration tests: fixtures and helpers.
#![allow(dead_code, unreachable_pub, reason = "each test binary uses a subset")]

use std::time::{Duration, SystemTime};

use toolgate_state::{
    ApprovalState, Decision, PendingApproval, RedisApprovalOptions, RedisApprovals, StateError,
};
use toolgate_testdb::RedisServer;

/// 2026-11-29T12:00:00Z.
pub fn noon() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_953_600)
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A pending call to `server`, asked at `noon() + created` and expiring
/// `lifetime` later.
pub fn pending(server: &str, created: Duration, lifetime: Duration) -> PendingApproval {
    PendingApproval {
        server: server.into(),
        grant: "ci".into(),
        tool: "deleteLead".into(),
        argument_keys: vec!["id".into(), "reason".into()],
        arguments_sha256: "ab".repeat(32),
        arguments: Some(r#"{"id":42,"reason":"[redacted]"}"#.into()),
        reason: "deleting needs a person".into(),
        rule: Some("/tools/deleteLead".into()),
        created_at: noon() + created,
        expires_at: noon() + created + lifetime,
    }
}

pub fn decision(approved: bool, by: &str, at: Duration) -> Decision {
    Decision {
        approved,
        by: by.into(),
        note: approved.then(|| "looks fine".into()),
        at: noon() + at,
    }
}

pub fn decided(state: ApprovalState) -> Decision {
    match state {
        ApprovalState::Decided(d) => d,
        other => panic!("expected a decision, got {other:?}"),
    }
}

pub fn unavailable<T: std::fmt::Debug>(r: Result<T, StateError>) -> String {
    match r {
        Err(StateError::Unavailable(reason)) => reason,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

pub fn redis_options(server: &RedisServer) -> RedisApprovalOptions {
    RedisApprovalOptions {
        key_prefix: server.key_prefix().into(),
        ..RedisApprovalOptions::default()
    }
}

pub fn redis_store(server: &RedisServer, options: RedisApprovalOptions) -> RedisApprovals {
    RedisApprovals::new(server.url(), options).unwrap()
}
