//! `toolgate audit tail|export|verify|replay`: reading the audit log.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use toolgate_audit::{ChainProblem, Query, Sink, SinkConfig, StoredRecord, open_sink};
use toolgate_gateway::clock::{Clock, SystemClock};
use toolgate_gateway::policy::rfc3339;

use crate::replay;

/// Audit log commands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCmd {
    /// Show recent decisions as a table (or JSON lines).
    Tail(TailArgs),
    /// Write decisions as JSON lines or CSV to stdout.
    Export(ExportArgs),
    /// Walk the hash chain and report the first edited, inserted or deleted record.
    Verify(SinkArgs),
    /// Re-evaluate recorded calls against a candidate policy and report what would change.
    Replay(ReplayArgs),
}

/// Where the log is.
#[derive(Debug, Args)]
pub(crate) struct SinkArgs {
    /// The gateway's config file (its `audit.sink` is read).
    #[arg(long, short, default_value = "toolgate.yaml", env = "TOOLGATE_CONFIG")]
    config: PathBuf,
    /// A sink URL instead of the config's (sqlite://…, postgres://…).
    #[arg(long)]
    sink: Option<String>,
}

/// Which records.
#[derive(Debug, Args)]
pub(crate) struct Filter {
    /// Only this grant.
    #[arg(long)]
    grant: Option<String>,
    /// Only this tool (or resource URI, or prompt).
    #[arg(long)]
    tool: Option<String>,
    /// Only this verdict (allow, deny, hide, rate_limited, …).
    #[arg(long)]
    verdict: Option<String>,
    /// Only this server.
    #[arg(long)]
    server: Option<String>,
    /// Only records newer than this (30s, 15m, 1h, 7d).
    #[arg(long)]
    since: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    #[command(flatten)]
    sink: SinkArgs,
    #[command(flatten)]
    filter: Filter,
    /// How many of the newest records.
    #[arg(long, short = 'n', default_value_t = 20)]
    lines: usize,
    /// Keep printing new records as they are committed.
    #[arg(long, short)]
    follow: bool,
    /// JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    sink: SinkArgs,
    #[command(flatten)]
    filter: Filter,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    sink: SinkArgs,
    /// The candidate policy.
    #[arg(long)]
    policy: PathBuf,
    /// Only records newer than this (default 7d).
    #[arg(long, default_value = "7d")]
    since: String,
    /// Only this server.
    #[arg(long)]
    server: Option<String>,
    /// Print every changed decision, not only the summary.
    #[arg(long)]
    verbose: bool,
}

pub(crate) async fn run(cmd: AuditCmd) -> anyhow::Result<()> {
    match cmd {
        AuditCmd::Tail(a) => tail(&a).await,
        AuditCmd::Export(a) => export(&a).await,
        AuditCmd::Verify(a) => verify(&a).await,
        AuditCmd::Replay(a) => {
            let sink = open(&a.sink).await?;
            let since = ago(&a.since)?;
            let query = Query {
                since: Some(since),
                server: a.server.clone(),
                ..Query::default()
            };
            let records = sink
                .query(&query)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            replay::run(&a.policy, &records, a.verbose)
        }
    }
}

pub(crate) async fn open(a: &SinkArgs) -> anyhow::Result<Box<dyn Sink>> {
    let (url, base) = match &a.sink {
        Some(url) => (url.clone(), std::env::current_dir()?),
        None => {
            let config = toolgate_config::load(&a.config)?;
            (config.audit.sink.clone(), config.base_dir.clone())
        }
    };
    let cfg = SinkConfig::parse(&url, &base).map_err(|e| anyhow::anyhow!("{e}"))?;
    if matches!(cfg, SinkConfig::None) {
        bail!("the audit sink is `none`: nothing is recorded");
    }
    if let SinkConfig::Sqlite { path } = &cfg {
        anyhow::ensure!(
            path.exists(),
            "no audit log at {} (has the gateway run with this config?)",
            path.display()
        );
    }
    open_sink(&cfg).await.map_err(|e| anyhow::anyhow!("{e}"))
}

/// `30s`, `15m`, `1h`, `7d` before now.
pub(crate) fn ago(s: &str) -> anyhow::Result<SystemTime> {
    let d = toolgate_config::Seconds::parse(s)
        .with_context(|| format!("invalid duration {s:?} (use 30s, 15m, 1h, 7d)"))?;
    Ok(SystemClock
        .now()
        .checked_sub(d.0)
        .unwrap_or(SystemTime::UNIX_EPOCH))
}

fn query(f: &Filter) -> anyhow::Result<Query> {
    Ok(Query {
        since: f.since.as_deref().map(ago).transpose()?,
        grant: f.grant.clone(),
        target: f.tool.clone(),
        verdict: f.verdict.clone(),
        server: f.server.clone(),
        ..Query::default()
    })
}

async fn tail(a: &TailArgs) -> anyhow::Result<()> {
    let sink = open(&a.sink).await?;
    let mut q = query(&a.filter)?;
    q.limit = Some(a.lines);
    q.newest_first = true;
    let mut records = sink.query(&q).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    records.reverse();
    if !a.json {
        println!("{}", table_header());
    }
    // With nothing printed yet, everything that matches later is new.
    let mut last = Some(records.last().map_or(0, |r| r.seq));
    print_records(&records, a.json);
    if !a.follow {
        return Ok(());
    }
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut q = query(&a.filter)?;
        q.after_seq = last;
        let new = sink.query(&q).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(r) = new.last() {
            last = Some(r.seq);
        }
        print_records(&new, a.json);
    }
}

fn table_header() -> String {
    format!(
        "{:<6} {:<20} {:<14} {:<10} {:<22} {:<16} {:<13} {:>8}  {}",
        "SEQ",
        "TIME (UTC)",
        "GRANT",
        "SERVER",
        "TOOL",
        "VERDICT",
        "UPSTREAM",
        "MS",
        "RULE / REASON"
    )
}

fn print_records(records: &[StoredRecord], json: bool) {
    for s in records {
        if json {
            println!("{}", serde_json::to_string(s).unwrap_or_default());
            continue;
        }
        let r = &s.record;
        let time = rfc3339(r.time);
        let ms = (r.gateway_micros + r.upstream_micros) as f64 / 1000.0;
        let why = match (&r.rule, &r.reason) {
            (Some(rule), Some(reason)) => format!("{rule}: {reason}"),
            (Some(rule), None) => rule.clone(),
            (None, Some(reason)) => reason.clone(),
            (None, None) => String::new(),
        };
        println!(
            "{:<6} {:<20} {:<14} {:<10} {:<22} {:<16} {:<13} {:>8.2}  {}",
            s.seq,
            time.trim_end_matches('Z'),
            clip(&r.grant, 14),
            clip(&r.server, 10),
            clip(r.target.as_deref().unwrap_or(&r.method), 22),
            r.verdict,
            r.upstream,
            ms,
            why
        );
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

async fn export(a: &ExportArgs) -> anyhow::Result<()> {
    let sink = open(&a.sink).await?;
    let records = sink
        .query(&query(&a.filter)?)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    match a.format {
        Format::Jsonl => print_records(&records, true),
        Format::Csv => {
            println!(
                "seq,time,request_id,grant,principal,session,server,method,target,verdict,rule,policy_version,reason,upstream,rpc_error_code,gateway_micros,upstream_micros,argument_keys,arguments_sha256,prev_hash,hash"
            );
            for s in &records {
                println!("{}", csv_row(s));
            }
        }
    }
    Ok(())
}

fn csv_row(s: &StoredRecord) -> String {
    let r = &s.record;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let fields = [
        s.seq.to_string(),
        rfc3339_micros(r.time),
        r.request_id.clone(),
        r.grant.clone(),
        opt(&r.principal),
        opt(&r.session),
        r.server.clone(),
        r.method.clone(),
        opt(&r.target),
        r.verdict.clone(),
        opt(&r.rule),
        opt(&r.policy_version),
        opt(&r.reason),
        r.upstream.clone(),
        r.rpc_error_code.map(|c| c.to_string()).unwrap_or_default(),
        r.gateway_micros.to_string(),
        r.upstream_micros.to_string(),
        r.argument_keys.join(" "),
        opt(&r.arguments_sha256),
        s.prev_hash.clone(),
        s.hash.clone(),
    ];
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

fn rfc3339_micros(t: SystemTime) -> String {
    let micros = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_micros());
    format!("{}.{micros:06}Z", rfc3339(t).trim_end_matches('Z'))
}

/// RFC 4180: quote when needed, double inner quotes.
fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_owned()
    }
}

async fn verify(a: &SinkArgs) -> anyhow::Result<()> {
    let sink = open(a).await?;
    let report = sink.verify().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    match report.first_problem {
        None => {
            println!(
                "ok  {} records, hash chain intact ({})",
                report.records,
                sink.kind()
            );
            Ok(())
        }
        Some(p) => {
            let what = match p {
                ChainProblem::Edited { seq } => {
                    format!("record {seq} was edited: its content no longer matches its hash")
                }
                ChainProblem::Broken {
                    seq,
                    expected_prev_seq,
                } => match expected_prev_seq {
                    Some(prev) => format!(
                        "record {seq} does not follow record {prev}: a record was inserted or removed between them"
                    ),
                    None => format!(
                        "record {seq} does not start the chain: records before it were removed or it was inserted"
                    ),
                },
                ChainProblem::Missing {
                    after_seq,
                    next_seq,
                } => {
                    format!("records between {after_seq} and {next_seq} are missing (deleted)")
                }
            };
            bail!(
                "audit chain broken after checking {} records: {what}",
                report.records
            )
        }
    }
}
