//! What a comparison found: per target and level, the merged rounds; per
//! proxy, the ratios to direct and to the stack's floor; memory; and the
//! budget lines. Printed as a table for people or serialized with `--json`
//! for machines.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::budget::{self, BudgetLine};
use crate::compare::{Level, Measured};
use crate::histogram::{Summary, micros};
use crate::load::Outcome;
use crate::memory::MemoryReport;
use crate::target::Target;

/// How the run was set up.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    /// Rounds per level.
    pub rounds: u32,
    /// Seconds per target per round.
    pub seconds_per_run: f64,
    /// Seconds of unmeasured load per target first.
    pub warmup_seconds: f64,
    /// The levels.
    pub levels: Vec<Level>,
    /// Sessions per run, if not one per caller.
    pub sessions: Option<usize>,
    /// (generator CPU, servers' CPU), if pinned.
    pub pinning: Option<(usize, usize)>,
    /// Whether the gateway audited to SQLite.
    pub audit: bool,
    /// `CLK_TCK`: the resolution of the CPU figures.
    pub ticks_per_second: u64,
}

/// A target as the report names it.
#[derive(Clone, Debug, Serialize)]
pub struct TargetInfo {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// What it is.
    pub note: String,
}

impl TargetInfo {
    /// The report's view of `t`.
    pub fn of(t: &Target) -> Self {
        Self {
            name: t.name.clone(),
            url: t.endpoint.url(),
            note: t.note.clone(),
        }
    }
}

/// One round's headline figures, to show the spread between rounds.
#[derive(Clone, Debug, Serialize)]
pub struct RoundFigures {
    /// Calls per second.
    pub throughput: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// Failed calls.
    pub errors: u64,
}

/// One target at one level, every round merged.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The target.
    pub target: String,
    /// The level.
    pub level: Level,
    /// Successful calls per second (all rounds' calls over all rounds' time).
    pub throughput: f64,
    /// Latency percentiles of successful calls.
    pub latency: Summary,
    /// Successful calls.
    pub ok: u64,
    /// Failed calls.
    pub errors: u64,
    /// A few of the errors.
    pub error_samples: Vec<String>,
    /// CPU time of the target's process per successful call, µs.
    pub cpu_us_per_call: Option<f64>,
    /// Of that, the time in the kernel (system calls, the network stack,
    /// wake-ups), µs: what a proxy cannot save by doing less itself.
    pub kernel_us_per_call: Option<f64>,
    /// `cpu_us_per_call` split by thread name (the SQLite audit thread
    /// apart from the runtime's), µs; empty when not read.
    pub cpu_us_per_call_by_thread: BTreeMap<String, f64>,
    /// CPU time of the fixture behind it per successful call, µs.
    pub upstream_cpu_us_per_call: Option<f64>,
    /// The load generator's CPU time over the runs' time (1.0: a full
    /// core, so the generator may have been the limit; an open-loop sender
    /// yields instead of sleeping, so there it is always high).
    pub generator_cpu_share: Option<f64>,
    /// Open loop: how late the sender itself sent calls (p99, µs); it
    /// should be far below the latencies it measures.
    pub send_lag_p99_us: Option<f64>,
    /// Each round.
    pub rounds: Vec<RoundFigures>,
}

impl Row {
    /// Merges the rounds of one target at one level.
    pub fn aggregate(target: &str, level: Level, runs: &[Measured], ticks_per_second: u64) -> Self {
        let mut total = Outcome::default();
        let mut rounds = Vec::new();
        for m in runs {
            total.merge(&m.outcome);
            let mut lat = m.outcome.latencies.clone();
            let s = lat.summary();
            rounds.push(RoundFigures {
                throughput: m.outcome.throughput(),
                p50_us: s.p50_us,
                p99_us: s.p99_us,
                errors: m.outcome.errors,
            });
        }
        let per_call = |ticks: Option<u64>| {
            let us = ticks? as f64 * 1e6 / ticks_per_second.max(1) as f64;
            (total.ok > 0).then(|| us / total.ok as f64)
        };
        let sum = |f: fn(&Measured) -> Option<u64>| runs.iter().map(f).sum::<Option<u64>>();
        Self {
            target: target.to_owned(),
            level,
            throughput: total.throughput(),
            latency: total.latencies.summary(),
            ok: total.ok,
            errors: total.errors,
            error_samples: total.error_samples.clone(),
            cpu_us_per_call: per_call(sum(|m| m.cpu_ticks)),
            kernel_us_per_call: per_call(sum(|m| m.kernel_ticks)),
            cpu_us_per_call_by_thread: by_thread(runs)
                .into_iter()
                .filter_map(|(name, t)| Some((name, per_call(Some(t))?)))
                .collect(),
            upstream_cpu_us_per_call: per_call(sum(|m| m.upstream_ticks)),
            send_lag_p99_us: (total.send_lag.count() > 0)
                .then(|| micros(total.send_lag.quantile(0.99))),
            generator_cpu_share: sum(|m| m.generator_ticks).and_then(|t| {
                let secs = total.elapsed.as_secs_f64();
                (secs > 0.0).then(|| t as f64 / ticks_per_second.max(1) as f64 / secs)
            }),
            rounds,
        }
    }
}

/// A proxy against a baseline (direct, or the stack's floor), at one level.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    /// The proxy.
    pub target: String,
    /// What it is measured against.
    pub baseline: String,
    /// The level.
    pub level: Level,
    /// Its throughput over the baseline's.
    pub throughput_ratio: f64,
    /// Its p50 minus the baseline's, µs.
    pub added_p50_us: f64,
    /// Its p99 minus the baseline's, µs.
    pub added_p99_us: f64,
    /// Its CPU per call, µs.
    pub cpu_us_per_call: Option<f64>,
    /// Its CPU per call minus the baseline's, µs.
    pub added_cpu_us_per_call: Option<f64>,
}

/// Everything a comparison found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The setup.
    pub settings: Settings,
    /// What was measured.
    pub targets: Vec<TargetInfo>,
    /// Peers not installed or not started, and the like.
    pub notes: Vec<String>,
    /// Per target and level.
    pub rows: Vec<Row>,
    /// Per proxy and level, against direct.
    pub ratios: Vec<Ratio>,
    /// Per proxy and level, against the stack's floor ([`FLOOR`]), when
    /// it ran: what each adds beyond a proxy on the same parts that does
    /// no work, which moves far less from sitting to sitting than direct.
    pub floor: Vec<Ratio>,
    /// Memory per session, if measured.
    pub memory: Option<MemoryReport>,
    /// The budget, line by line.
    pub budget: Vec<BudgetLine>,
}

/// Computes the ratios and the budget and assembles the report.
pub fn build(
    settings: Settings,
    targets: Vec<TargetInfo>,
    notes: Vec<String>,
    rows: Vec<Row>,
    memory: Option<MemoryReport>,
) -> Report {
    let ratios = against(&rows, DIRECT);
    let floor = against(&rows, FLOOR);
    let budget = budget::evaluate(&rows, &ratios, memory.as_ref());
    Report {
        settings,
        targets,
        notes,
        rows,
        ratios,
        floor,
        memory,
        budget,
    }
}

/// The target every proxy is measured against.
const DIRECT: &str = "direct";
/// The `hyper` peer: tokio and hyper forwarding bytes, nothing else.
const FLOOR: &str = "hyper";

/// Every proxy but `baseline` against `baseline`, level by level (none if
/// `baseline` did not run). Direct is no proxy, so never one of them.
fn against(rows: &[Row], baseline: &str) -> Vec<Ratio> {
    let mut out = Vec::new();
    for base in rows.iter().filter(|r| r.target == baseline) {
        for r in rows
            .iter()
            .filter(|r| r.level == base.level && r.target != baseline && r.target != DIRECT)
        {
            out.push(Ratio {
                target: r.target.clone(),
                baseline: baseline.to_owned(),
                level: r.level,
                throughput_ratio: if base.throughput > 0.0 {
                    r.throughput / base.throughput
                } else {
                    0.0
                },
                added_p50_us: r.latency.p50_us - base.latency.p50_us,
                added_p99_us: r.latency.p99_us - base.latency.p99_us,
                cpu_us_per_call: r.cpu_us_per_call,
                added_cpu_us_per_call: r
                    .cpu_us_per_call
                    .zip(base.cpu_us_per_call)
                    .map(|(t, b)| t - b),
            });
        }
    }
    out
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

/// Each thread name's ticks over all `runs`; empty unless every run read
/// them (a partial sum would be charged to every call).
fn by_thread(runs: &[Measured]) -> BTreeMap<String, u64> {
    let mut sum = BTreeMap::new();
    for m in runs {
        let Some(threads) = &m.thread_ticks else {
            return BTreeMap::new();
        };
        for (name, t) in threads {
            *sum.entry(name.clone()).or_insert(0) += t;
        }
    }
    sum
}

/// `by thread: a 60.1, b 9.8 µs/call`, busiest first; `None` for a
/// process with one thread (its figure is the row's).
pub fn thread_line(row: &Row) -> Option<String> {
    let mut threads: Vec<_> = row
        .cpu_us_per_call_by_thread
        .iter()
        .filter(|&(_, &us)| us > 0.0)
        .collect();
    if threads.len() < 2 {
        return None;
    }
    threads.sort_by(|a, b| b.1.total_cmp(a.1));
    let list: Vec<String> = threads
        .iter()
        .map(|(name, us)| format!("{name} {us:.1}"))
        .collect();
    Some(format!("by thread: {} µs/call", list.join(", ")))
}

/// The report as text tables.
pub fn table(report: &Report) -> String {
    let mut s = String::new();
    let st = &report.settings;
    let pin = match st.pinning {
        Some((g, sv)) => format!("generator on CPU {g}, servers on CPU {sv}"),
        None => "not pinned".into(),
    };
    let _ = writeln!(
        s,
        "toolgate-load compare: {} rounds x {:.1} s per target and level; {pin}; audit {}",
        st.rounds,
        st.seconds_per_run,
        if st.audit { "sqlite" } else { "none" }
    );
    for t in &report.targets {
        let _ = writeln!(s, "  {:<12} {}  ({})", t.name, t.url, t.note);
    }
    for n in &report.notes {
        let _ = writeln!(s, "  {n}");
    }
    let _ = writeln!(
        s,
        "CPU µs/call: the target process's user+system time per successful call; kernel: the \
         system part of it; upstream: the fixture's behind it; gen CPU: the load generator's \
         share of its core (near 100%: it, not the target, may be the limit)"
    );
    let mut levels: Vec<Level> = Vec::new();
    for r in &report.rows {
        if !levels.contains(&r.level) {
            levels.push(r.level);
        }
    }
    for level in levels {
        level_table(&mut s, report, level);
    }
    if let Some(m) = &report.memory {
        let _ = writeln!(s, "\n{}", m.line());
    }
    let _ = writeln!(s, "\nbudget (issue 7)");
    for b in &report.budget {
        let _ = writeln!(s, "  {b}");
    }
    s
}

fn level_table(s: &mut String, report: &Report, level: Level) {
    let _ = writeln!(s, "\n{}", level.label());
    let _ = writeln!(
        s,
        "{:<12} {:>10} {:>8} {:>8} {:>8} {:>9} {:>7} {:>11} {:>7} {:>10} {:>8}",
        "target",
        "calls/s",
        "p50 µs",
        "p90 µs",
        "p99 µs",
        "max µs",
        "errors",
        "CPU µs/call",
        "kernel",
        "upstream",
        "gen CPU"
    );
    for r in report.rows.iter().filter(|r| r.level == level) {
        let l = &r.latency;
        let _ = writeln!(
            s,
            "{:<12} {:>10.0} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>7} {:>11} {:>7} {:>10} {:>8}",
            r.target,
            r.throughput,
            l.p50_us,
            l.p90_us,
            l.p99_us,
            l.max_us,
            r.errors,
            opt(r.cpu_us_per_call),
            opt(r.kernel_us_per_call),
            opt(r.upstream_cpu_us_per_call),
            r.generator_cpu_share
                .map_or_else(|| "-".into(), |g| format!("{:.0}%", g * 100.0))
        );
        if let Some(lag) = r.send_lag_p99_us {
            let _ = writeln!(s, "             sender lag p99: {lag:.1} µs");
        }
        if let Some(line) = thread_line(r) {
            let _ = writeln!(s, "             {line}");
        }
        for e in &r.error_samples {
            let _ = writeln!(s, "             error: {e}");
        }
    }
    // Against direct, a proxy's own CPU (direct spends none of a
    // proxy's); against the floor, what it spends beyond the floor's.
    let columns = ("vs direct", "CPU µs/call");
    ratio_table(s, columns, &report.ratios, level, |r| r.cpu_us_per_call);
    let columns = ("vs floor", "+CPU µs/call");
    ratio_table(s, columns, &report.floor, level, |r| {
        r.added_cpu_us_per_call
    });
}

/// One block of ratios at `level`, titled `(title, CPU column's title)`;
/// `cpu` picks the CPU column's figure.
fn ratio_table(
    s: &mut String,
    (title, cpu_title): (&str, &str),
    ratios: &[Ratio],
    level: Level,
    cpu: fn(&Ratio) -> Option<f64>,
) {
    let ratios: Vec<&Ratio> = ratios.iter().filter(|r| r.level == level).collect();
    if ratios.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "{:<12} {:>10} {:>8} {:>8} {:>12}",
        title, "throughput", "+p50 µs", "+p99 µs", cpu_title
    );
    for r in ratios {
        let _ = writeln!(
            s,
            "{:<12} {:>9.2}x {:>8.1} {:>8.1} {:>12}",
            r.target,
            r.throughput_ratio,
            r.added_p50_us,
            r.added_p99_us,
            opt(cpu(r))
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn measured(calls: u64, cpu: u64, kernel: Option<u64>) -> Measured {
        Measured {
            outcome: Outcome {
                ok: calls,
                elapsed: Duration::from_secs(1),
                ..Outcome::default()
            },
            cpu_ticks: Some(cpu),
            kernel_ticks: kernel,
            thread_ticks: None,
            upstream_ticks: None,
            generator_ticks: None,
        }
    }

    #[test]
    fn kernel_time_is_charged_per_call_over_every_round() {
        // Ticks are microseconds here: 30 + 10 µs of kernel over 4 calls.
        let runs = [measured(1, 50, Some(30)), measured(3, 70, Some(10))];
        let row = Row::aggregate(
            "toolgate",
            Level::Closed { concurrency: 1 },
            &runs,
            1_000_000,
        );
        assert_eq!(row.cpu_us_per_call, Some(30.0));
        assert_eq!(row.kernel_us_per_call, Some(10.0));
        let text = table(&build(settings(), Vec::new(), Vec::new(), vec![row], None));
        assert!(
            text.lines()
                .any(|l| l.starts_with("toolgate") && l.contains(" 30.0 ") && l.contains(" 10.0 ")),
            "{text}"
        );
    }

    #[test]
    fn cpu_is_split_by_thread_over_every_round() {
        let threads = |rt: u64, audit: u64| {
            Some(BTreeMap::from([
                ("toolgate".to_owned(), rt),
                ("toolgate-audit-".to_owned(), audit),
            ]))
        };
        let mut runs = [measured(1, 50, None), measured(3, 70, None)];
        runs[0].thread_ticks = threads(40, 10);
        runs[1].thread_ticks = threads(60, 10);
        let row = Row::aggregate(
            "toolgate",
            Level::Closed { concurrency: 8 },
            &runs,
            1_000_000,
        );
        let split = &row.cpu_us_per_call_by_thread;
        assert_eq!(split.get("toolgate"), Some(&25.0));
        assert_eq!(split.get("toolgate-audit-"), Some(&5.0));
        assert_eq!(
            thread_line(&row).as_deref(),
            Some("by thread: toolgate 25.0, toolgate-audit- 5.0 µs/call")
        );
        let text = table(&build(settings(), Vec::new(), Vec::new(), vec![row], None));
        assert!(
            text.contains("             by thread: toolgate 25.0"),
            "{text}"
        );
        // A round that could not read its threads: no split at all.
        runs[1].thread_ticks = None;
        let row = Row::aggregate("t", Level::Closed { concurrency: 8 }, &runs, 1_000_000);
        assert!(row.cpu_us_per_call_by_thread.is_empty());
        assert_eq!(thread_line(&row), None);
    }

    #[test]
    fn a_round_without_kernel_time_leaves_the_figure_out() {
        let runs = [measured(1, 50, Some(30)), measured(1, 50, None)];
        let row = Row::aggregate(
            "toolgate",
            Level::Closed { concurrency: 1 },
            &runs,
            1_000_000,
        );
        assert_eq!(row.kernel_us_per_call, None);
    }

    fn row(target: &str, calls: u64, cpu: u64) -> Row {
        Row::aggregate(
            target,
            Level::Closed { concurrency: 8 },
            &[measured(calls, cpu, None)],
            1_000_000,
        )
    }

    #[test]
    fn proxies_are_set_against_direct_and_against_the_floor() {
        // Ticks are microseconds: per call, direct 10 µs, hyper 20, toolgate 45.
        let rows = vec![
            row("direct", 100, 1_000),
            row("hyper", 40, 800),
            row("toolgate", 20, 900),
        ];
        let report = build(settings(), Vec::new(), Vec::new(), rows, None);
        let names = |v: &[Ratio]| {
            v.iter()
                .map(|r| (r.target.clone(), r.baseline.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&report.ratios),
            [
                ("hyper".into(), "direct".into()),
                ("toolgate".into(), "direct".into())
            ]
        );
        assert_eq!(names(&report.floor), [("toolgate".into(), "hyper".into())]);
        let tg = &report.floor[0];
        assert_eq!(tg.throughput_ratio, 0.5);
        assert_eq!(tg.cpu_us_per_call, Some(45.0));
        assert_eq!(tg.added_cpu_us_per_call, Some(25.0));
        let text = table(&report);
        let line = |title: &str| {
            let at = text
                .find(title)
                .unwrap_or_else(|| panic!("{title}: {text}"));
            text[at..].lines().nth(1).unwrap_or_default().to_owned()
        };
        assert!(line("vs direct").contains(" 0.40x "), "{text}");
        let floor = line("vs floor");
        assert!(
            floor.starts_with("toolgate") && floor.contains(" 0.50x "),
            "{text}"
        );
        assert!(floor.ends_with(" 25.0"), "{text}");
    }

    #[test]
    fn without_the_floor_peer_there_is_no_floor_block() {
        let rows = vec![row("direct", 100, 1_000), row("toolgate", 20, 900)];
        let report = build(settings(), Vec::new(), Vec::new(), rows, None);
        assert!(report.floor.is_empty());
        assert!(!table(&report).contains("vs floor"));
    }

    fn settings() -> Settings {
        Settings {
            rounds: 2,
            seconds_per_run: 1.0,
            warmup_seconds: 0.0,
            levels: vec![Level::Closed { concurrency: 1 }],
            sessions: None,
            pinning: None,
            audit: true,
            ticks_per_second: 1_000_000,
        }
    }
}
