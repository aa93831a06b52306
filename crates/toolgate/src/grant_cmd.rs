//! `toolgate grant create|list|revoke`: grants in the gateway's store,
//! made and revoked while the gateway runs (every replica sees a change on
//! its next request).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use toolgate_gateway::auth::{GrantView, NewGrant, create_grant, list_grants, open_grant_store};
use toolgate_gateway::clock::{Clock, SystemClock};

/// Grant commands.
#[derive(Debug, Subcommand)]
pub(crate) enum GrantCmd {
    /// Make a grant and print its token (shown once; only its hash is kept).
    Create(CreateArgs),
    /// List grants: the configuration's and the store's, revoked ones included.
    List(ListArgs),
    /// Revoke a grant: its token stops working on the next request.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ConfigPath {
    /// The gateway's config file (its `grant_store`, servers and policies).
    #[arg(long, short, default_value = "toolgate.yaml", env = "TOOLGATE_CONFIG")]
    config: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    config: ConfigPath,
    /// A unique name, shown in audit records (e.g. alice-laptop).
    #[arg(long)]
    name: String,
    /// The server the grant opens.
    #[arg(long)]
    server: String,
    /// The policy its calls are held to.
    #[arg(long)]
    policy: Option<String>,
    /// Print the grant and token as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    config: ConfigPath,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    config: ConfigPath,
    /// The grant's name.
    name: String,
}

pub(crate) async fn run(cmd: GrantCmd) -> anyhow::Result<()> {
    let path = match &cmd {
        GrantCmd::Create(a) => &a.config.config,
        GrantCmd::List(a) => &a.config.config,
        GrantCmd::Revoke(a) => &a.config.config,
    };
    let config = toolgate_config::load(path)?;
    let store = open_grant_store(&config)
        .await
        .context("opening the grant store")?;
    let now = SystemClock.now();
    match cmd {
        GrantCmd::Create(a) => {
            let new = NewGrant {
                name: a.name,
                server: a.server,
                policy: a.policy,
            };
            let (grant, token) = create_grant(&config, store.as_ref(), new, now).await?;
            if a.json {
                let mut v = serde_json::to_value(&grant)?;
                v["token"] = token.into();
                println!("{v}");
            } else {
                eprintln!(
                    "grant {:?} for server {:?} created; its token is shown once:",
                    grant.name, grant.server
                );
                println!("{token}");
            }
        }
        GrantCmd::List(a) => {
            let grants = list_grants(&config, store.as_ref()).await?;
            if a.json {
                for g in &grants {
                    println!("{}", serde_json::to_string(g)?);
                }
            } else {
                print_table(&grants);
            }
        }
        GrantCmd::Revoke(a) => {
            toolgate_gateway::auth::revoke_grant(&config, store.as_ref(), &a.name, now).await?;
            eprintln!("grant {:?} revoked", a.name);
        }
    }
    Ok(())
}

fn print_table(grants: &[GrantView]) {
    println!(
        "{:<24} {:<14} {:<14} {:<7} {:<24} REVOKED",
        "NAME", "SERVER", "POLICY", "SOURCE", "CREATED"
    );
    for g in grants {
        println!(
            "{:<24} {:<14} {:<14} {:<7} {:<24} {}",
            g.name,
            g.server,
            g.policy.as_deref().unwrap_or("-"),
            g.source,
            g.created_at.as_deref().unwrap_or("-"),
            g.revoked_at.as_deref().unwrap_or("-"),
        );
    }
}
