//! Commands and flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::audit_cmd::AuditCmd;
use crate::config_cmd::ConfigCmd;
use crate::grant_cmd::GrantCmd;
use crate::logging::{self, LogArgs};
use crate::policy_cmd::PolicyCmd;
use crate::serve;

/// toolgate: a policy gateway for the Model Context Protocol.
#[derive(Debug, Parser)]
#[command(name = "toolgate", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    pub(crate) log: LogArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: serve every configured server at /mcp/<server>.
    Serve(ConfigArg),
    /// Speak MCP over stdin/stdout to one client, as one grant, through the
    /// same pipeline (for desktop clients that only launch local servers).
    Stdio(StdioArgs),
    /// Bundled demo servers.
    #[command(subcommand)]
    Demo(Demo),
    /// Check, explain and test policy files.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Read, export, verify and replay the audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Show the effective configuration (secrets redacted), or check it.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Create, list and revoke grants in the gateway's store.
    #[command(subcommand)]
    Grant(GrantCmd),
}

#[derive(Debug, Args)]
pub(crate) struct ConfigArg {
    /// The configuration file.
    #[arg(long, short, default_value = "toolgate.yaml", env = "TOOLGATE_CONFIG")]
    pub(crate) config: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct StdioArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The server to front.
    #[arg(long, env = "TOOLGATE_SERVER")]
    pub(crate) server: String,
    /// The grant the client acts as (must be bound to the server).
    #[arg(long, env = "TOOLGATE_GRANT")]
    pub(crate) grant: String,
}

#[derive(Debug, Subcommand)]
enum Demo {
    /// A demo CRM MCP server over stdio (the Bitrix24 MCP server's 25 tools,
    /// in-memory data).
    Crm,
}

pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        // These read the config first: it may ask for trace export.
        Command::Serve(args) => serve::serve(&args.config, &cli.log).await,
        Command::Stdio(args) => serve::stdio(&args, &cli.log).await,
        other => {
            let _telemetry = logging::init(&cli.log, None)?;
            match other {
                Command::Demo(Demo::Crm) => Ok(toolgate_demo_crm::serve_stdio().await?),
                Command::Policy(cmd) => crate::policy_cmd::run(cmd).await,
                Command::Audit(cmd) => crate::audit_cmd::run(cmd).await,
                Command::Config(cmd) => crate::config_cmd::run(cmd),
                Command::Grant(cmd) => crate::grant_cmd::run(cmd).await,
                Command::Serve(_) | Command::Stdio(_) => Ok(()),
            }
        }
    }
}
