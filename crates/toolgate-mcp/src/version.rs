//! MCP protocol revisions and what each one changes for a proxy.

use std::fmt;

/// A protocol revision the gateway knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// stdio and HTTP+SSE; the first published revision.
    V2024_11_05,
    /// Streamable HTTP, sessions, JSON-RPC batches.
    V2025_03_26,
    /// No more batches; `MCP-Protocol-Version` header; elicitation.
    V2025_06_18,
    /// Tasks, SSE priming events and polling, 403 for a bad `Origin`.
    V2025_11_25,
    /// Stateless: no `initialize`, no sessions, `server/discover`.
    V2026_07_28,
}

impl ProtocolVersion {
    /// Every known revision, oldest first.
    pub const ALL: [ProtocolVersion; 5] = [
        ProtocolVersion::V2024_11_05,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2026_07_28,
    ];

    /// The newest revision that uses `initialize` and sessions.
    pub const LATEST_SESSIONFUL: ProtocolVersion = ProtocolVersion::V2025_11_25;

    /// The newest revision.
    pub const LATEST: ProtocolVersion = ProtocolVersion::V2026_07_28;

    /// Assumed when a sessionful request carries no `MCP-Protocol-Version`
    /// header (as the 2025-06-18 transport spec says).
    pub const HEADER_DEFAULT: ProtocolVersion = ProtocolVersion::V2025_03_26;

    /// Parses a revision string such as `2025-06-18`.
    pub fn parse(s: &str) -> Option<ProtocolVersion> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The revision string.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2024_11_05 => "2024-11-05",
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
            ProtocolVersion::V2026_07_28 => "2026-07-28",
        }
    }

    /// True for revisions without `initialize` and sessions.
    pub fn is_stateless(self) -> bool {
        self >= ProtocolVersion::V2026_07_28
    }

    /// True where a POST body may be a JSON-RPC batch (removed in 2025-06-18).
    pub fn allows_batch(self) -> bool {
        self <= ProtocolVersion::V2025_03_26
    }

    /// True where SSE streams start with a priming event (an id and empty
    /// data) so that a client can resume them (SEP-1699, 2025-11-25).
    pub fn primes_sse(self) -> bool {
        self == ProtocolVersion::V2025_11_25
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_order() {
        for v in ProtocolVersion::ALL {
            assert_eq!(ProtocolVersion::parse(v.as_str()), Some(v));
        }
        assert_eq!(ProtocolVersion::parse("2025-13-01"), None);
        assert!(ProtocolVersion::V2025_03_26.allows_batch());
        assert!(!ProtocolVersion::V2025_06_18.allows_batch());
        assert!(ProtocolVersion::V2026_07_28.is_stateless());
        assert!(!ProtocolVersion::LATEST_SESSIONFUL.is_stateless());
    }
}
