//! The policies in force: compiled once, read lock-free by every request,
//! swapped atomically when a file changes. A file that fails to compile is
//! never swapped in: the previous version keeps serving and the error is
//! logged with its file, line, column and path.

mod replace;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use foldhash::{HashMap, HashMapExt as _};
use toolgate_config::Config;
use toolgate_policy::{Policy, PolicyError};

use crate::metrics::Metrics;

pub use replace::ReplaceError;

/// Why a policy file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid policy.
    #[error(transparent)]
    Invalid(#[from] PolicyError),
}

/// What a reload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reloaded {
    /// The file's content is what is already in force.
    Unchanged,
    /// A new version is in force.
    Swapped {
        /// The new version.
        version: String,
    },
}

/// Policies by name.
pub struct PolicyStore {
    files: BTreeMap<String, PathBuf>,
    current: ArcSwap<HashMap<String, Arc<Policy>>>,
    metrics: Option<Arc<Metrics>>,
    /// Serializes replacements, so the file on disk and the version in
    /// force change in the same order.
    writes: parking_lot::Mutex<()>,
}

impl PolicyStore {
    /// Loads every policy named in the config; any error fails the whole
    /// load (the gateway does not start with a broken policy).
    pub fn load(
        config: &Config,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Arc<PolicyStore>, LoadError> {
        let files: BTreeMap<String, PathBuf> = config
            .policies
            .iter()
            .map(|(name, path)| (name.clone(), config.resolve_path(path)))
            .collect();
        let mut map = HashMap::new();
        for (name, path) in &files {
            map.insert(name.clone(), Arc::new(read(path)?));
        }
        Ok(Arc::new(PolicyStore {
            files,
            current: ArcSwap::from_pointee(map),
            metrics,
            writes: parking_lot::Mutex::new(()),
        }))
    }

    /// The policy in force under `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Policy>> {
        self.current.load().get(name).cloned()
    }

    /// Every policy's name and file.
    pub fn files(&self) -> &BTreeMap<String, PathBuf> {
        &self.files
    }

    /// Re-reads one policy's file; swaps it in if it compiles.
    pub fn reload(&self, name: &str) -> Result<Reloaded, LoadError> {
        let Some(path) = self.files.get(name) else {
            return Ok(Reloaded::Unchanged);
        };
        let policy = read(path)?;
        if self
            .get(name)
            .is_some_and(|p| p.version() == policy.version())
        {
            return Ok(Reloaded::Unchanged);
        }
        let version = policy.version().to_owned();
        self.swap_in(name, Arc::new(policy));
        Ok(Reloaded::Swapped { version })
    }

    /// Puts `policy` in force under `name`, leaving the others as they are.
    fn swap_in(&self, name: &str, policy: Arc<Policy>) {
        self.current.rcu(|map| {
            let mut next = HashMap::clone(map);
            next.insert(name.to_owned(), policy.clone());
            next
        });
    }

    /// Reloads `name`, logging the outcome: the error (with its position)
    /// when the new file is invalid, the new version when it is in force.
    pub fn reload_and_log(&self, name: &str) {
        match self.reload(name) {
            Ok(Reloaded::Swapped { version }) => {
                tracing::info!(policy = name, %version, "policy reloaded");
                if let Some(m) = &self.metrics {
                    m.policy_reload(name, "ok");
                }
            }
            Ok(Reloaded::Unchanged) => {}
            Err(e) => {
                if let Some(m) = &self.metrics {
                    m.policy_reload(name, "invalid");
                }
                let keeps = self
                    .get(name)
                    .map(|p| p.version().to_owned())
                    .unwrap_or_default();
                tracing::error!(policy = name, error = %e, keeps = %keeps, "invalid policy file rejected; the previous version keeps serving");
            }
        }
    }

    /// The names of the policies stored in `path`.
    pub(crate) fn names_for(&self, path: &Path) -> Vec<String> {
        self.files
            .iter()
            .filter(|(_, p)| same_file(p, path))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The names of the policies whose files are in `dir`.
    pub(crate) fn names_in(&self, dir: &Path) -> Vec<String> {
        let Some(dir) = canonical_dir(Some(dir)) else {
            return Vec::new();
        };
        self.files
            .iter()
            .filter(|(_, p)| canonical_dir(p.parent()).as_ref() == Some(&dir))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

fn read(path: &Path) -> Result<Policy, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(Policy::from_str_auto(&text, &path.display().to_string())?)
}

/// Compares paths by their canonical parent directory and file name (the
/// file itself may not exist mid-rename).
fn same_file(a: &Path, b: &Path) -> bool {
    let key = |p: &Path| {
        (
            canonical_dir(p.parent()),
            p.file_name().map(ToOwned::to_owned),
        )
    };
    key(a) == key(b)
}

/// A directory's canonical path; `""` (a bare file name's parent) is `.`.
fn canonical_dir(dir: Option<&Path>) -> Option<PathBuf> {
    let dir = dir?;
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::canonicalize(dir).ok()
}
