//! Commands and flags. The defaults keep a comparison short (3 rounds × 5 s
//! per target and level, concurrency 1 and 8); every number is a flag.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use toolgate_load::child::{self, DEFAULT_PINNING};
use toolgate_load::client::Endpoint;
use toolgate_load::client::caller::open_callers;
use toolgate_load::compare::{self, CompareOptions, Level};
use toolgate_load::gateway;
use toolgate_load::load::Ids;
use toolgate_load::memory::{self, MemoryOptions};
use toolgate_load::peers::{Peer, PeerPaths};
use toolgate_load::report::{self, Row};
use toolgate_load::target::Target;
use toolgate_load::{fixture, procfs};

/// Load harness for toolgate: a fast MCP fixture, a load generator, and an
/// interleaved comparison against the upstream directly and optional peers.
#[derive(Debug, Parser)]
#[command(name = "toolgate-load", version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the fixture upstream (Streamable HTTP at /mcp, or stdio).
    Fixture(FixtureArgs),
    /// One load run against any MCP URL on loopback.
    Run(RunArgs),
    /// Direct vs toolgate (vs peers), interleaved rounds, ratios and budget.
    Compare(CompareArgs),
    /// toolgate's RSS idle and after opening many sessions.
    Memory(MemoryArgs),
    /// Write the config and policy `compare` runs toolgate with into a
    /// directory, to run it by hand (under a profiler or valgrind).
    Config(ConfigArgs),
    /// Serve the stack's floor: a reverse proxy on tokio and hyper that
    /// does no work (the `hyper` peer of `compare`).
    HyperProxy(HyperProxyArgs),
}

#[derive(Debug, Args)]
struct HyperProxyArgs {
    /// Address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// The upstream's address (host:port; requests keep their paths).
    #[arg(long)]
    upstream: SocketAddr,
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// The directory to write `toolgate.yaml` and `policy.json` into.
    #[arg(long)]
    dir: PathBuf,
    /// The gateway's listen address.
    #[arg(long)]
    listen: SocketAddr,
    /// The upstream's MCP URL (a `toolgate-load fixture`), e.g.
    /// http://127.0.0.1:8801/mcp.
    #[arg(long)]
    upstream: String,
    /// `audit: none` instead of SQLite.
    #[arg(long)]
    no_audit: bool,
}

#[derive(Debug, Args)]
struct FixtureArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Print the bound address on stdout once listening.
    #[arg(long)]
    print_addr: bool,
    /// Runtime worker threads (1: a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Speak newline-delimited JSON-RPC on stdin/stdout instead of HTTP.
    #[arg(long)]
    stdio: bool,
}

#[derive(Debug, Args)]
struct PinArgs {
    /// Do not pin (by default the generator runs on CPU 0 and everything
    /// it starts on CPU 1, with taskset).
    #[arg(long)]
    no_pin: bool,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The MCP endpoint, e.g. http://127.0.0.1:8800/mcp/crm.
    #[arg(long)]
    url: String,
    /// Bearer token.
    #[arg(long, env = "TOOLGATE_LOAD_TOKEN")]
    token: Option<String>,
    /// Closed loop: callers back to back.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Open loop at this many calls per second (instead of closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Open loop: connections in the pool.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Length of the run (`5s`, `500ms`, `1m`, or seconds).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
    /// Sessions (default: one per caller).
    #[arg(long)]
    sessions: Option<usize>,
    /// A process to charge CPU time to (e.g. the gateway's pid).
    #[arg(long)]
    pid: Option<u32>,
    /// The echo tool's name at that endpoint.
    #[arg(long, default_value = "echo")]
    tool: String,
    #[command(flatten)]
    pin: PinArgs,
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// The toolgate binary [default: $TOOLGATE_BIN or target/release/toolgate].
    #[arg(long)]
    toolgate: Option<PathBuf>,
    /// Rounds per level.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Length of one target's run in a round.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured load on each target before the first round.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// Closed-loop levels (comma-separated; `0` alone: none, for an
    /// open-loop-only run).
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    concurrency: Vec<usize>,
    /// Open-loop levels in calls per second (comma-separated), after the
    /// closed-loop ones.
    #[arg(long, value_delimiter = ',')]
    rate: Vec<f64>,
    /// Open loop: connections in the pool.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Sessions per run (default: one per caller).
    #[arg(long)]
    sessions: Option<usize>,
    /// Peers to include when installed: `all`, `none`, or names
    /// (`nginx,hyper,mcp-proxy,contextforge`).
    #[arg(long, value_delimiter = ',', default_value = "all")]
    peers: Vec<String>,
    /// The nginx binary.
    #[arg(long)]
    nginx: Option<PathBuf>,
    /// The mcp-proxy script.
    #[arg(long)]
    mcp_proxy: Option<PathBuf>,
    /// ContextForge's mcpgateway script.
    #[arg(long)]
    contextforge: Option<PathBuf>,
    /// Run the gateway with `audit: none` instead of SQLite.
    #[arg(long)]
    no_audit: bool,
    /// Also measure RSS idle and per session (a fresh gateway).
    #[arg(long)]
    memory: bool,
    /// Sessions for the memory measurement.
    #[arg(long, default_value_t = 10_000)]
    memory_sessions: usize,
    #[command(flatten)]
    pin: PinArgs,
}

#[derive(Debug, Args)]
struct MemoryArgs {
    /// The toolgate binary [default: $TOOLGATE_BIN or target/release/toolgate].
    #[arg(long)]
    toolgate: Option<PathBuf>,
    /// Sessions to open.
    #[arg(long, default_value_t = 10_000)]
    sessions: usize,
    /// Connections opening them at once.
    #[arg(long, default_value_t = 8)]
    parallel: usize,
    /// Run the gateway with `audit: none` instead of SQLite.
    #[arg(long)]
    no_audit: bool,
    #[command(flatten)]
    pin: PinArgs,
}

impl Cli {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Fixture(a) => run_fixture(a),
            Command::Run(a) => {
                let cpus = pin(&a.pin);
                generator_runtime()?.block_on(run_once(a, cpus))
            }
            Command::Compare(a) => {
                let cpus = pin(&a.pin);
                generator_runtime()?.block_on(run_compare(a, cpus))
            }
            Command::Memory(a) => {
                let cpus = pin(&a.pin);
                generator_runtime()?.block_on(run_memory(a, cpus))
            }
            Command::Config(a) => write_config(&a),
            Command::HyperProxy(a) => run_hyper_proxy(&a),
        }
    }
}

fn write_config(a: &ConfigArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let path = gateway::write_files(
        &a.dir,
        a.listen,
        &a.upstream,
        !a.no_audit,
        gateway::MAX_SESSIONS,
    )?;
    println!("{}", path.display());
    Ok(())
}

/// The generator is one thread on one core: it must never be what limits
/// a run, and a single-threaded runtime is the cheapest way to drive it.
fn generator_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Pins this process to the generator's CPU and returns (generator,
/// servers), or `None` (and says why) when pinning is off or impossible.
fn pin(args: &PinArgs) -> Option<(usize, usize)> {
    if args.no_pin {
        return None;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("not pinning: only {cpus} CPU available");
        return None;
    }
    match child::pin_self(DEFAULT_PINNING.generator) {
        Ok(()) => Some((DEFAULT_PINNING.generator, DEFAULT_PINNING.servers)),
        Err(e) => {
            eprintln!("not pinning: {e}");
            None
        }
    }
}

/// The floor proxy runs as toolgate does on one CPU: a current-thread
/// runtime.
fn run_hyper_proxy(a: &HyperProxyArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("binding {}", a.listen))?;
        Err(
            toolgate_load::peers::hyper_proxy::serve(listener, a.upstream)
                .await
                .into(),
        )
    })
}

fn run_fixture(a: FixtureArgs) -> anyhow::Result<()> {
    let rt = if a.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(a.threads)
            .enable_all()
            .build()?
    };
    rt.block_on(async move {
        if a.stdio {
            return Ok(fixture::stdio::serve().await?);
        }
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("binding {}", a.listen))?;
        if a.print_addr {
            println!("{}", listener.local_addr()?);
        }
        let state = Arc::new(fixture::State::default());
        Err(fixture::http::serve(listener, state).await.into())
    })
}

async fn run_once(a: RunArgs, cpus: Option<(usize, usize)>) -> anyhow::Result<()> {
    let ep = Arc::new(Endpoint::parse(&a.url, a.token.as_deref())?.with_echo_tool(&a.tool));
    let level = match a.rate {
        Some(rate) => Level::Open {
            rate,
            connections: a.connections,
        },
        None => Level::Closed {
            concurrency: a.concurrency,
        },
    };
    // Checks the endpoint before anything is timed.
    drop(open_callers(Arc::clone(&ep), 1, 1).await?);
    let target = Target::new("target", (*ep).clone(), a.pid, a.url.clone());
    let m = compare::measure(
        &target,
        None,
        level,
        a.sessions,
        a.duration,
        &Ids::default(),
    )
    .await?;
    let row = Row::aggregate("target", level, &[m], procfs::ticks_per_second());
    if a.pin.json {
        println!("{}", serde_json::to_string_pretty(&row)?);
    } else {
        let pin = cpus.map_or("not pinned".into(), |(g, _)| {
            format!("generator on CPU {g}")
        });
        println!(
            "{} against {} for {:?} ({pin})",
            level.label(),
            a.url,
            a.duration
        );
        let l = &row.latency;
        println!(
            "{:.0} calls/s, p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs, {} errors{}",
            row.throughput,
            l.p50_us,
            l.p90_us,
            l.p99_us,
            l.max_us,
            row.errors,
            match (row.cpu_us_per_call, row.kernel_us_per_call) {
                (Some(c), Some(k)) => format!(", CPU {c:.1} µs/call ({k:.1} in the kernel)"),
                (Some(c), None) => format!(", CPU {c:.1} µs/call"),
                _ => String::new(),
            }
        );
        if let Some(line) = report::thread_line(&row) {
            println!("{line}");
        }
        for e in &row.error_samples {
            println!("  error: {e}");
        }
    }
    Ok(())
}

fn toolgate_binary(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = given
        .or_else(|| std::env::var_os("TOOLGATE_BIN").map(PathBuf::from))
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/toolgate")
        });
    if !path.is_file() {
        bail!(
            "no toolgate binary at {} (build it with `cargo build --release -p toolgate`, or pass --toolgate)",
            path.display()
        );
    }
    Ok(path)
}

fn peers(names: &[String]) -> anyhow::Result<Vec<Peer>> {
    let mut out = Vec::new();
    for n in names {
        match n.as_str() {
            "all" => out.extend(Peer::ALL),
            "none" | "" => {}
            other => out.push(Peer::parse(other).with_context(|| {
                format!("unknown peer {other:?} (nginx, mcp-proxy, contextforge)")
            })?),
        }
    }
    out.dedup();
    Ok(out)
}

async fn run_compare(a: CompareArgs, cpus: Option<(usize, usize)>) -> anyhow::Result<()> {
    let mut levels: Vec<Level> = a
        .concurrency
        .iter()
        .filter(|&&c| c > 0)
        .map(|&concurrency| Level::Closed { concurrency })
        .collect();
    levels.extend(a.rate.iter().map(|&rate| Level::Open {
        rate,
        connections: a.connections,
    }));
    let opts = CompareOptions {
        toolgate: toolgate_binary(a.toolgate)?,
        exe: std::env::current_exe()?,
        rounds: a.rounds,
        duration: a.duration,
        warmup: a.warmup,
        levels,
        sessions: a.sessions,
        peers: peers(&a.peers)?,
        peer_paths: PeerPaths {
            nginx: a.nginx,
            mcp_proxy: a.mcp_proxy,
            contextforge: a.contextforge,
        },
        cpus,
        audit: !a.no_audit,
        memory: a.memory.then(|| MemoryOptions {
            sessions: a.memory_sessions,
            ..MemoryOptions::default()
        }),
    };
    let report = compare::run(&opts, &|line| eprintln!("{line}")).await?;
    if a.pin.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report::table(&report));
    }
    Ok(())
}

async fn run_memory(a: MemoryArgs, cpus: Option<(usize, usize)>) -> anyhow::Result<()> {
    let server_cpu = cpus.map(|(_, s)| s);
    let exe = std::env::current_exe()?;
    let fixture = fixture::start_process(&exe, server_cpu).await?;
    let opts = gateway::GatewayOptions {
        binary: toolgate_binary(a.toolgate)?,
        audit: !a.no_audit,
        max_sessions: gateway::MAX_SESSIONS,
        cpu: server_cpu,
    };
    let result = match gateway::start(&opts, &fixture.endpoint.url()).await {
        Ok(gw) => {
            let m = MemoryOptions {
                sessions: a.sessions,
                parallel: a.parallel,
                ..MemoryOptions::default()
            };
            let r = memory::measure(&gw, &m).await;
            gw.stop().await;
            r
        }
        Err(e) => Err(e),
    };
    fixture.stop().await;
    let r = result?;
    if a.pin.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!("{}", r.line());
    }
    Ok(())
}

/// `5s`, `250ms`, `2m`, or a number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1_000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {s:?} (ms, s, m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn peer_names() {
        assert_eq!(peers(&["all".into()]).unwrap(), Peer::ALL.to_vec());
        assert!(peers(&["none".into()]).unwrap().is_empty());
        assert_eq!(peers(&["nginx".into()]).unwrap(), vec![Peer::Nginx]);
        assert!(peers(&["haproxy".into()]).is_err());
    }
}
