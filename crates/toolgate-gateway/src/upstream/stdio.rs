//! stdio upstreams: a child process speaking newline-delimited JSON-RPC.
//!
//! Lifecycle, as the MCP spec asks: to stop a server, close its stdin, wait,
//! then SIGTERM, then SIGKILL. A crash fails every request in flight with a
//! JSON-RPC error; stderr lines go to the gateway's log, tagged with the
//! server name.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;
use toolgate_config::InheritEnv;
use toolgate_mcp::Message;

use super::channel::ChannelCore;
use super::{UnrelatedRoute, UpstreamError};
use crate::metrics::Metrics;

/// How long each shutdown step waits before the next, harsher one.
const SHUTDOWN_STEP: Duration = Duration::from_secs(2);
/// Longest stderr line kept in the log.
const MAX_STDERR_LINE: usize = 16 * 1024;
/// What a server inherits under `inherit_env: minimal`.
const MINIMAL_ENV: [&str; 10] = [
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_ALL", "TMPDIR", "TZ",
];

/// Everything needed to start one server process. Not `Debug`: `env`
/// holds the server's secrets, and a `?opts` in a log line would print them.
#[derive(Clone)]
pub(crate) struct StdioOptions {
    /// The server's name in the config (for logs).
    pub(crate) server: String,
    /// Program and arguments.
    pub(crate) command: Vec<String>,
    /// Extra environment.
    pub(crate) env: BTreeMap<String, String>,
    /// Working directory.
    pub(crate) cwd: Option<PathBuf>,
    /// What to inherit from the gateway's environment.
    pub(crate) inherit: InheritEnv,
    /// Longest stdout line accepted.
    pub(crate) max_line: usize,
    /// Where unrelated server messages go.
    pub(crate) route: UnrelatedRoute,
    /// Counts starts and crashes.
    pub(crate) metrics: Option<Arc<Metrics>>,
}

/// Starts the process and the tasks that feed it and read it.
pub(crate) fn spawn_stdio(opts: &StdioOptions) -> Result<Arc<ChannelCore>, UpstreamError> {
    let mut child = command(opts).spawn().map_err(|e| UpstreamError::Spawn {
        command: opts.command.first().cloned().unwrap_or_default(),
        reason: e.to_string(),
    })?;
    let pid = child.id();
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(UpstreamError::Spawn {
            command: opts.command.first().cloned().unwrap_or_default(),
            reason: "stdio pipes unavailable".into(),
        });
    };
    tracing::info!(server = %opts.server, pid, "started upstream process");
    if let Some(m) = &opts.metrics {
        m.process_started(&opts.server);
    }

    let (writer_tx, writer_rx) = mpsc::channel(64);
    let core = ChannelCore::new("stdio", opts.route, writer_tx);
    let stop_writing = CancellationToken::new();
    tokio::spawn(write_loop(stdin, writer_rx, stop_writing.clone()));

    let server = opts.server.clone();
    let reader_core = Arc::downgrade(&core);
    let max_line = opts.max_line;
    let reader = tokio::spawn(async move {
        let mut lines = FramedRead::new(stdout, LinesCodec::new_with_max_length(max_line));
        while let Some(line) = lines.next().await {
            match line {
                Ok(line) if line.trim().is_empty() => {}
                Ok(line) => match reader_core.upgrade() {
                    Some(core) => core.on_payload(&line, &server),
                    None => break,
                },
                Err(LinesCodecError::MaxLineLengthExceeded) => {
                    // The message is lost and nobody can tell which request
                    // it answered: fail the connection rather than leave a
                    // call waiting for an answer that will never come.
                    tracing::warn!(
                        server,
                        max_line,
                        "upstream message exceeds max_message_bytes; stopping the process"
                    );
                    if let Some(core) = reader_core.upgrade() {
                        core.fail_all(UpstreamError::Protocol(format!(
                            "the upstream sent a message larger than {max_line} bytes (max_message_bytes)"
                        )));
                        tokio::spawn(async move { core.close().await });
                    }
                    break;
                }
                Err(LinesCodecError::Io(e)) => {
                    tracing::warn!(server, error = %e, "reading upstream stdout failed");
                    break;
                }
            }
        }
    });
    tokio::spawn(log_stderr(opts.server.clone(), pid, stderr));

    let (stop_tx, stop_rx) = oneshot::channel::<oneshot::Sender<()>>();
    tokio::spawn(supervise(
        child,
        opts.server.clone(),
        Arc::downgrade(&core),
        reader,
        stop_rx,
        stop_writing,
        opts.metrics.clone(),
    ));
    core.set_closer(Box::new(move || {
        Box::pin(async move {
            let (done_tx, done_rx) = oneshot::channel();
            if stop_tx.send(done_tx).is_ok() {
                let _ = done_rx.await;
            }
        })
    }));
    Ok(core)
}

fn command(opts: &StdioOptions) -> Command {
    let mut cmd = Command::new(&opts.command[0]);
    cmd.args(&opts.command[1..]);
    match opts.inherit {
        InheritEnv::All => {}
        InheritEnv::Minimal => {
            cmd.env_clear();
            for key in MINIMAL_ENV {
                if let Ok(v) = std::env::var(key) {
                    cmd.env(key, v);
                }
            }
        }
        InheritEnv::None => {
            cmd.env_clear();
        }
    }
    cmd.envs(&opts.env);
    if let Some(cwd) = &opts.cwd {
        cmd.current_dir(cwd);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group: a Ctrl-C meant for the gateway does not hit the
    // servers directly, and the gateway shuts them down in order.
    #[cfg(unix)]
    cmd.process_group(0);
    cmd
}

async fn write_loop(
    mut stdin: ChildStdin,
    mut rx: mpsc::Receiver<Message>,
    stop: CancellationToken,
) {
    loop {
        let msg = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            m = rx.recv() => match m { Some(m) => m, None => break },
        };
        let line = msg.to_line();
        if stdin.write_all(&line).await.is_err() || stdin.flush().await.is_err() {
            break;
        }
    }
    // Dropping stdin closes it: the first step of a graceful stop.
    drop(stdin);
}

async fn log_stderr(server: String, pid: Option<u32>, stderr: tokio::process::ChildStderr) {
    let mut lines = FramedRead::new(stderr, LinesCodec::new_with_max_length(MAX_STDERR_LINE));
    while let Some(line) = lines.next().await {
        match line {
            Ok(line) => tracing::info!(target: "toolgate::upstream::stderr", server, pid, "{line}"),
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                tracing::info!(target: "toolgate::upstream::stderr", server, pid, "(line over {MAX_STDERR_LINE} bytes omitted)");
            }
            Err(LinesCodecError::Io(_)) => break,
        }
    }
}

/// Owns the child: reports its exit, or stops it when asked.
async fn supervise(
    mut child: Child,
    server: String,
    core: std::sync::Weak<ChannelCore>,
    reader: tokio::task::JoinHandle<()>,
    stop_rx: oneshot::Receiver<oneshot::Sender<()>>,
    stop_writing: CancellationToken,
    metrics: Option<Arc<Metrics>>,
) {
    let mut stop_rx = stop_rx;
    let (status, done) = tokio::select! {
        status = child.wait() => (status, None),
        done = &mut stop_rx => {
            stop_writing.cancel();
            (stop(&mut child, &server).await, done.ok())
        }
    };
    let status = match status {
        Ok(s) => s.to_string(),
        Err(e) => e.to_string(),
    };
    // Let the reader hand over what the process wrote before it died.
    let _ = tokio::time::timeout(SHUTDOWN_STEP, reader).await;
    if let Some(core) = core.upgrade() {
        core.fail_all(UpstreamError::Exited(status.clone()));
    }
    match done {
        Some(done) => {
            tracing::info!(server, %status, "upstream process stopped");
            let _ = done.send(());
        }
        None => {
            tracing::warn!(server, %status, "upstream process exited");
            if let Some(m) = metrics {
                m.process_crashed(&server);
            }
        }
    }
}

/// stdin is already closed: wait, then SIGTERM, wait, then SIGKILL.
async fn stop(child: &mut Child, server: &str) -> std::io::Result<std::process::ExitStatus> {
    if let Ok(status) = tokio::time::timeout(SHUTDOWN_STEP, child.wait()).await {
        return status;
    }
    #[cfg(unix)]
    if let Some(pid) = child.id() {
        tracing::debug!(server, pid, "upstream ignored stdin close; sending SIGTERM");
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if let Ok(status) = tokio::time::timeout(SHUTDOWN_STEP, child.wait()).await {
            return status;
        }
    }
    tracing::warn!(server, "upstream ignored SIGTERM; killing it");
    child.kill().await?;
    child.wait().await
}

#[cfg(test)]
mod tests;
