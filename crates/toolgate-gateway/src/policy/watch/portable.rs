//! Elsewhere than Linux: the notify crate. It reports every write in the
//! watched directories, so events are filtered by file name here: only a
//! policy's own name passes. (Compiled and tested on Linux too, where
//! `linux.rs` is used instead.)

use std::collections::{BTreeSet, HashSet};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

use super::{Change, Source};

pub(super) fn start(
    dirs: &BTreeSet<PathBuf>,
    names: HashSet<OsString>,
    tx: UnboundedSender<Change>,
) -> io::Result<Source> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            for path in event.paths {
                if names_a_policy(&names, &path) {
                    let _ = tx.send(Change::Path(path));
                }
            }
        }
    })
    .map_err(io::Error::other)?;
    for dir in dirs {
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(io::Error::other)?;
    }
    Ok(Box::new(watcher))
}

/// Whether an event's path can be a policy file. The watched directories
/// also hold other busy files, the SQLite audit log's WAL by default (it
/// sits beside the config): without this filter every audit commit woke
/// the reload task and cost it two `readlink`s per event on the runtime
/// thread, about 2,000 a second under load.
fn names_a_policy(names: &HashSet<OsString>, path: &Path) -> bool {
    path.file_name().is_some_and(|n| names.contains(n))
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
