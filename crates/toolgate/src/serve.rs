//! `toolgate serve` and `toolgate stdio`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use toolgate_gateway::Gateway;
use toolgate_gateway::policy::WatchHandle;

use crate::cli::StdioArgs;
use crate::logging::LogArgs;

pub(crate) async fn serve(config_path: &Path, log: &LogArgs) -> anyhow::Result<()> {
    let config = toolgate_config::load(config_path)?;
    let _telemetry = crate::logging::init(log, config.telemetry.as_ref())?;
    let addr = config.listen_addr();
    let gw = Gateway::standard(config).await?;
    let _reload = start_policy_watch(&gw);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    gw.start_background();
    let running = toolgate_gateway::server::serve(gw.clone(), listener)?;
    for name in gw.servers.keys() {
        tracing::info!("serving {name} at http://{}/mcp/{name}", running.addr);
    }
    tracing::info!(
        addr = %running.addr,
        runtime = %crate::runtime::describe(),
        "toolgate listening; health at /healthz"
    );
    let admin = match gw.config.admin.as_ref().map(|a| a.listen.clone()) {
        Some(admin_addr) => {
            let l = tokio::net::TcpListener::bind(&admin_addr)
                .await
                .with_context(|| format!("cannot listen on {admin_addr} (admin)"))?;
            let admin = toolgate_gateway::server::serve_admin(gw.clone(), l)?;
            let api = gw
                .config
                .admin
                .as_ref()
                .is_some_and(|a| a.token.is_some() || a.token_sha256.is_some());
            if api {
                tracing::info!(addr = %admin.addr, "admin listener: /metrics, /healthz, admin API at /api/v1/");
            } else {
                tracing::info!(addr = %admin.addr, "admin listener: /metrics, /healthz (admin API off: set admin.token)");
            }
            Some(admin)
        }
        None => None,
    };
    wait_for_signal().await;
    tracing::info!("shutting down: draining requests");
    running.shutdown().await;
    if let Some(a) = admin {
        a.shutdown().await;
    }
    gw.shutdown().await;
    Ok(())
}

/// Watches the policy files for hot reload (and SIGHUP). A failure to
/// watch is logged, not fatal: the policies loaded at start keep serving,
/// but changes then need a restart.
fn start_policy_watch(gw: &Gateway) -> Option<WatchHandle> {
    let store = gw.policies.clone()?;
    match toolgate_gateway::policy::watch(store) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!(error = %e, "cannot watch policy files; changes need a restart");
            None
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub(crate) async fn stdio(args: &StdioArgs, log: &LogArgs) -> anyhow::Result<()> {
    let config = toolgate_config::load(&args.config.config)?;
    // stdout carries the MCP stream here: audit lines there would corrupt it.
    anyhow::ensure!(
        !matches!(config.audit.jsonl.as_deref(), Some("stdout" | "-")),
        "audit.jsonl: stdout cannot be used with `toolgate stdio` (stdout carries MCP); use a file"
    );
    let _telemetry = crate::logging::init(log, config.telemetry.as_ref())?;
    let gw = Gateway::standard(config).await?;
    let _reload = start_policy_watch(&gw);
    let server = gw
        .server(&args.server)
        .cloned()
        .with_context(|| format!("no server named {:?} in the config", args.server))?;
    let principal = gw
        .auth
        .by_name(&args.grant)
        .await?
        .with_context(|| format!("no live grant named {:?}", args.grant))?;
    anyhow::ensure!(
        *principal.server == *args.server,
        "grant {:?} is bound to server {:?}, not {:?}",
        args.grant,
        principal.server,
        args.server
    );
    let result = toolgate_gateway::stdio_front::serve_stdio(
        Arc::clone(&gw),
        server,
        principal,
        tokio::io::stdin(),
        tokio::io::stdout(),
    )
    .await;
    gw.shutdown().await;
    Ok(result?)
}
