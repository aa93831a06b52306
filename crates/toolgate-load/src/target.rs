//! A target: something that serves MCP at a URL (the fixture directly,
//! toolgate, a peer) and the process to charge for its CPU.

use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;

use crate::child::ChildProc;
use crate::client::Endpoint;

/// One thing to measure.
#[derive(Debug)]
pub struct Target {
    /// Its name in reports (`direct`, `toolgate`, `nginx`, `hyper`, `mcp-proxy`).
    pub name: String,
    /// Where to send load.
    pub endpoint: Arc<Endpoint>,
    /// The process whose CPU time is charged to it.
    pub pid: Option<u32>,
    /// What it is, for the report (version, settings).
    pub note: String,
    /// The HTTP fixture's process when the target forwards to it (its CPU
    /// is reported apart, to show the upstream is not the bottleneck).
    pub upstream_pid: Option<u32>,
    procs: Vec<ChildProc>,
    dir: Option<TempDir>,
}

impl Target {
    /// A target served by processes someone else owns.
    pub fn new(name: &str, endpoint: Endpoint, pid: Option<u32>, note: String) -> Self {
        Self {
            name: name.to_owned(),
            endpoint: Arc::new(endpoint),
            pid,
            note,
            upstream_pid: None,
            procs: Vec::new(),
            dir: None,
        }
    }

    /// Makes the target own `proc` (stopped with it).
    pub fn owning(mut self, proc: ChildProc) -> Self {
        self.procs.push(proc);
        self
    }

    /// Makes the target own its temporary directory (removed with it).
    pub fn with_dir(mut self, dir: TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    /// The temporary directory, if it has one.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(TempDir::path)
    }

    /// Stops its processes; its directory goes when it is dropped.
    pub async fn stop(self) {
        for p in self.procs {
            p.stop(Duration::from_secs(3)).await;
        }
    }
}
