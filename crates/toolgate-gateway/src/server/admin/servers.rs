//! `GET /api/v1/servers`: the configured upstreams and their state. It
//! shows where a server is, never how it is reached: no headers, no
//! environment values, no arguments, no credentials or query in a URL.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::Uri;
use serde_json::{Value, json};
use toolgate_config::{ServerConfig, Transport};

use crate::gateway::Gateway;
use crate::runtime::{ServerRuntime, TransportKind};

/// Each server's name, transport, URL or program, readiness and last error.
pub(super) async fn list(State(gw): State<Arc<Gateway>>) -> Json<Value> {
    let servers: Vec<Value> = gw
        .servers
        .iter()
        .map(|(name, rt)| describe(name, rt))
        .collect();
    Json(json!({ "servers": servers }))
}

fn describe(name: &str, rt: &ServerRuntime) -> Value {
    let cfg = rt.config();
    let health = rt.health();
    let profile = rt.profile();
    // What probing found, else what the configuration says.
    let transport = profile
        .as_ref()
        .map_or_else(|| configured_transport(cfg), |p| p.transport);
    let mut out = json!({
        "name": name,
        "transport": transport,
        "ready": health.ready,
        "error": health.error,
    });
    if let Some(url) = cfg.url.as_deref() {
        out["url"] = public_url(url).into();
    }
    if let Some(program) = cfg.command.as_ref().and_then(|c| c.first()) {
        let base = std::path::Path::new(program)
            .file_name()
            .map_or_else(|| program.clone(), |n| n.to_string_lossy().into_owned());
        out["command"] = base.into();
    }
    if let Some(p) = profile {
        out["generation"] = format!("{:?}", p.generation).to_lowercase().into();
        out["protocol"] = p.info.protocol.map(|v| v.as_str()).into();
    }
    out
}

fn configured_transport(cfg: &ServerConfig) -> TransportKind {
    if cfg.command.is_some() {
        return TransportKind::Stdio;
    }
    match cfg.transport {
        Transport::Sse => TransportKind::Sse,
        Transport::Auto | Transport::StreamableHttp => TransportKind::StreamableHttp,
    }
}

/// Scheme, host, port and path only: user info and the query may hold
/// credentials.
fn public_url(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let authority = uri.authority()?;
    let port = authority
        .port()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    Some(format!(
        "{scheme}://{}{port}{}",
        authority.host(),
        uri.path()
    ))
}

#[cfg(test)]
mod tests {
    use super::public_url;

    #[test]
    fn urls_lose_credentials_and_queries() {
        assert_eq!(
            public_url("https://user:secret@mcp.example.com:8443/mcp?api_key=k").as_deref(),
            Some("https://mcp.example.com:8443/mcp")
        );
        assert_eq!(public_url("not a url"), None);
    }
}
