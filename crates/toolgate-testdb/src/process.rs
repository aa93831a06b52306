//! Finding server binaries, picking ports, and running a program as another
//! user (PostgreSQL will not run as root).

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A port on 127.0.0.1 that was free a moment ago (bound, then released).
///
/// Another process may take it before the caller binds it, so servers started
/// on it are retried on a fresh port when they fail to bind.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("toolgate-testdb: cannot bind 127.0.0.1:0: {e}"));
    let port = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("toolgate-testdb: no local address: {e}"))
        .port();
    drop(listener);
    port
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
    fn free_ports_are_bindable() {
        let port = free_port();
        assert_ne!(port, 0);
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
}
