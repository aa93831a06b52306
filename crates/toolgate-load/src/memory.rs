//! Memory per session: the gateway's resident set idle, then after opening
//! many Streamable HTTP sessions (each an `initialize` and a
//! `notifications/initialized`, left open), from `VmRSS`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{Conn, Endpoint, session};
use crate::error::HarnessError;
use crate::procfs;
use crate::target::Target;

/// How many sessions, over how many connections.
#[derive(Clone, Copy, Debug)]
pub struct MemoryOptions {
    /// Sessions to open.
    pub sessions: usize,
    /// Connections opening them at once.
    pub parallel: usize,
    /// How long to let the process settle before each reading.
    pub settle: Duration,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        Self {
            sessions: 10_000,
            parallel: 8,
            settle: Duration::from_secs(1),
        }
    }
}

/// What was measured.
#[derive(Clone, Debug, Serialize)]
pub struct MemoryReport {
    /// The process measured.
    pub target: String,
    /// `VmRSS` before any session, bytes.
    pub idle_rss_bytes: u64,
    /// `VmRSS` with every session open, bytes.
    pub loaded_rss_bytes: u64,
    /// Sessions opened.
    pub sessions_opened: usize,
    /// Sessions that failed to open.
    pub sessions_failed: usize,
    /// (loaded − idle) / opened.
    pub bytes_per_session: f64,
    /// How long opening them took, seconds.
    pub open_seconds: f64,
    /// The first failure, if any.
    pub first_error: Option<String>,
}

impl MemoryReport {
    /// One line for the table.
    pub fn line(&self) -> String {
        let mib = |b: u64| b as f64 / 1048576.0;
        let mut s = format!(
            "memory ({}): idle {:.1} MiB; after {} sessions {:.1} MiB: {:.1} KiB per session ({} failed, opened in {:.1} s)",
            self.target,
            mib(self.idle_rss_bytes),
            self.sessions_opened,
            mib(self.loaded_rss_bytes),
            self.bytes_per_session / 1024.0,
            self.sessions_failed,
            self.open_seconds
        );
        if let Some(e) = &self.first_error {
            s.push_str(&format!("; first error: {e}"));
        }
        s
    }
}

/// Measures `target`'s process (which should be fresh: nothing else has
/// opened sessions on it).
pub async fn measure(target: &Target, opts: &MemoryOptions) -> Result<MemoryReport, HarnessError> {
    let pid = target
        .pid
        .ok_or_else(|| HarnessError::Usage(format!("{}: no process to measure", target.name)))?;
    tokio::time::sleep(opts.settle).await;
    let idle = procfs::rss_bytes(pid)?;
    let started = Instant::now();
    let (opened, failed, first_error) = open_sessions(
        Arc::clone(&target.endpoint),
        opts.sessions,
        opts.parallel.max(1),
    )
    .await;
    let open_seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(opts.settle).await;
    let loaded = procfs::rss_bytes(pid)?;
    Ok(MemoryReport {
        target: target.name.clone(),
        idle_rss_bytes: idle,
        loaded_rss_bytes: loaded,
        sessions_opened: opened,
        sessions_failed: failed,
        bytes_per_session: if opened > 0 {
            loaded.saturating_sub(idle) as f64 / opened as f64
        } else {
            0.0
        },
        open_seconds,
        first_error,
    })
}

/// Opens `n` sessions over `parallel` connections; returns (opened,
/// failed, first error).
async fn open_sessions(
    ep: Arc<Endpoint>,
    n: usize,
    parallel: usize,
) -> (usize, usize, Option<String>) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..parallel {
        let (ep, next) = (Arc::clone(&ep), Arc::clone(&next));
        tasks.spawn(async move {
            let (mut ok, mut failed, mut first) = (0, 0, None);
            let mut conn: Option<Conn> = None;
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let c = match &mut conn {
                    Some(c) if !c.is_closed() => c,
                    _ => match Conn::connect(&ep).await {
                        Ok(c) => conn.insert(c),
                        Err(e) => {
                            failed += 1;
                            first.get_or_insert(e.to_string());
                            continue;
                        }
                    },
                };
                match session::open(c, &ep).await {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        failed += 1;
                        first.get_or_insert(e.to_string());
                    }
                }
            }
            (ok, failed, first)
        });
    }
    let (mut ok, mut failed, mut first) = (0, 0, None);
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((o, f, e)) => {
                ok += o;
                failed += f;
                if first.is_none() {
                    first = e;
                }
            }
            Err(e) => {
                first.get_or_insert(e.to_string());
            }
        }
    }
    (ok, failed, first)
}
