//! `toolgate config show|check`: what the gateway will actually run with.
//!
//! `show` prints the configuration after `${VAR}` and `${file:…}`
//! expansion, so a person can see which values the environment and secret
//! files supplied, without the secrets themselves: it goes through
//! [`Config::redacted`], never the loaded values. `check` is the load a
//! `serve` would do (schema, expansion, validation, policy files), for CI
//! and deploy scripts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use serde::Serialize;
use toolgate_audit::SinkConfig;
use toolgate_config::{Config, redact_url};
use toolgate_policy::Policy;

use crate::cli::ConfigArg;

/// Configuration tooling.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCmd {
    /// Print the effective configuration (after expansion) as YAML, with
    /// every secret shown as `<redacted>`, and what it resolves to.
    Show(ConfigArg),
    /// Load and validate the configuration and its policy files: print
    /// "ok" or the error, naming the field.
    Check(ConfigArg),
}

pub(crate) fn run(cmd: ConfigCmd) -> anyhow::Result<()> {
    match cmd {
        ConfigCmd::Show(args) => show(&args.config),
        ConfigCmd::Check(args) => check(&args.config),
    }
}

/// Values worth seeing that the file does not spell out.
#[derive(Serialize)]
struct Derived {
    /// Relative paths are resolved against it.
    base_dir: PathBuf,
    /// The audit sink with relative SQLite paths resolved.
    audit_sink: String,
    /// The grant store once `auto` is resolved; `none` without one.
    grant_store: String,
    /// Each server's endpoint as clients reach it (its OAuth resource).
    resource_urls: BTreeMap<String, String>,
}

fn show(path: &Path) -> anyhow::Result<()> {
    let config = toolgate_config::load(path)?;
    // Everything printed comes from the redacted copy, so nothing below
    // can leak a secret by mistake.
    let shown = config.redacted();
    // Absolute for display only: `.` says nothing once the output is
    // pasted into a ticket.
    let base_dir = std::path::absolute(&shown.base_dir).unwrap_or(shown.base_dir.clone());
    let derived = Derived {
        audit_sink: store_url(&shown.audit.sink, &base_dir),
        grant_store: shown
            .grant_store_url()
            .map_or_else(|| "none".to_owned(), |u| store_url(u, &base_dir)),
        resource_urls: shown
            .servers
            .keys()
            .map(|name| (name.clone(), shown.resource_url(name)))
            .collect(),
        base_dir,
    };
    println!(
        "# {}, after ${{VAR}} and ${{file:…}} expansion; secrets are <redacted>",
        path.display()
    );
    print!("{}", yaml_serde::to_string(&shown)?);
    println!("---\n# derived from it (not settings)");
    print!("{}", yaml_serde::to_string(&derived)?);
    Ok(())
}

/// A database URL as the audit log and grant store open it: relative
/// SQLite paths resolved, credentials dropped.
fn store_url(url: &str, base_dir: &Path) -> String {
    SinkConfig::parse(url, base_dir).map_or_else(|_| redact_url(url), |s| s.to_string())
}

fn check(path: &Path) -> anyhow::Result<()> {
    let config = toolgate_config::load(path)?;
    check_policies(&config)?;
    println!(
        "ok  {}  {} servers · {} grants · {} policies",
        path.display(),
        config.servers.len(),
        config.grants.len(),
        config.policies.len()
    );
    Ok(())
}

/// The policy files compile, as `serve` would require.
fn check_policies(config: &Config) -> anyhow::Result<()> {
    for (name, file) in &config.policies {
        let file = config.resolve_path(file);
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("policies.{name}: cannot read {}", file.display()))?;
        Policy::from_str_auto(&text, &file.display().to_string())
            .map_err(|e| anyhow::anyhow!("policies.{name}: {e}"))?;
    }
    Ok(())
}
