//! Hot reload: watch the directories of the policy files (editors and
//! config managers replace files by renaming, and Kubernetes swaps a
//! `..data` link that a mounted file points through, which a watch on the
//! file itself would miss), debounce, and reload what changed. SIGHUP
//! reloads every policy.
//!
//! The events come from inotify on Linux (`linux.rs`: only the events that
//! finish a change), from the notify crate elsewhere (`portable.rs`).

#[cfg(target_os = "linux")]
mod linux;
#[cfg_attr(target_os = "linux", allow(dead_code))]
mod portable;

use std::collections::{BTreeSet, HashSet};
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::store::PolicyStore;

/// Events closer together than this are handled as one change.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// What a source of events reports.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    /// Something at this path changed: a policy file, or a link or
    /// directory in a policy's directory that its path may go through.
    Path(PathBuf),
    /// Events were lost; anything may have changed.
    Everything,
}

/// Whatever keeps a source of events running; dropped to stop it.
type Source = Box<dyn std::any::Any + Send + Sync>;

/// Keeps the watch alive; dropping it stops reloading.
pub struct WatchHandle {
    _source: Option<Source>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching every policy file of `store`.
pub fn watch(store: Arc<PolicyStore>) -> io::Result<WatchHandle> {
    let (tx, rx) = mpsc::unbounded_channel();
    let dirs = policy_dirs(&store);
    let source = if dirs.is_empty() {
        None
    } else {
        Some(start_source(&dirs, &store, tx)?)
    };
    let task = tokio::spawn(reload_loop(store, rx));
    Ok(WatchHandle {
        _source: source,
        task,
    })
}

#[cfg(target_os = "linux")]
fn start_source(
    dirs: &BTreeSet<PathBuf>,
    _store: &PolicyStore,
    tx: mpsc::UnboundedSender<Change>,
) -> io::Result<Source> {
    linux::start(dirs, tx)
}

#[cfg(not(target_os = "linux"))]
fn start_source(
    dirs: &BTreeSet<PathBuf>,
    store: &PolicyStore,
    tx: mpsc::UnboundedSender<Change>,
) -> io::Result<Source> {
    portable::start(dirs, policy_file_names(store), tx)
}

/// The directories that hold the policy files.
fn policy_dirs(store: &PolicyStore) -> BTreeSet<PathBuf> {
    store
        .files()
        .values()
        .filter_map(|p| {
            p.parent().map(|d| {
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d.to_owned()
                }
            })
        })
        .collect()
}

/// The file names of the policies: the only names notify's events may
/// carry to be of use (see `portable.rs`).
#[cfg_attr(target_os = "linux", allow(dead_code))]
fn policy_file_names(store: &PolicyStore) -> HashSet<OsString> {
    store
        .files()
        .values()
        .filter_map(|p| p.file_name().map(ToOwned::to_owned))
        .collect()
}

/// The policies a change may have changed: the ones stored at its path,
/// else every one in its directory (a link such as Kubernetes' `..data`
/// that their paths go through; reloading an unchanged file changes
/// nothing).
fn affected(store: &PolicyStore, change: &Change) -> Vec<String> {
    match change {
        Change::Everything => store.files().keys().cloned().collect(),
        Change::Path(path) => {
            let named = store.names_for(path);
            if !named.is_empty() {
                return named;
            }
            path.parent()
                .map(|dir| store.names_in(dir))
                .unwrap_or_default()
        }
    }
}

async fn reload_loop(store: Arc<PolicyStore>, mut rx: mpsc::UnboundedReceiver<Change>) {
    let mut hup = hangup();
    loop {
        let mut changed = BTreeSet::new();
        tokio::select! {
            change = rx.recv() => match change {
                Some(c) => { changed.extend(affected(&store, &c)); }
                None => return,
            },
            () = next_hangup(&mut hup) => {
                tracing::info!("SIGHUP: reloading every policy");
                changed.extend(store.files().keys().cloned());
            }
        }
        // Let a burst of events (write, rename, chmod) settle.
        let settle = tokio::time::sleep(DEBOUNCE);
        tokio::pin!(settle);
        loop {
            tokio::select! {
                change = rx.recv() => match change {
                    Some(c) => { changed.extend(affected(&store, &c)); }
                    None => break,
                },
                () = &mut settle => break,
            }
        }
        for name in changed {
            store.reload_and_log(&name);
        }
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

#[cfg(unix)]
fn hangup() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangup() -> Hangup {}

#[cfg(unix)]
async fn next_hangup(h: &mut Hangup) {
    match h {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_h: &mut Hangup) {
    std::future::pending().await
}

#[cfg(test)]
mod tests;
