//! Finding server binaries, picking ports, and running a program as another
//! user (PostgreSQL will not run as root).

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A port on 127.0.0.1 that was free a moment ago (bound, then released),
/// chosen below the kernel's ephemeral range.
///
/// Below that range because servers are restarted on the same port (tests of
/// outages): a port from the ephemeral range, once its server is down, can
/// become the source port of any outgoing connection on the machine, which
/// then keeps the server from binding it again (seen in CI: "Address already
/// in use" on a Redis restart 24 ms after the kill). Ports are handed out from
/// a random start, each at most once per process until the range wraps.
/// Another process may still take one before the caller binds it, so servers
/// started on it are retried on a fresh port when they fail to bind.
///
/// # Panics
/// When no port in the range can be bound.
pub fn free_port() -> u16 {
    let (low, high) = port_range();
    let span = u32::from(high - low);
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    // The first caller picks the random start; later ones step from it.
    let _ = NEXT.compare_exchange(
        u32::MAX,
        random_u32() % span,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % span;
        let port = low + u16::try_from(offset).unwrap_or(0);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("toolgate-testdb: no free port on 127.0.0.1 in {low}..{high}")
}

/// Ports from 10000 up to the start of the ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`, 32768 when unreadable).
fn port_range() -> (u16, u16) {
    const LOW: u16 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    // A machine whose ephemeral range starts low leaves nothing below it:
    // fall back to a slice just above 10000 and accept the rare clash.
    (LOW, ephemeral_low.max(LOW + 5_000))
}

/// Seeded by std's per-process random hash keys; no crate needed for this.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    (h.finish() >> 32) as u32
}

/// A name no other handle of this process, nor of another live process, uses.
pub(crate) fn unique_suffix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The first directory holding every one of `names`: `PATH`, then `extra`.
pub(crate) fn find_bin_dir(names: &[&str], extra: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .find(|dir| names.iter().all(|n| is_executable(&dir.join(n))))
}

fn is_executable(p: &Path) -> bool {
    p.metadata()
        .map(|m| m.is_file() && m.mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `/usr/lib/postgresql/<version>/bin`, newest version first (Debian's layout).
pub(crate) fn debian_pg_dirs() -> Vec<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    versions.into_iter().map(|(_, p)| p).collect()
}

/// Another user to run a program as, because we are root.
#[derive(Clone, Debug)]
pub(crate) struct RunAs {
    user: String,
    uid: u32,
    gid: u32,
    /// `runuser` if installed (no PAM session, no password), else `su`.
    runuser: Option<PathBuf>,
}

impl RunAs {
    /// `None` when the process is not root (it runs servers itself);
    /// otherwise the `postgres` user if it exists, else `nobody`.
    pub(crate) fn for_postgres() -> Option<RunAs> {
        let euid = Command::new("id")
            .arg("-u")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse::<u32>().ok());
        if euid != Some(0) {
            return None;
        }
        let (user, uid, gid) = ["postgres", "nobody"]
            .iter()
            .find_map(|u| Some((u.to_string(), id_of(u, "-u")?, id_of(u, "-g")?)))
            .unwrap_or_else(|| {
                panic!(
                    "toolgate-testdb: running as root, and PostgreSQL refuses to; \
                     neither a `postgres` nor a `nobody` user exists to run it as"
                )
            });
        let sbin = [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")];
        let runuser = find_bin_dir(&["runuser"], &sbin).map(|d| d.join("runuser"));
        Some(RunAs {
            user,
            uid,
            gid,
            runuser,
        })
    }

    /// Gives `path` to the user.
    pub(crate) fn chown(&self, path: &Path) {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).unwrap_or_else(|e| {
            panic!(
                "toolgate-testdb: chown {} to {}: {e}",
                path.display(),
                self.user
            )
        });
    }
}

fn id_of(user: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, user]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// A command running `program args` as `run_as` (or as ourselves).
pub(crate) fn command(run_as: Option<&RunAs>, program: &Path, args: &[String]) -> Command {
    match run_as {
        None => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
        Some(RunAs {
            user,
            runuser: Some(runuser),
            ..
        }) => {
            let mut c = Command::new(runuser);
            c.args(["-u", user.as_str(), "--"]).arg(program).args(args);
            c
        }
        Some(RunAs {
            user,
            runuser: None,
            ..
        }) => {
            // su takes one shell command line; the user's shell may be nologin.
            let line = std::iter::once(program.display().to_string())
                .chain(args.iter().cloned())
                .map(|a| shell_quote(&a))
                .collect::<Vec<_>>()
                .join(" ");
            let mut c = Command::new("su");
            c.args(["-s", "/bin/sh", user.as_str(), "-c"])
                .arg(format!("exec {line}"));
            c
        }
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The last lines of a log file, for panic messages.
pub(crate) fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_single_quotes_for_sh() {
        assert_eq!(shell_quote("a'b c"), r"'a'\''b c'");
    }

    #[test]
    fn free_ports_are_bindable_distinct_and_below_the_ephemeral_range() {
        let (low, high) = port_range();
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        for &port in &ports {
            assert!((low..high).contains(&port), "{port} not in {low}..{high}");
            TcpListener::bind(("127.0.0.1", port)).unwrap();
        }
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
    }

    #[test]
    fn a_taken_port_is_skipped() {
        // Another process may take a port between `free_port`'s probe and
        // this bind (tests of other crates run beside this one): try another.
        let taken = (0..100)
            .find_map(|_| TcpListener::bind(("127.0.0.1", free_port())).ok())
            .expect("a port to hold");
        let taken_port = taken.local_addr().unwrap().port();
        let (low, high) = port_range();
        let span = usize::from(high - low);
        // However far the counter has gone, one full turn meets the taken port
        // again; it must never be handed out while held.
        assert!((0..span).map(|_| free_port()).all(|p| p != taken_port));
    }
}
