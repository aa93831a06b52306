//! The comparison: the same load against the fixture directly, through
//! toolgate and through each installed peer, in interleaved rounds (round 1:
//! direct, toolgate, peers; round 2: the same again; …) so that whatever
//! else the machine does in the meantime lands on every target alike.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::client::caller::open_callers;
use crate::error::HarnessError;
use crate::gateway::{self, GatewayOptions};
use crate::load::{self, Ids, OpenLoop, Outcome};
use crate::memory::{self, MemoryOptions, MemoryReport};
use crate::peers::{Peer, PeerPaths, contextforge, hyper_proxy, mcp_proxy, nginx};
use crate::procfs;
use crate::report::{self, Report, Row, Settings, TargetInfo};
use crate::target::Target;

/// How load is applied at one level.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Level {
    /// `concurrency` callers back to back.
    Closed {
        /// Callers (connections), each with its own session.
        concurrency: usize,
    },
    /// A fixed rate through a pool of callers.
    Open {
        /// Calls per second.
        rate: f64,
        /// Callers (connections) in the pool.
        connections: usize,
    },
}

impl Level {
    /// How many callers the level uses.
    pub fn callers(&self) -> usize {
        match *self {
            Level::Closed { concurrency } => concurrency,
            Level::Open { connections, .. } => connections,
        }
    }

    /// A short label: `closed c=8`, `open 2000/s`.
    pub fn label(&self) -> String {
        match *self {
            Level::Closed { concurrency } => format!("closed loop, concurrency {concurrency}"),
            Level::Open { rate, connections } => {
                format!("open loop, {rate} calls/s over {connections} connections")
            }
        }
    }
}

/// Everything a comparison needs.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// The toolgate binary.
    pub toolgate: PathBuf,
    /// This program (started again as the fixture).
    pub exe: PathBuf,
    /// Rounds per level.
    pub rounds: u32,
    /// Length of one target's share of a round.
    pub duration: Duration,
    /// Unmeasured load on each target before the first round.
    pub warmup: Duration,
    /// The levels, in order.
    pub levels: Vec<Level>,
    /// Sessions per run (default: one per caller).
    pub sessions: Option<usize>,
    /// Peers to run when installed.
    pub peers: Vec<Peer>,
    /// Where the peers are.
    pub peer_paths: PeerPaths,
    /// The CPU of the servers; the generator's is recorded for the report.
    pub cpus: Option<(usize, usize)>,
    /// Audit to SQLite in the gateway.
    pub audit: bool,
    /// Also measure memory per session (a fresh gateway).
    pub memory: Option<MemoryOptions>,
}

impl CompareOptions {
    fn server_cpu(&self) -> Option<usize> {
        self.cpus.map(|(_, s)| s)
    }

    /// The gateway options these settings imply.
    pub fn gateway(&self) -> GatewayOptions {
        GatewayOptions {
            binary: self.toolgate.clone(),
            audit: self.audit,
            max_sessions: gateway::MAX_SESSIONS,
            cpu: self.server_cpu(),
        }
    }
}

/// One target's share of one round.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The run's outcome.
    pub outcome: Outcome,
    /// CPU ticks the target's process used during the run.
    pub cpu_ticks: Option<u64>,
    /// Of those, the ticks spent in the kernel (system time).
    pub kernel_ticks: Option<u64>,
    /// Of those, each thread name's ([`procfs::thread_ticks`], subtracted
    /// thread by thread in `thread_delta`), to tell the data path's runtime
    /// from the audit log's thread.
    pub thread_ticks: Option<BTreeMap<String, u64>>,
    /// CPU ticks the fixture used during the run (through a proxy).
    pub upstream_ticks: Option<u64>,
    /// CPU ticks the load generator (this process) used during the run:
    /// near a full core means the generator, not the target, was the limit.
    pub generator_ticks: Option<u64>,
}

impl Measured {
    /// A run that could not start: one error, nothing measured.
    pub fn failed(error: String) -> Self {
        Self {
            outcome: Outcome {
                errors: 1,
                error_samples: vec![error],
                ..Outcome::default()
            },
            cpu_ticks: None,
            kernel_ticks: None,
            thread_ticks: None,
            upstream_ticks: None,
            generator_ticks: None,
        }
    }
}

/// Runs `level` against `target` for `duration` with fresh connections
/// and sessions (opened before the clock starts).
pub async fn measure(
    target: &Target,
    upstream_pid: Option<u32>,
    level: Level,
    sessions: Option<usize>,
    duration: Duration,
    ids: &Ids,
) -> Result<Measured, HarnessError> {
    let callers = open_callers(
        target.endpoint.clone(),
        level.callers(),
        sessions.unwrap_or(level.callers()),
    )
    .await
    .map_err(|source| HarnessError::Client {
        target: target.name.clone(),
        source,
    })?;
    let ticks = |pid: Option<u32>| pid.and_then(|p| procfs::cpu_ticks(p).ok());
    let me = Some(std::process::id());
    let threads = || target.pid.and_then(|p| procfs::thread_ticks(p).ok());
    let (cpu0, up0, gen0) = (ticks(target.pid), ticks(upstream_pid), ticks(me));
    let threads0 = threads();
    let outcome = match level {
        Level::Closed { .. } => load::closed_loop(callers, duration, ids).await,
        Level::Open { rate, .. } => {
            let cfg = OpenLoop {
                rate,
                duration,
                grace: Duration::from_secs(10),
                spin: true,
            };
            load::open_loop(callers, cfg, ids).await?
        }
    };
    let (cpu1, up1, gen1) = (ticks(target.pid), ticks(upstream_pid), ticks(me));
    let threads1 = threads();
    // Ticks used between the two readings, by `part` (total or system).
    let delta =
        |a: Option<procfs::CpuTicks>,
         b: Option<procfs::CpuTicks>,
         part: fn(&procfs::CpuTicks) -> u64| { Some(part(&b?).saturating_sub(part(&a?))) };
    let total = procfs::CpuTicks::total;
    Ok(Measured {
        outcome,
        cpu_ticks: delta(cpu0, cpu1, total),
        kernel_ticks: delta(cpu0, cpu1, |t| t.stime),
        thread_ticks: thread_delta(threads0, threads1),
        upstream_ticks: delta(up0, up1, total),
        generator_ticks: delta(gen0, gen1, total),
    })
}

/// Each thread name's ticks between two readings of the threads, thread
/// by thread (one started since the first reading counts from zero; one
/// that ended before the second is not counted, so the names' sum may fall
/// short of the process's figure).
fn thread_delta(
    before: Option<BTreeMap<u32, (String, u64)>>,
    after: Option<BTreeMap<u32, (String, u64)>>,
) -> Option<BTreeMap<String, u64>> {
    let before = before?;
    let mut by_name = BTreeMap::new();
    for (tid, (name, t)) in after? {
        let was = before.get(&tid).map_or(0, |(_, t)| *t);
        *by_name.entry(name).or_insert(0) += t.saturating_sub(was);
    }
    Some(by_name)
}

/// Starts the peers asked for; a missing or failing one becomes a note.
async fn start_peers(
    opts: &CompareOptions,
    direct: &Target,
    notes: &mut Vec<String>,
) -> Vec<Target> {
    let mut peers = Vec::new();
    for &peer in &opts.peers {
        let started = match peer {
            Peer::Nginx => match nginx::find(opts.peer_paths.nginx.as_deref()) {
                Some(bin) => {
                    Some(nginx::start(&bin, direct.endpoint.addr(), opts.server_cpu()).await)
                }
                None => None,
            },
            Peer::Hyper => {
                Some(hyper_proxy::start(&opts.exe, direct.endpoint.addr(), opts.server_cpu()).await)
            }
            Peer::McpProxy => match mcp_proxy::find(opts.peer_paths.mcp_proxy.as_deref()) {
                Some(bin) => Some(mcp_proxy::start(&bin, &opts.exe, opts.server_cpu()).await),
                None => None,
            },
            Peer::ContextForge => {
                match contextforge::find(opts.peer_paths.contextforge.as_deref()) {
                    Some(bin) => Some(
                        contextforge::start(&bin, &direct.endpoint.url(), opts.server_cpu()).await,
                    ),
                    None => None,
                }
            }
        };
        match started {
            None => notes.push(format!("peer {}: not installed", peer.name())),
            Some(Err(e)) => notes.push(format!("peer {}: failed to start: {e}", peer.name())),
            Some(Ok(mut t)) => {
                if peer.fronts_the_http_fixture() {
                    t.upstream_pid = direct.pid;
                }
                peers.push(t);
            }
        }
    }
    peers
}

/// Runs the whole comparison; `progress` gets a line per run.
pub async fn run(opts: &CompareOptions, progress: &dyn Fn(&str)) -> Result<Report, HarnessError> {
    if opts.levels.is_empty() || opts.rounds == 0 {
        return Err(HarnessError::Usage(
            "nothing to run: no levels or no rounds".into(),
        ));
    }
    let direct = crate::fixture::start_process(&opts.exe, opts.server_cpu()).await?;
    let fixture_pid = direct.pid;
    let mut notes = Vec::new();
    let mut targets = vec![direct];
    match gateway::start(&opts.gateway(), &targets[0].endpoint.url()).await {
        Ok(mut t) => {
            t.upstream_pid = fixture_pid;
            targets.push(t);
        }
        Err(e) => {
            stop_all(targets).await;
            return Err(e);
        }
    }
    let peers = start_peers(opts, &targets[0], &mut notes).await;
    targets.extend(peers);
    for n in &notes {
        progress(n);
    }
    let rows = rounds(opts, &targets, progress).await;
    let infos: Vec<TargetInfo> = targets.iter().map(TargetInfo::of).collect();
    let fixture_url = targets[0].endpoint.url();
    let memory = match &opts.memory {
        Some(m) => match memory_run(opts, m, &fixture_url, progress).await {
            Ok(r) => Some(r),
            Err(e) => {
                notes.push(format!("memory: {e}"));
                None
            }
        },
        None => None,
    };
    stop_all(targets).await;
    Ok(report::build(settings(opts), infos, notes, rows, memory))
}

async fn memory_run(
    opts: &CompareOptions,
    m: &MemoryOptions,
    fixture_url: &str,
    progress: &dyn Fn(&str),
) -> Result<MemoryReport, HarnessError> {
    progress(&format!(
        "memory: a fresh toolgate, then {} sessions",
        m.sessions
    ));
    let gw = gateway::start(&opts.gateway(), fixture_url).await?;
    let r = memory::measure(&gw, m).await;
    gw.stop().await;
    r
}

fn settings(opts: &CompareOptions) -> Settings {
    Settings {
        rounds: opts.rounds,
        seconds_per_run: opts.duration.as_secs_f64(),
        warmup_seconds: opts.warmup.as_secs_f64(),
        levels: opts.levels.clone(),
        sessions: opts.sessions,
        pinning: opts.cpus,
        audit: opts.audit,
        ticks_per_second: procfs::ticks_per_second(),
    }
}

async fn rounds(opts: &CompareOptions, targets: &[Target], progress: &dyn Fn(&str)) -> Vec<Row> {
    let ids = Ids::default();
    let warm = Level::Closed { concurrency: 1 };
    for t in targets {
        if !opts.warmup.is_zero()
            && let Err(e) = measure(t, None, warm, None, opts.warmup, &ids).await
        {
            progress(&format!("warm-up of {}: {e}", t.name));
        }
    }
    let mut rows: Vec<Row> = Vec::new();
    for &level in &opts.levels {
        let mut per_target: Vec<Vec<Measured>> = vec![Vec::new(); targets.len()];
        for round in 1..=opts.rounds {
            for (i, t) in targets.iter().enumerate() {
                // A target that cannot even open its sessions gets a failed
                // run on the record; the other targets go on.
                let m = measure(t, t.upstream_pid, level, opts.sessions, opts.duration, &ids)
                    .await
                    .unwrap_or_else(|e| Measured::failed(e.to_string()));
                progress(&format!(
                    "{} round {round}/{}: {:<10} {:>9.0} calls/s, {} errors",
                    level.label(),
                    opts.rounds,
                    t.name,
                    m.outcome.throughput(),
                    m.outcome.errors
                ));
                per_target[i].push(m);
            }
        }
        for (t, runs) in targets.iter().zip(per_target) {
            rows.push(Row::aggregate(
                &t.name,
                level,
                &runs,
                procfs::ticks_per_second(),
            ));
        }
    }
    rows
}

async fn stop_all(targets: Vec<Target>) {
    // Proxies first, the fixture they front last.
    for t in targets.into_iter().rev() {
        t.stop().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_ticks_are_charged_thread_by_thread_then_by_name() {
        let threads = |list: &[(u32, &str, u64)]| {
            Some(
                list.iter()
                    .map(|&(tid, name, t)| (tid, (name.to_owned(), t)))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        // Worker 11 ended during the run and 12 started: a sum by name
        // taken before subtracting would have gone down (30 -> 5).
        let before = threads(&[(1, "toolgate", 100), (10, "worker", 20), (11, "worker", 10)]);
        let after = threads(&[(1, "toolgate", 160), (10, "worker", 25), (12, "worker", 4)]);
        let delta = thread_delta(before, after).unwrap();
        assert_eq!(
            delta,
            BTreeMap::from([("toolgate".to_owned(), 60), ("worker".to_owned(), 9)])
        );
        assert_eq!(thread_delta(None, threads(&[(1, "x", 1)])), None);
    }
}
