//! Linux: inotify on the watched directories, for the events that finish a
//! change and no others.
//!
//! A SQLite audit log sits beside the config by default, and its WAL is
//! written on every commit. notify asks the kernel for every write and
//! open in a watched directory, so each commit woke notify's thread, which
//! preempted the audit writer on the core the data path runs on (about
//! 6,000 wake-ups a second at 20,000 calls a second, docs/benchmarks.md),
//! only for the event to be dropped by name. Unfinished writes are not
//! wanted anyway: a policy is read once it is closed or renamed into place.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::PathBuf;

use futures_util::StreamExt;
use inotify::{EventMask, EventStream, Inotify, WatchDescriptor, WatchMask};
use tokio::sync::mpsc::UnboundedSender;

use super::{Change, Source};

/// Closed after writing (saved in place), renamed in or out (editors,
/// config managers, Kubernetes swapping its `..data` link), created (a new
/// link) or deleted, or its metadata changed (`touch` to ask for a
/// reload). Not `MODIFY`, `OPEN`, `ACCESS` or `CLOSE_NOWRITE`: what busy
/// files beside the policies do all day.
fn mask() -> WatchMask {
    WatchMask::CLOSE_WRITE
        | WatchMask::MOVED_TO
        | WatchMask::MOVED_FROM
        | WatchMask::CREATE
        | WatchMask::DELETE
        | WatchMask::ATTRIB
        | WatchMask::ONLYDIR
}

type Events = EventStream<[u8; 4096]>;

/// Starts reading events for `dirs` on the runtime (no thread of its own:
/// the inotify descriptor is one more source in tokio's reactor).
pub(super) fn start(dirs: &BTreeSet<PathBuf>, tx: UnboundedSender<Change>) -> io::Result<Source> {
    let inotify = Inotify::init()?;
    let mut by_wd = HashMap::new();
    for dir in dirs {
        let wd = inotify.watches().add(dir, mask())?;
        by_wd.insert(wd, dir.clone());
    }
    let events = inotify.into_event_stream([0u8; 4096])?;
    let task = tokio::spawn(forward(events, by_wd, tx));
    Ok(Box::new(AbortOnDrop(task)))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn forward(
    mut events: Events,
    by_wd: HashMap<WatchDescriptor, PathBuf>,
    tx: UnboundedSender<Change>,
) {
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "cannot read policy file events; changes now need SIGHUP or a restart");
                return;
            }
        };
        let change = if event.mask.contains(EventMask::Q_OVERFLOW) {
            // Events were lost: anything may have changed.
            Change::Everything
        } else if event.mask.contains(EventMask::IGNORED) {
            if let Some(dir) = by_wd.get(&event.wd) {
                tracing::warn!(dir = %dir.display(), "a policy directory was removed; changes there now need SIGHUP or a restart");
            }
            continue;
        } else {
            match (by_wd.get(&event.wd), event.name) {
                (Some(dir), Some(name)) => Change::Path(dir.join(name)),
                _ => continue,
            }
        };
        if tx.send(change).is_err() {
            return;
        }
    }
}
