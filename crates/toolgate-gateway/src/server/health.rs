//! `GET /healthz`: 200 once every upstream is ready, 503 with the reasons
//! otherwise.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde_json::json;

use super::reply;
use crate::gateway::Gateway;

/// The health handler.
pub(crate) async fn healthz(State(gw): State<Arc<Gateway>>) -> Response {
    let mut servers = serde_json::Map::new();
    for (name, rt) in &gw.servers {
        let health = rt.health();
        let profile = rt.profile();
        let mut entry = json!({ "ready": health.ready });
        if let Some(e) = health.error {
            entry["error"] = e.into();
        }
        if let Some(p) = profile {
            entry["transport"] = json!(p.transport);
            entry["generation"] = format!("{:?}", p.generation).to_lowercase().into();
            if let Some(v) = p.info.protocol {
                entry["protocol"] = v.as_str().into();
            }
        }
        servers.insert(name.clone(), entry);
    }
    let ready = gw.all_ready();
    let body = json!({
        "status": if ready { "ok" } else { "starting" },
        "servers": servers,
        "sessions": gw.sessions.len(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    reply::json(status, Bytes::from(body.to_string()))
}
