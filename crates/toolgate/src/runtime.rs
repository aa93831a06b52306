//! The tokio runtime: one worker per CPU the process may use, and on a
//! single CPU the current-thread scheduler.
//!
//! Why the special case: with one worker, the multi-thread scheduler does
//! the same work as the current-thread one plus the synchronization its
//! work-stealing queues need. Measured (docs/benchmarks.md, "What was
//! changed"): on one CPU the current-thread scheduler cut the gateway's CPU
//! per call by 8–16% at concurrency 8 (about a tenth). A container limited
//! to one CPU, or a process pinned to one, gets it without configuration.

use anyhow::{Context, bail};
use tokio::runtime::{Builder, Runtime};

/// The variable that overrides the worker count (tokio's own name for it).
const WORKERS_VAR: &str = "TOKIO_WORKER_THREADS";

/// Builds the runtime for `workers()` workers.
pub(crate) fn build() -> anyhow::Result<Runtime> {
    let mut builder = match workers()? {
        Some(1) => Builder::new_current_thread(),
        Some(n) => {
            let mut b = Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
        // The CPU count is unknown: tokio's own default.
        None => Builder::new_multi_thread(),
    };
    builder
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `TOKIO_WORKER_THREADS` when set, else the CPUs this process may run on
/// (its affinity mask and cgroup quota, as `available_parallelism` reads
/// them); `None` when neither is known.
fn workers() -> anyhow::Result<Option<usize>> {
    match std::env::var(WORKERS_VAR) {
        Ok(v) => parse_workers(&v).map(Some),
        Err(std::env::VarError::NotPresent) => {
            Ok(std::thread::available_parallelism().ok().map(usize::from))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            bail!("{WORKERS_VAR} must be a positive integer")
        }
    }
}

fn parse_workers(v: &str) -> anyhow::Result<usize> {
    match v.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{WORKERS_VAR} must be a positive integer, not {v:?}"),
    }
}

/// How the running runtime schedules, for the startup log.
pub(crate) fn describe() -> String {
    let handle = tokio::runtime::Handle::current();
    match handle.runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => "current-thread scheduler".to_owned(),
        _ => format!(
            "multi-thread scheduler, {} workers",
            handle.metrics().num_workers()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_counts_are_positive_integers() {
        assert_eq!(parse_workers("1").unwrap(), 1);
        assert_eq!(parse_workers(" 4 ").unwrap(), 4);
        for bad in ["0", "-1", "two", ""] {
            let e = parse_workers(bad).unwrap_err().to_string();
            assert!(e.contains("TOKIO_WORKER_THREADS"), "{e}");
        }
    }
}
