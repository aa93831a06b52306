//! Prometheus metrics, served as text on the admin listener.
//!
//! Label cardinality is bounded: servers and methods come from the config
//! and the protocol, verdicts and outcomes are fixed sets, and a tool name
//! becomes a label only once the server listed it in a `tools/list` answer
//! (at most [`MAX_TOOLS_PER_SERVER`] per server); anything else an agent
//! sends is counted as `other`.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::OnceLock;

use parking_lot::RwLock;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::pipeline::AuditRecord;

/// Most tool names kept as label values per server.
pub const MAX_TOOLS_PER_SERVER: usize = 2000;

/// Methods counted by name; anything else is `other`.
const KNOWN_METHODS: [&str; 18] = [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "server/discover",
    "subscriptions/listen",
    "tasks/get",
    "tasks/result",
    "tasks/cancel",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    server: String,
    method: String,
    tool: String,
    verdict: String,
    upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    server: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabels {
    server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    policy: String,
    result: String,
}

/// What a decision of one label set updates, found once: the families'
/// `get_or_create` takes owned labels, which cost five `String`s and three
/// SipHash lookups on every call.
struct CallHandles {
    labels: CallLabels,
    calls: Counter,
    gateway: Histogram,
    /// Made on the first decision that waited for the upstream, so a label
    /// set that never forwards shows no empty histogram.
    upstream: OnceLock<Histogram>,
}

/// Handles by a hash of their labels (the labels are compared too, so a
/// collision only means the slow path).
type CallCache = HashMap<u64, CallHandles, foldhash::fast::RandomState>;

/// Every metric the gateway exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    gateway_seconds: Family<LatencyLabels, Histogram>,
    upstream_seconds: Family<LatencyLabels, Histogram>,
    sessions_open: Gauge,
    process_starts: Family<ServerLabels, Counter>,
    process_crashes: Family<ServerLabels, Counter>,
    limiter_errors: Counter,
    audit_errors: Counter,
    audit_queue: Gauge,
    audit_records: Counter,
    edge_refusals: Family<ReasonLabels, Counter>,
    policy_reloads: Family<ReloadLabels, Counter>,
    known_tools: RwLock<KnownTools>,
    /// As many entries as `calls` has label sets, so bounded as they are.
    call_cache: RwLock<CallCache>,
    call_seed: foldhash::fast::RandomState,
}

/// Tool names a server listed, by server. Looked up by names agents send,
/// but filled only from servers' answers, so a fast hash is safe here.
type KnownTools =
    HashMap<String, HashSet<String, foldhash::fast::RandomState>, foldhash::fast::RandomState>;

impl std::fmt::Debug for CallHandles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.labels.fmt(f)
    }
}

fn latency_histogram() -> Histogram {
    // 10 µs to ~21 s, doubling: the gateway's own overhead lives at the low
    // end, upstream tool calls anywhere.
    Histogram::new(exponential_buckets(0.000_01, 2.0, 22))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set of metrics.
    pub fn new() -> Metrics {
        let m = Metrics {
            registry: Registry::with_prefix("toolgate"),
            calls: Family::default(),
            gateway_seconds: Family::new_with_constructor(latency_histogram),
            upstream_seconds: Family::new_with_constructor(latency_histogram),
            sessions_open: Gauge::default(),
            process_starts: Family::default(),
            process_crashes: Family::default(),
            limiter_errors: Counter::default(),
            audit_errors: Counter::default(),
            audit_queue: Gauge::default(),
            audit_records: Counter::default(),
            edge_refusals: Family::default(),
            policy_reloads: Family::default(),
            known_tools: RwLock::new(KnownTools::default()),
            call_cache: RwLock::new(CallCache::default()),
            call_seed: foldhash::fast::RandomState::default(),
        };
        m.register()
    }

    fn register(mut self) -> Metrics {
        let r = &mut self.registry;
        r.register(
            "calls",
            "Decided requests by server, method, tool, verdict and upstream outcome",
            self.calls.clone(),
        );
        r.register(
            "gateway_overhead_seconds",
            "Time in the gateway's pipeline per request: decision, limits, any approval wait and the answer's handling (not HTTP parsing and writing)",
            self.gateway_seconds.clone(),
        );
        r.register(
            "upstream_seconds",
            "Time waiting for the upstream, per forwarded request",
            self.upstream_seconds.clone(),
        );
        r.register(
            "sessions_open",
            "Open downstream sessions",
            self.sessions_open.clone(),
        );
        r.register(
            "upstream_process_starts",
            "stdio upstream processes started",
            self.process_starts.clone(),
        );
        r.register(
            "upstream_process_crashes",
            "stdio upstream processes that exited unasked",
            self.process_crashes.clone(),
        );
        r.register(
            "limiter_errors",
            "Counter store failures (limits could not be checked)",
            self.limiter_errors.clone(),
        );
        r.register(
            "audit_errors",
            "Audit batches that failed to commit (retried)",
            self.audit_errors.clone(),
        );
        r.register(
            "audit_queue_depth",
            "Audit records waiting to be committed",
            self.audit_queue.clone(),
        );
        r.register(
            "audit_records",
            "Audit records committed",
            self.audit_records.clone(),
        );
        r.register(
            "http_refusals",
            "Requests refused at the HTTP edge, by reason",
            self.edge_refusals.clone(),
        );
        r.register(
            "policy_reloads",
            "Policy file reloads by policy and result",
            self.policy_reloads.clone(),
        );
        self
    }

    /// Records a decision (called once per audit record).
    pub fn observe(&self, r: &AuditRecord) {
        let method = method_label(&r.method);
        let tool = match (&r.target, r.method.as_str()) {
            (Some(t), "tools/call") if self.is_known_tool(&r.server, t) => t.as_str(),
            (Some(_), "tools/call") => "other",
            _ => "",
        };
        let (verdict, upstream) = (r.verdict, r.upstream.label());
        let key = self
            .call_seed
            .hash_one((&*r.server, method, tool, verdict, upstream));
        let record = |c: &CallHandles| {
            c.calls.inc();
            c.gateway.observe(r.gateway_micros as f64 / 1e6);
            if r.upstream_micros > 0 {
                let h = c.upstream.get_or_init(|| {
                    let l = &c.labels;
                    let latency = LatencyLabels {
                        server: l.server.clone(),
                        method: l.method.clone(),
                    };
                    self.upstream_seconds.get_or_create(&latency).clone()
                });
                h.observe(r.upstream_micros as f64 / 1e6);
            }
        };
        if let Some(c) = self.call_cache.read().get(&key) {
            let l = &c.labels;
            if (&*l.server, &*l.method, &*l.tool, &*l.verdict, &*l.upstream)
                == (&*r.server, method, tool, verdict, upstream)
            {
                return record(c);
            }
        }
        let labels = CallLabels {
            server: r.server.to_string(),
            method: method.to_owned(),
            tool: tool.to_owned(),
            verdict: verdict.to_owned(),
            upstream: upstream.to_owned(),
        };
        let latency = LatencyLabels {
            server: labels.server.clone(),
            method: labels.method.clone(),
        };
        let c = CallHandles {
            calls: self.calls.get_or_create(&labels).clone(),
            gateway: self.gateway_seconds.get_or_create(&latency).clone(),
            upstream: OnceLock::new(),
            labels,
        };
        record(&c);
        // A colliding key keeps its first label set; the other takes this
        // path every time, still counted right.
        self.call_cache.write().entry(key).or_insert(c);
    }

    fn is_known_tool(&self, server: &str, tool: &str) -> bool {
        self.known_tools
            .read()
            .get(server)
            .is_some_and(|s| s.contains(tool))
    }

    /// Learns tool names from a server's `tools/list` answer.
    pub fn learn_tools<'a>(&self, server: &str, names: impl IntoIterator<Item = &'a str>) {
        let mut all = self.known_tools.write();
        let set = all.entry(server.to_owned()).or_default();
        for n in names {
            if set.len() >= MAX_TOOLS_PER_SERVER {
                break;
            }
            if !set.contains(n) {
                set.insert(n.to_owned());
            }
        }
    }

    /// A stdio upstream process started.
    pub fn process_started(&self, server: &str) {
        self.process_starts
            .get_or_create(&ServerLabels {
                server: server.to_owned(),
            })
            .inc();
    }

    /// A stdio upstream process exited without being asked to.
    pub fn process_crashed(&self, server: &str) {
        self.process_crashes
            .get_or_create(&ServerLabels {
                server: server.to_owned(),
            })
            .inc();
    }

    /// The counter store could not answer.
    pub fn limiter_error(&self) {
        self.limiter_errors.inc();
    }

    /// A request was refused at the edge.
    pub fn edge_refusal(&self, reason: &str) {
        self.edge_refusals
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// A policy reload happened (`result`: `ok` or `invalid`).
    pub fn policy_reload(&self, policy: &str, result: &str) {
        self.policy_reloads
            .get_or_create(&ReloadLabels {
                policy: policy.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    /// Sets the values read at scrape time.
    pub fn set_gauges(&self, sessions: usize, audit_queue: usize) {
        self.sessions_open
            .set(i64::try_from(sessions).unwrap_or(i64::MAX));
        self.audit_queue
            .set(i64::try_from(audit_queue).unwrap_or(i64::MAX));
    }

    /// Brings the audit counters up to the writer's totals.
    pub fn set_audit_totals(&self, committed: u64, failed_batches: u64) {
        let add = |c: &Counter, total: u64| {
            let now = c.get();
            if total > now {
                c.inc_by(total - now);
            }
        };
        add(&self.audit_records, committed);
        add(&self.audit_errors, failed_batches);
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

fn method_label(method: &str) -> &str {
    if KNOWN_METHODS.contains(&method) {
        method
    } else if method.starts_with("notifications/") {
        "notification"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::SystemTime;

    use super::*;
    use crate::pipeline::UpstreamOutcome;

    fn record(tool: &str, verdict: &'static str) -> AuditRecord {
        AuditRecord {
            time: SystemTime::UNIX_EPOCH,
            request_id: 1,
            grant: "g".into(),
            server: Arc::from("crm"),
            session: None,
            method: "tools/call".into(),
            target: Some(tool.into()),
            verdict,
            rule: None,
            policy_version: None,
            reason: None,
            upstream: UpstreamOutcome::Ok,
            gateway_micros: 40,
            upstream_micros: 2000,
            arguments: None,
        }
    }

    #[test]
    fn unknown_tool_names_do_not_become_labels() {
        let m = Metrics::new();
        m.learn_tools("crm", ["getLead"]);
        m.observe(&record("getLead", "allow"));
        m.observe(&record("x-attacker-chosen-1", "deny"));
        m.observe(&record("x-attacker-chosen-2", "deny"));
        let text = m.encode();
        assert!(text.contains(r#"tool="getLead""#), "{text}");
        assert!(!text.contains("attacker"), "{text}");
        assert!(text.contains(r#"toolgate_calls_total{server="crm",method="tools/call",tool="other",verdict="deny",upstream="ok"} 2"#), "{text}");
        assert!(
            text.contains("toolgate_gateway_overhead_seconds_bucket"),
            "{text}"
        );
    }

    #[test]
    fn decisions_of_one_kind_add_up_and_kinds_stay_apart() {
        let m = Metrics::new();
        m.learn_tools("crm", ["getLead", "createLead"]);
        for _ in 0..3 {
            m.observe(&record("getLead", "allow"));
        }
        m.observe(&record("createLead", "allow"));
        let mut denied = record("getLead", "deny");
        denied.upstream = UpstreamOutcome::NotForwarded;
        denied.upstream_micros = 0;
        m.observe(&denied);
        let mut other = record("getLead", "allow");
        other.method = "resources/read".into();
        m.observe(&other);
        let text = m.encode();
        for line in [
            r#"toolgate_calls_total{server="crm",method="tools/call",tool="getLead",verdict="allow",upstream="ok"} 3"#,
            r#"toolgate_calls_total{server="crm",method="tools/call",tool="createLead",verdict="allow",upstream="ok"} 1"#,
            r#"toolgate_calls_total{server="crm",method="tools/call",tool="getLead",verdict="deny",upstream="not_forwarded"} 1"#,
            r#"toolgate_calls_total{server="crm",method="resources/read",tool="",verdict="allow",upstream="ok"} 1"#,
            r#"toolgate_gateway_overhead_seconds_count{server="crm",method="tools/call"} 5"#,
            r#"toolgate_upstream_seconds_count{server="crm",method="tools/call"} 4"#,
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn a_method_that_never_forwards_shows_no_upstream_histogram() {
        let m = Metrics::new();
        let mut denied = record("getLead", "deny");
        denied.upstream = UpstreamOutcome::NotForwarded;
        denied.upstream_micros = 0;
        m.observe(&denied);
        m.observe(&denied);
        let text = m.encode();
        assert!(
            text.contains("toolgate_gateway_overhead_seconds_count"),
            "{text}"
        );
        assert!(!text.contains("toolgate_upstream_seconds_count"), "{text}");
    }
}
