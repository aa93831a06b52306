//! The audit record, and its place in the chain.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::{write_canonical, write_integer, write_string, write_string_array};
use crate::rfc3339;

/// One decision, as the gateway produces it.
///
/// Serialized (JSON lines, hashes) with `time` as RFC 3339 UTC with
/// microseconds, e.g. `"2026-11-24T12:00:00.123456Z"`; what is stored is the
/// record after [`AuditRecord::normalized`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the decision was made (kept to the microsecond).
    #[serde(with = "rfc3339::serde_micros")]
    pub time: SystemTime,
    /// Gateway-unique request id (e.g. `"<boot id>-<counter>"`).
    pub request_id: String,
    /// The grant the caller authenticated as.
    pub grant: String,
    /// The OAuth subject, when there is one.
    pub principal: Option<String>,
    /// The MCP session, when there is one.
    pub session: Option<String>,
    /// The configured upstream server's name.
    pub server: String,
    /// The MCP method (`tools/call`, `resources/read`, ...).
    pub method: String,
    /// The tool name, resource URI or prompt name.
    pub target: Option<String>,
    /// `allow`, `deny`, `hide`, `approval`, `rate_limited`, ...
    pub verdict: String,
    /// The rule that decided, as a path into the policy, or `(default deny)`.
    pub rule: Option<String>,
    /// The policy's content hash.
    pub policy_version: Option<String>,
    /// The reason given to the caller.
    pub reason: Option<String>,
    /// `ok`, `tool_error`, `rpc_error`, `timeout`, `not_forwarded`, ...
    pub upstream: String,
    /// The JSON-RPC error code the upstream answered with.
    pub rpc_error_code: Option<i64>,
    /// Time spent in the gateway's pipeline, in microseconds: from the
    /// parsed, authenticated call through the decision, limits and any
    /// approval's wait to forwarding, then handling the answer. The HTTP
    /// parsing and writing around it are not counted.
    pub gateway_micros: u64,
    /// Time spent waiting for the upstream, in microseconds.
    pub upstream_micros: u64,
    /// The top-level argument names.
    pub argument_keys: Vec<String>,
    /// Hex SHA-256 of the canonical arguments ([`crate::arguments_sha256`]).
    pub arguments_sha256: Option<String>,
    /// The arguments, already redacted; only when capture is on.
    pub arguments: Option<Value>,
}

/// A record as stored: its place in the chain.
///
/// In JSON the record's fields sit at the top level beside `seq`,
/// `prev_hash` and `hash`; without the last two, a line is exactly what
/// `hash` covers (see [`crate::record_hash`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// The record.
    #[serde(flatten)]
    pub record: AuditRecord,
    /// The previous record's hash (64 zeros for the first).
    pub prev_hash: String,
    /// `sha256_hex(prev_hash + "\n" + canonical_json(record with seq))`.
    pub hash: String,
}

/// The largest duration a database's signed 64-bit column holds.
const MAX_MICROS: u64 = i64::MAX as u64;

impl AuditRecord {
    /// The record as it will be stored and read back: time truncated to the
    /// microsecond (1970..=9999), durations capped at `i64::MAX`, and NUL
    /// characters in text columns replaced by U+FFFD (PostgreSQL's text
    /// cannot hold them, and one bad record must not stall the log).
    pub fn normalized(&self) -> AuditRecord {
        let mut r = self.clone();
        r.normalize();
        r
    }

    /// [`normalized`](Self::normalized) in place: what a sink does to the
    /// records it is given, with no copy. Normalizing twice changes nothing.
    pub fn normalize(&mut self) {
        // Rebuilt only when there is a NUL (`replace` rebuilds every string
        // piece by piece: 2,500 instructions a record).
        let text = |s: &mut String| {
            if s.contains('\0') {
                *s = s.replace('\0', "\u{FFFD}");
            }
        };
        let opt = |s: &mut Option<String>| {
            if let Some(s) = s {
                text(s);
            }
        };
        self.time = rfc3339::normalize(self.time);
        text(&mut self.request_id);
        text(&mut self.grant);
        opt(&mut self.principal);
        opt(&mut self.session);
        text(&mut self.server);
        text(&mut self.method);
        opt(&mut self.target);
        text(&mut self.verdict);
        opt(&mut self.rule);
        opt(&mut self.policy_version);
        opt(&mut self.reason);
        text(&mut self.upstream);
        self.gateway_micros = self.gateway_micros.min(MAX_MICROS);
        self.upstream_micros = self.upstream_micros.min(MAX_MICROS);
        opt(&mut self.arguments_sha256);
    }

    /// Appends `canonical_json` of the record's JSON with `seq` (what the
    /// chain hashes) without building a `Value`: the fields are listed in
    /// canonical key order. A test keeps this equal to the serde form.
    pub(crate) fn write_hashed(&self, seq: i64, out: &mut String) {
        let time = rfc3339::Stamp::of(self.time);
        let fields: [(&str, Field<'_>); 20] = [
            ("argument_keys", Field::Keys(&self.argument_keys)),
            ("arguments", Field::Json(self.arguments.as_ref())),
            (
                "arguments_sha256",
                Field::Text(self.arguments_sha256.as_deref()),
            ),
            ("gateway_micros", Field::Unsigned(self.gateway_micros)),
            ("grant", Field::Text(Some(&self.grant))),
            ("method", Field::Text(Some(&self.method))),
            (
                "policy_version",
                Field::Text(self.policy_version.as_deref()),
            ),
            ("principal", Field::Text(self.principal.as_deref())),
            ("reason", Field::Text(self.reason.as_deref())),
            ("request_id", Field::Text(Some(&self.request_id))),
            ("rpc_error_code", Field::Signed(self.rpc_error_code)),
            ("rule", Field::Text(self.rule.as_deref())),
            ("seq", Field::Signed(Some(seq))),
            ("server", Field::Text(Some(&self.server))),
            ("session", Field::Text(self.session.as_deref())),
            ("target", Field::Text(self.target.as_deref())),
            ("time", Field::Text(Some(time.as_str()))),
            ("upstream", Field::Text(Some(&self.upstream))),
            ("upstream_micros", Field::Unsigned(self.upstream_micros)),
            ("verdict", Field::Text(Some(&self.verdict))),
        ];
        out.push('{');
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(key, out);
            out.push(':');
            value.write(out);
        }
        out.push('}');
    }
}

/// A field's value in the hashed form.
enum Field<'a> {
    Text(Option<&'a str>),
    Signed(Option<i64>),
    Unsigned(u64),
    Keys(&'a [String]),
    Json(Option<&'a Value>),
}

impl Field<'_> {
    fn write(&self, out: &mut String) {
        match self {
            Field::Text(Some(s)) => write_string(s, out),
            Field::Signed(Some(n)) => write_integer(*n, out),
            Field::Unsigned(n) => write_integer(*n, out),
            Field::Json(Some(v)) => write_canonical(v, out),
            Field::Keys(keys) => write_string_array(keys, out),
            Field::Text(None) | Field::Signed(None) | Field::Json(None) => out.push_str("null"),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::*;

    /// A record with every field set.
    pub(crate) fn full_record() -> AuditRecord {
        AuditRecord {
            time: UNIX_EPOCH + Duration::new(1_795_521_600, 123_456_789),
            request_id: "boot-1".into(),
            grant: "ci".into(),
            principal: Some("user@example.com".into()),
            session: Some("s1".into()),
            server: "crm".into(),
            method: "tools/call".into(),
            target: Some("createLead".into()),
            verdict: "allow".into(),
            rule: Some("/tools/createLead".into()),
            policy_version: Some("abc".into()),
            reason: None,
            upstream: "ok".into(),
            rpc_error_code: Some(-32602),
            gateway_micros: 120,
            upstream_micros: u64::MAX,
            argument_keys: vec!["name".into()],
            arguments_sha256: Some("00".into()),
            arguments: Some(json!({"name": "Ada", "n": [1, 2.5, null]})),
        }
    }

    #[test]
    fn the_hashed_form_is_the_canonical_serde_form_plus_seq() {
        let mut sparse = full_record();
        sparse.principal = None;
        sparse.target = None;
        sparse.rpc_error_code = None;
        sparse.arguments = None;
        sparse.argument_keys = vec!["a\"b".into(), "é\n".into()];
        for r in [full_record().normalized(), sparse.normalized()] {
            let mut serde = serde_json::to_value(&r).unwrap();
            serde
                .as_object_mut()
                .unwrap()
                .insert("seq".into(), json!(-7));
            let mut fast = String::new();
            r.write_hashed(-7, &mut fast);
            assert_eq!(fast, crate::canonical_json(&serde));
        }
    }

    #[test]
    fn stored_records_flatten_and_round_trip() {
        let stored = StoredRecord {
            seq: 3,
            record: full_record().normalized(),
            prev_hash: "p".into(),
            hash: "h".into(),
        };
        let line = serde_json::to_string(&stored).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["time"], "2026-11-24T12:00:00.123456Z");
        assert_eq!(v["seq"], 3);
        assert_eq!(serde_json::from_str::<StoredRecord>(&line).unwrap(), stored);
    }

    #[test]
    fn normalizing_makes_records_storable() {
        let mut r = full_record();
        r.target = Some("a\0b".into());
        let n = r.normalized();
        assert_eq!(n.target.as_deref(), Some("a\u{FFFD}b"));
        assert_eq!(n.upstream_micros, i64::MAX as u64);
        assert_eq!(
            n.time,
            UNIX_EPOCH + Duration::new(1_795_521_600, 123_456_000)
        );
        assert_eq!(n.normalized(), n);
    }
}
