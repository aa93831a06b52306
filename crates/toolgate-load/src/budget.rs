//! The performance budget of issue 7, checked line by line against a
//! report. It only prints verdicts: no test fails on a time.

use std::fmt;

use serde::Serialize;

use crate::compare::Level;
use crate::memory::MemoryReport;
use crate::report::{Ratio, Row};

/// Added p50 at concurrency 1, µs.
pub const ADDED_P50_US: f64 = 60.0;
/// Added p99 at concurrency 1, µs.
pub const ADDED_P99_US: f64 = 300.0;
/// Throughput at concurrency 8 over direct.
pub const THROUGHPUT_RATIO: f64 = 0.5;
/// CPU per `tools/call`, µs.
pub const CPU_US_PER_CALL: f64 = 40.0;
/// Idle RSS, bytes.
pub const IDLE_RSS_BYTES: u64 = 20 << 20;
/// RSS per session at 10,000 sessions, bytes.
pub const BYTES_PER_SESSION: f64 = 64.0 * 1024.0;
/// What the issue quotes mcp-proxy as adding (µs), when it is not measured.
pub const MCP_PROXY_ADDED_US: f64 = 700.0;
/// What the issue quotes ContextForge as adding (µs).
pub const CONTEXTFORGE_ADDED_US: f64 = 50_000.0;
/// How many times less than those peers toolgate should add.
pub const PEER_FACTOR: f64 = 10.0;

/// Whether a line holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within budget.
    Pass,
    /// Over budget.
    Fail,
    /// The run did not measure it.
    NotMeasured,
    /// Measured, but the noise floor is above the budget: a p99 difference
    /// of a few hundred µs cannot be read when direct's own p99 is higher.
    Inconclusive,
}

/// One budget line.
#[derive(Clone, Debug, Serialize)]
pub struct BudgetLine {
    /// What is required.
    pub requirement: String,
    /// What was measured.
    pub measured: String,
    /// Whether it holds.
    pub verdict: Verdict,
}

impl fmt::Display for BudgetLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = match self.verdict {
            Verdict::Pass => "PASS ",
            Verdict::Fail => "FAIL ",
            Verdict::NotMeasured => "n/a  ",
            Verdict::Inconclusive => "NOISY",
        };
        write!(f, "{v}  {}: {}", self.requirement, self.measured)
    }
}

fn line(requirement: &str, measured: Option<(String, bool)>) -> BudgetLine {
    let (measured, verdict) = match measured {
        Some((m, true)) => (m, Verdict::Pass),
        Some((m, false)) => (m, Verdict::Fail),
        None => ("not measured".into(), Verdict::NotMeasured),
    };
    BudgetLine {
        requirement: requirement.to_owned(),
        measured,
        verdict,
    }
}

const fn closed(concurrency: usize) -> Level {
    Level::Closed { concurrency }
}

/// Checks every line the report can speak to.
pub fn evaluate(rows: &[Row], ratios: &[Ratio], memory: Option<&MemoryReport>) -> Vec<BudgetLine> {
    let ratio = |target: &str, level: Level| {
        ratios
            .iter()
            .find(|r| r.target == target && r.level == level)
    };
    let row =
        |target: &str, level: Level| rows.iter().find(|r| r.target == target && r.level == level);
    let tg1 = ratio("toolgate", closed(1));
    let tg8 = ratio("toolgate", closed(8));
    let mut out = vec![
        line(
            "added p50 at concurrency 1 <= 60 µs",
            tg1.map(|r| {
                (
                    format!("{:.1} µs", r.added_p50_us),
                    r.added_p50_us <= ADDED_P50_US,
                )
            }),
        ),
        p99_line(tg1, row("direct", closed(1))),
        line(
            "throughput at concurrency 8 >= 0.5x direct",
            tg8.map(|r| {
                (
                    format!("{:.2}x", r.throughput_ratio),
                    r.throughput_ratio >= THROUGHPUT_RATIO,
                )
            }),
        ),
    ];
    let vs_nginx = row("toolgate", closed(8)).zip(row("nginx", closed(8)));
    out.push(line(
        "throughput at concurrency 8 >= nginx's",
        vs_nginx.map(|(t, n)| {
            (
                format!("{:.0} vs {:.0} calls/s", t.throughput, n.throughput),
                t.throughput >= n.throughput,
            )
        }),
    ));
    // CPU per call at the busiest closed level (the least idle overhead).
    let busiest = rows
        .iter()
        .filter(|r| r.target == "toolgate" && matches!(r.level, Level::Closed { .. }))
        .max_by_key(|r| r.level.callers());
    out.push(line(
        "CPU per tools/call <= 40 µs",
        busiest.and_then(|r| {
            let cpu = r.cpu_us_per_call?;
            Some((
                format!("{cpu:.1} µs (concurrency {})", r.level.callers()),
                cpu <= CPU_US_PER_CALL,
            ))
        }),
    ));
    out.extend(memory_lines(memory));
    out.extend(peer_lines(tg1, ratios));
    out
}

/// Added p99 at concurrency 1, read only when direct's own p99 is within
/// the budget (otherwise the machine's noise is larger than what is judged).
fn p99_line(tg1: Option<&Ratio>, direct: Option<&Row>) -> BudgetLine {
    let mut l = line(
        "added p99 at concurrency 1 <= 300 µs",
        tg1.map(|r| {
            (
                format!("{:.1} µs", r.added_p99_us),
                r.added_p99_us <= ADDED_P99_US,
            )
        }),
    );
    if let Some(d) = direct
        && l.verdict != Verdict::NotMeasured
    {
        l.measured
            .push_str(&format!(" (direct's own p99: {:.1} µs)", d.latency.p99_us));
        if d.latency.p99_us > ADDED_P99_US {
            l.verdict = Verdict::Inconclusive;
        }
    }
    l
}

fn memory_lines(memory: Option<&MemoryReport>) -> [BudgetLine; 2] {
    [
        line(
            "RSS idle < 20 MiB",
            memory.map(|m| {
                (
                    format!("{:.1} MiB", m.idle_rss_bytes as f64 / 1048576.0),
                    m.idle_rss_bytes < IDLE_RSS_BYTES,
                )
            }),
        ),
        line(
            "< 64 KiB per session at 10,000 sessions",
            memory.map(|m| {
                (
                    format!(
                        "{:.1} KiB ({} sessions)",
                        m.bytes_per_session / 1024.0,
                        m.sessions_opened
                    ),
                    m.bytes_per_session < BYTES_PER_SESSION && m.sessions_opened >= 10_000,
                )
            }),
        ),
    ]
}

fn peer_lines(tg1: Option<&Ratio>, ratios: &[Ratio]) -> [BudgetLine; 2] {
    let at_one = |peer: &str| {
        ratios
            .iter()
            .find(|r| r.target == peer && r.level == closed(1))
    };
    [
        vs_peer("mcp-proxy", tg1, at_one("mcp-proxy"), MCP_PROXY_ADDED_US),
        vs_peer(
            "ContextForge",
            tg1,
            at_one("contextforge"),
            CONTEXTFORGE_ADDED_US,
        ),
    ]
}

/// toolgate's added p50 at concurrency 1 against a tenth of a peer's:
/// measured in this run when it was, else the figure the issue quotes.
fn vs_peer(
    peer: &str,
    tg1: Option<&Ratio>,
    measured: Option<&Ratio>,
    quoted_us: f64,
) -> BudgetLine {
    let (peer_us, source) = match measured {
        Some(r) => (r.added_p50_us, "measured"),
        None => (quoted_us, "the issue's figure"),
    };
    line(
        &format!("added p50 at concurrency 1 <= {peer}'s / 10 ({peer_us:.0} µs, {source})"),
        tg1.map(|r| {
            (
                format!(
                    "{:.1} µs, {:.1}x less",
                    r.added_p50_us,
                    peer_us / r.added_p50_us.max(0.1)
                ),
                r.added_p50_us * PEER_FACTOR <= peer_us,
            )
        }),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::compare::Measured;
    use crate::load::Outcome;
    use crate::report;

    /// A row of `calls` calls of `latency_us` each over one second, the
    /// process using `cpu_us` per call (ticks are microseconds here).
    fn row(target: &str, concurrency: usize, calls: u64, latency_us: u64, cpu_us: u64) -> Row {
        let mut outcome = Outcome {
            ok: calls,
            elapsed: Duration::from_secs(1),
            ..Outcome::default()
        };
        for _ in 0..calls {
            outcome.latencies.record(Duration::from_micros(latency_us));
        }
        let m = Measured {
            outcome,
            cpu_ticks: Some(calls * cpu_us),
            kernel_ticks: None,
            thread_ticks: None,
            upstream_ticks: None,
            generator_ticks: None,
        };
        Row::aggregate(target, closed(concurrency), &[m], 1_000_000)
    }

    fn verdicts(rows: Vec<Row>) -> Vec<Verdict> {
        let settings = report::Settings {
            rounds: 1,
            seconds_per_run: 1.0,
            warmup_seconds: 0.0,
            levels: vec![closed(1), closed(8)],
            sessions: None,
            pinning: None,
            audit: true,
            ticks_per_second: 100,
        };
        let r = report::build(settings, Vec::new(), Vec::new(), rows, None);
        r.budget.iter().map(|b| b.verdict).collect()
    }

    #[test]
    fn each_line_reads_its_own_figures() {
        use Verdict::{Fail, NotMeasured, Pass};
        let v = verdicts(vec![
            row("direct", 1, 100, 50, 10),
            row("toolgate", 1, 90, 100, 50), // +50 µs p50 and p99
            row("direct", 8, 1_000, 80, 10),
            row("toolgate", 8, 400, 200, 30), // 0.4x, 30 µs CPU
        ]);
        assert_eq!(
            v,
            [
                Pass,
                Pass,
                Fail,
                NotMeasured,
                Pass,
                NotMeasured,
                NotMeasured,
                Pass,
                Pass
            ]
        );
    }

    #[test]
    fn peers_measured_in_the_run_replace_the_quoted_figures() {
        let v = verdicts(vec![
            row("direct", 1, 100, 50, 10),
            row("toolgate", 1, 90, 150, 50),  // +100 µs
            row("mcp-proxy", 1, 10, 550, 50), // +500 µs: only 5x
            row("direct", 8, 1_000, 80, 10),
            row("toolgate", 8, 600, 200, 50),
            row("nginx", 8, 900, 100, 10),
        ]);
        assert_eq!(v[0], Verdict::Fail); // 100 > 60
        assert_eq!(v[2], Verdict::Pass); // 0.6x
        assert_eq!(v[3], Verdict::Fail); // 600 < 900 calls/s
        assert_eq!(v[4], Verdict::Fail); // 50 µs CPU
        assert_eq!(v[7], Verdict::Fail); // mcp-proxy adds only 5x more
    }
}
