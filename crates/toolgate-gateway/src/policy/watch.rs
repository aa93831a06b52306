//! Hot reload: watch the directories of the policy files (editors and
//! config managers replace files by renaming, which a watch on the file
//! itself would miss), debounce, and reload what changed. SIGHUP reloads
//! every policy.

use std::collections::{BTreeSet, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::store::PolicyStore;

/// Events closer together than this are handled as one change.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// Keeps the watch alive; dropping it stops reloading.
pub struct WatchHandle {
    _watcher: Option<notify::RecommendedWatcher>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching every policy file of `store`.
pub fn watch(store: Arc<PolicyStore>) -> notify::Result<WatchHandle> {
    let (tx, rx) = mpsc::unbounded_channel::<PathBuf>();
    let names = policy_file_names(&store);
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            for path in event.paths {
                if names_a_policy(&names, &path) {
                    let _ = tx.send(path);
                }
            }
        }
    })?;
    let dirs: BTreeSet<PathBuf> = store
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
        .collect();
    for dir in &dirs {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    let watcher = (!dirs.is_empty()).then_some(watcher);
    let task = tokio::spawn(reload_loop(store, rx));
    Ok(WatchHandle {
        _watcher: watcher,
        task,
    })
}

/// The file names of the policies: the only names whose events matter.
fn policy_file_names(store: &PolicyStore) -> HashSet<OsString> {
    store
        .files()
        .values()
        .filter_map(|p| p.file_name().map(ToOwned::to_owned))
        .collect()
}

/// Whether an event's path can be a policy file. The watched directories
/// also hold other busy files, the SQLite audit log's WAL by default (it
/// sits beside the config): without this filter every audit commit woke
/// the reload task and cost it two `readlink`s per event on the runtime
/// thread, about 2,000 a second under load.
fn names_a_policy(names: &HashSet<OsString>, path: &Path) -> bool {
    path.file_name().is_some_and(|n| names.contains(n))
}

async fn reload_loop(store: Arc<PolicyStore>, mut rx: mpsc::UnboundedReceiver<PathBuf>) {
    let mut hup = hangup();
    loop {
        let mut changed = BTreeSet::new();
        tokio::select! {
            path = rx.recv() => match path {
                Some(p) => { changed.extend(store.names_for(&p)); }
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
                path = rx.recv() => match path {
                    Some(p) => { changed.extend(store.names_for(&p)); }
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
mod tests {
    use super::*;

    #[test]
    fn only_policy_file_names_pass_the_filter() {
        let names: HashSet<OsString> = ["crm.json", "fs.yaml"].iter().map(OsString::from).collect();
        // The file itself, and the target of an editor's rename.
        assert!(names_a_policy(&names, Path::new("/etc/toolgate/crm.json")));
        assert!(names_a_policy(&names, Path::new("policies/fs.yaml")));
        // The audit log and its WAL beside the config, editor leftovers.
        for other in [
            "/etc/toolgate/toolgate.db",
            "/etc/toolgate/toolgate.db-wal",
            "/etc/toolgate/toolgate.db-shm",
            "/etc/toolgate/.crm.json.swp",
            "/etc/toolgate/crm.json~",
            "/etc/toolgate",
        ] {
            assert!(!names_a_policy(&names, Path::new(other)), "{other}");
        }
    }
}
