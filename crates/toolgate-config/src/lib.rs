//! toolgate's configuration file.
//!
//! `toolgate.yaml` is read in three steps: YAML into the typed, strict
//! schema below (unknown keys are errors, with line and column); `${VAR}`
//! expansion of the string values that may hold secrets or paths; then
//! validation of cross-references (a grant's server exists, names are
//! unique, ...). Only this crate reads configuration files.
#![forbid(unsafe_code)]

mod expand;
mod redact;
mod schema;
mod secret_file;
mod units;
mod validate;

use std::path::{Path, PathBuf};

pub use expand::{Env, ExpandError};
pub use redact::{REDACTED, redact_url};
pub use schema::*;
pub use units::{ByteSize, Seconds};
pub use validate::OAUTH_ALGORITHMS;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML does not match the schema.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A `${VAR}` could not be expanded.
    #[error("{path}: {field}: {source}")]
    Expand {
        /// The file.
        path: PathBuf,
        /// The dotted path of the value, e.g. `servers.crm.env.API_KEY`.
        field: String,
        /// What went wrong.
        source: ExpandError,
    },
    /// The values are well-formed but inconsistent.
    #[error("{path}: {field}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The dotted path of the offending value.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads, expands and validates a configuration file, taking `${VAR}`
/// values from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path, &Env::process())
}

/// Parses configuration text. `path` names the file in errors, and its
/// directory is the base for relative paths (policies, `cwd`).
pub fn parse(text: &str, path: &Path, env: &Env) -> Result<Config, ConfigError> {
    let mut config: Config = yaml_serde::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        ConfigError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message: e.to_string(),
        }
    })?;
    config.base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    expand::expand_config(&mut config, env).map_err(|(field, source)| ConfigError::Expand {
        path: path.to_owned(),
        field,
        source,
    })?;
    validate::validate(&config).map_err(|(field, message)| ConfigError::Invalid {
        path: path.to_owned(),
        field,
        message,
    })?;
    Ok(config)
}

#[cfg(test)]
mod tests;
