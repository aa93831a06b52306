//! The processes the harness starts (fixture, gateway, peers): CPU pinning
//! with `taskset`, readiness, and stopping them.
//!
//! Pinning: on a 2-core machine the load generator pins itself to CPU 0
//! (`taskset -a -p -c 0 <pid>` before its runtime starts, so every thread
//! inherits it) and starts everything it measures as `taskset -c 1 …`
//! (which execs, so the child's pid is the program's). The gateway and the
//! upstream then share one core and never compete with the generator.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::error::HarnessError;

/// Why a child could not be started or did not come up.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// The program could not be started.
    #[error("starting {name}: {source}")]
    Spawn {
        /// Which process.
        name: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// It did not become ready in time, or exited.
    #[error("{name} not ready: {reason}")]
    NotReady {
        /// Which process.
        name: String,
        /// What was seen.
        reason: String,
    },
    /// `taskset` failed.
    #[error("taskset: {0}")]
    Pin(String),
}

/// Where processes run: the generator's CPU and the measured processes'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pinning {
    /// The load generator's CPU.
    pub generator: usize,
    /// The CPU of the gateway, the upstream and the peers.
    pub servers: usize,
}

/// The pinning the harness uses on a machine with at least two CPUs.
pub const DEFAULT_PINNING: Pinning = Pinning {
    generator: 0,
    servers: 1,
};

/// Pins this whole process (every thread) to `cpu`. Call it before the
/// runtime starts its threads; they inherit the mask anyway.
pub fn pin_self(cpu: usize) -> Result<(), ChildError> {
    let out = std::process::Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .output()
        .map_err(|e| ChildError::Pin(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ChildError::Pin(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}

/// A command for `program args…`, run under `taskset -c cpu` when `cpu`
/// is given.
pub fn command<I, S>(program: impl AsRef<OsStr>, args: I, cpu: Option<usize>) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg(program);
            c
        }
        None => Command::new(program),
    };
    cmd.args(args);
    cmd
}

/// A started child process. Dropping it kills it (SIGKILL); [`stop`]
/// asks its process group to terminate first.
///
/// [`stop`]: ChildProc::stop
#[derive(Debug)]
pub struct ChildProc {
    name: String,
    child: Child,
}

impl ChildProc {
    /// Starts `cmd` in a process group of its own (so its children can be
    /// signalled with it), stdin closed.
    pub fn spawn(name: &str, mut cmd: Command) -> Result<Self, ChildError> {
        cmd.stdin(Stdio::null()).kill_on_drop(true).process_group(0);
        let child = cmd.spawn().map_err(|source| ChildError::Spawn {
            name: name.to_owned(),
            source,
        })?;
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    /// Its name in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its process id (`None` once it has been reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Its piped stdout's first line (e.g. the address the fixture bound).
    pub async fn first_line(&mut self, timeout: Duration) -> Result<String, ChildError> {
        let not_ready = |reason: String| ChildError::NotReady {
            name: self.name.clone(),
            reason,
        };
        let stdout = self
            .child
            .stdout
            .take()
            .ok_or_else(|| not_ready("stdout is not piped".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        match tokio::time::timeout(timeout, lines.next_line()).await {
            Ok(Ok(Some(line))) => Ok(line),
            Ok(Ok(None)) => Err(not_ready("exited before printing".into())),
            Ok(Err(e)) => Err(not_ready(e.to_string())),
            Err(_) => Err(not_ready(format!("printed nothing in {timeout:?}"))),
        }
    }

    /// Fails if the process has exited.
    pub fn check_running(&mut self) -> Result<(), ChildError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(ChildError::NotReady {
                name: self.name.clone(),
                reason: format!("exited: {status}"),
            }),
            Err(e) => Err(ChildError::NotReady {
                name: self.name.clone(),
                reason: e.to_string(),
            }),
        }
    }

    /// SIGTERM to the process group, then SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
            if tokio::time::timeout(grace, self.child.wait()).await.is_ok() {
                return;
            }
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.kill().await;
    }
}

/// Waits until `addr` accepts TCP connections while `child` runs.
pub async fn wait_listening(
    child: &mut ChildProc,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<(), ChildError> {
    let what = format!("nothing listening on {addr}");
    let poll = Duration::from_millis(50);
    wait_ready(child, timeout, poll, &what, || async move {
        TcpStream::connect(addr).await.is_ok()
    })
    .await
}

/// Asks `ready` every `poll` until it says yes, while `child` runs; after
/// `timeout` the error says `what` was still the case.
pub async fn wait_ready<F, Fut>(
    child: &mut ChildProc,
    timeout: Duration,
    poll: Duration,
    what: &str,
    mut ready: F,
) -> Result<(), ChildError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        child.check_running()?;
        if ready().await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ChildError::NotReady {
                name: child.name().to_owned(),
                reason: format!("{what} after {timeout:?}"),
            });
        }
        tokio::time::sleep(poll).await;
    }
}

/// A temporary directory (named `prefix…`, removed when dropped) for a
/// process the harness starts, and a free loopback address for it.
pub fn scratch(prefix: &str) -> Result<(tempfile::TempDir, SocketAddr), HarnessError> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(HarnessError::io("creating a temporary directory"))?;
    let port = free_port().map_err(HarnessError::io("finding a free port"))?;
    Ok((dir, SocketAddr::from(([127, 0, 0, 1], port))))
}

/// A free loopback port (bound and released; a race with another process
/// is possible but harmless: the child then fails to bind and we say so).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// The first of `candidates` that is an executable file, else `name` found
/// on `PATH`.
pub fn find_program(name: &str, candidates: &[PathBuf]) -> Option<PathBuf> {
    let is_exe = |p: &PathBuf| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if let Some(p) = candidates.iter().find(|p| is_exe(p)) {
        return Some(p.clone());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(is_exe)
}
