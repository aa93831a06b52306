//! A process's CPU time and resident memory, from `/proc`.
//!
//! The comparison charges each proxy for the CPU its own process spent
//! (user + system, every thread) during a round, divided by the calls it
//! served, so a busy machine inflates latencies but not this figure.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// Why `/proc` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// The file could not be read (the process is gone, or no `/proc`).
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file did not have the expected shape.
    #[error("unexpected {what}: {detail}")]
    Parse {
        /// Which file.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// CPU time a process has used, in clock ticks (`CLK_TCK`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// User time (`/proc/<pid>/stat` field 14).
    pub utime: u64,
    /// System time (field 15).
    pub stime: u64,
}

impl CpuTicks {
    /// User plus system.
    pub fn total(&self) -> u64 {
        self.utime + self.stime
    }
}

/// Parses `/proc/<pid>/stat`. The second field (the command name, in
/// parentheses) may contain spaces and parentheses, so fields are counted
/// from the last `)`.
pub fn parse_stat(text: &str) -> Result<CpuTicks, ProcError> {
    let bad = |detail: &str| ProcError::Parse {
        what: "/proc/<pid>/stat",
        detail: detail.to_owned(),
    };
    let close = text.rfind(')').ok_or_else(|| bad("no ')' after comm"))?;
    // After ')' come fields 3 (state), 4, ...: field n is at index n - 3.
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let field = |n: usize| -> Result<u64, ProcError> {
        let s = fields
            .get(n - 3)
            .ok_or_else(|| bad(&format!("only {} fields", fields.len() + 2)))?;
        s.parse()
            .map_err(|_| bad(&format!("field {n} is not a number: {s:?}")))
    };
    Ok(CpuTicks {
        utime: field(14)?,
        stime: field(15)?,
    })
}

/// The command name in `/proc/<pid>/stat` (or a task's): between the first
/// `(` and the last `)`.
pub fn parse_stat_comm(text: &str) -> Result<&str, ProcError> {
    let open = text.find('(');
    let close = text.rfind(')');
    match (open, close) {
        (Some(o), Some(c)) if o < c => Ok(&text[o + 1..c]),
        _ => Err(ProcError::Parse {
            what: "/proc/<pid>/stat",
            detail: "no (comm)".to_owned(),
        }),
    }
}

/// Parses `VmRSS` out of `/proc/<pid>/status`, in bytes.
pub fn parse_vm_rss(status: &str) -> Result<u64, ProcError> {
    let bad = |detail: String| ProcError::Parse {
        what: "/proc/<pid>/status",
        detail,
    };
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .ok_or_else(|| bad("no VmRSS line".into()))?;
    let mut parts = line.split_whitespace();
    let n: u64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("VmRSS:{line}")))?;
    match parts.next() {
        Some("kB") => Ok(n * 1024),
        other => Err(bad(format!("VmRSS unit {other:?}"))),
    }
}

fn read(pid: u32, file: &str) -> Result<String, ProcError> {
    let path = PathBuf::from(format!("/proc/{pid}/{file}"));
    std::fs::read_to_string(&path).map_err(|source| ProcError::Read { path, source })
}

/// The CPU time process `pid` has used so far (all its threads).
pub fn cpu_ticks(pid: u32) -> Result<CpuTicks, ProcError> {
    parse_stat(&read(pid, "stat")?)
}

/// The name and CPU time of each of process `pid`'s threads so far, by
/// thread id (the kernel keeps 15 bytes of a name: the SQLite audit thread,
/// `toolgate-audit-sqlite`, reads `toolgate-audit-`). A thread that ends
/// between the listing and its reading is left out.
pub fn thread_ticks(pid: u32) -> Result<BTreeMap<u32, (String, u64)>, ProcError> {
    let dir = PathBuf::from(format!("/proc/{pid}/task"));
    let tasks = std::fs::read_dir(&dir).map_err(|source| ProcError::Read {
        path: dir.clone(),
        source,
    })?;
    let mut threads = BTreeMap::new();
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let ticks = parse_stat(&text)?.total();
        threads.insert(tid, (parse_stat_comm(&text)?.to_owned(), ticks));
    }
    Ok(threads)
}

/// The resident set size of process `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> Result<u64, ProcError> {
    parse_vm_rss(&read(pid, "status")?)
}

/// Clock ticks per second (`getconf CLK_TCK`); 100, Linux's value on every
/// common architecture, if `getconf` is missing.
pub fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// The CPUs this process may run on (`Cpus_allowed_list` of
/// `/proc/self/status`), e.g. `0` or `0-1`.
pub fn allowed_cpus() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real line from a toolgate process, with a comm that has a space and
    // a parenthesis in it to check the fields are counted from the last ')'.
    const STAT: &str = "4242 (tokio (rt) x) S 4200 4242 4200 0 -1 4194560 1523 0 0 0 \
                        731 129 0 0 20 0 3 0 123456 98304000 4321 18446744073709551615 \
                        1 1 0 0 0 0 0 4096 17475 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn stat_user_and_system_ticks() {
        let t = parse_stat(STAT).unwrap();
        assert_eq!(
            t,
            CpuTicks {
                utime: 731,
                stime: 129
            }
        );
        assert_eq!(t.total(), 860);
    }

    #[test]
    fn stat_comm_keeps_its_parentheses_and_spaces() {
        assert_eq!(parse_stat_comm(STAT).unwrap(), "tokio (rt) x");
        assert!(parse_stat_comm("1 x) S (").is_err());
    }

    #[test]
    fn threads_of_this_process_by_id_and_name() {
        let name = "tg-load-test-th";
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready) = std::sync::mpsc::channel::<u64>();
        let spinner = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // Busy until the kernel has charged it two ticks (however
                // long a busy machine takes), then parked until read.
                let own = || {
                    std::fs::read_to_string("/proc/thread-self/stat")
                        .map(|t| parse_stat(&t).unwrap().total())
                        .unwrap()
                };
                while own() < 2 {
                    std::hint::black_box(0u64.wrapping_add(1));
                }
                ready_tx.send(own()).unwrap();
                let _ = rx.recv();
            })
            .unwrap();
        let spun = ready.recv().unwrap();
        let threads = thread_ticks(std::process::id()).unwrap();
        tx.send(()).unwrap();
        spinner.join().unwrap();
        let mine: Vec<_> = threads.values().filter(|(n, _)| n == name).collect();
        assert_eq!(mine.len(), 1, "{threads:?}");
        assert!(mine[0].1 >= spun, "{threads:?}");
        // Every thread's ticks are in the process's total.
        let sum: u64 = threads.values().map(|(_, t)| t).sum();
        assert!(
            sum <= cpu_ticks(std::process::id()).unwrap().total(),
            "{threads:?}"
        );
    }

    #[test]
    fn stat_too_short_or_garbled() {
        assert!(parse_stat("1 (x) S 1 2 3").is_err());
        assert!(parse_stat("no parenthesis at all").is_err());
        let garbled = STAT.replace(" 731 ", " x ");
        assert!(parse_stat(&garbled).is_err());
    }

    #[test]
    fn stat_of_this_process() {
        let t = cpu_ticks(std::process::id()).unwrap();
        // Monotonic: reading again never goes backwards.
        assert!(cpu_ticks(std::process::id()).unwrap().total() >= t.total());
    }

    #[test]
    fn vm_rss_in_bytes() {
        let status = "Name:\ttoolgate\nVmPeak:\t  200000 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status).unwrap(), 12_345 * 1024);
        assert!(parse_vm_rss("Name:\tx\n").is_err());
        assert!(parse_vm_rss("VmRSS:\t 12 MB\n").is_err());
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn ticks_per_second_is_positive() {
        assert!(ticks_per_second() > 0);
    }
}
