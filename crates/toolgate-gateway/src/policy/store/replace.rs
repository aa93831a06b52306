//! Replacing a policy from text (the admin API's `PUT`). The text is
//! compiled the way its file will be read; only then is it written, next
//! to the old file and renamed over it, so neither the watcher nor a
//! reader ever sees half a file; and it is swapped in at once, so the new
//! version is in force when the caller hears back. Invalid text writes
//! nothing and the old version keeps serving.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toolgate_policy::{Policy, PolicyError};

use super::PolicyStore;

/// Why a policy could not be validated or replaced.
#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    /// No policy of that name is configured.
    #[error("no policy named {0:?}")]
    Unknown(String),
    /// The text is not a valid policy (`file:line:column: path: message`).
    #[error(transparent)]
    Invalid(PolicyError),
    /// The file could not be written; the old version is still in force.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The policy file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl PolicyStore {
    /// Compiles `text` as policy `name`'s file: strictly JSON when the file
    /// is `.json`, else JSON or YAML by its first character, as the store
    /// reads every file. Nothing is written or swapped.
    pub fn compile(&self, name: &str, text: &str) -> Result<Policy, ReplaceError> {
        let path = self
            .files
            .get(name)
            .ok_or_else(|| ReplaceError::Unknown(name.to_owned()))?;
        compile_as(path, text).map_err(ReplaceError::Invalid)
    }

    /// Validates `text`, writes it over policy `name`'s file atomically and
    /// puts it in force. Returns the new version.
    pub fn replace(&self, name: &str, text: &str) -> Result<String, ReplaceError> {
        let policy = self.compile(name, text)?;
        let Some(path) = self.files.get(name) else {
            return Err(ReplaceError::Unknown(name.to_owned()));
        };
        let _serial = self.writes.lock();
        // A symlinked file (a mounted secret, say) is replaced at its target
        // so the link survives.
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        write_atomically(&target, text.as_bytes()).map_err(|source| ReplaceError::Write {
            path: path.clone(),
            source,
        })?;
        let version = policy.version().to_owned();
        self.swap_in(name, Arc::new(policy));
        if let Some(m) = &self.metrics {
            m.policy_reload(name, "ok");
        }
        tracing::info!(policy = name, %version, "policy replaced through the admin API");
        Ok(version)
    }
}

fn compile_as(path: &Path, text: &str) -> Result<Policy, PolicyError> {
    let source = path.display().to_string();
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        Policy::from_json_str(text, &source)
    } else {
        Policy::from_str_auto(text, &source)
    }
}

/// Writes a temporary file in `path`'s directory (with the old file's
/// permissions), syncs it and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        if let Ok(old) = std::fs::metadata(path) {
            file.set_permissions(old.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    // The rename is durable once the directory is; failing that is no
    // reason to report a write that took place.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
