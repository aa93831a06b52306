//! `GET /api/v1/health`: what an operator looks at first. Unlike
//! `/healthz` (which load balancers read, so it answers 503 until every
//! upstream is ready) it always answers 200 and says what is wrong.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::gateway::Gateway;

/// Each server's readiness and last error, the grant store's kind, the
/// audit queue and the policy versions in force.
pub(super) async fn health(State(gw): State<Arc<Gateway>>) -> Json<Value> {
    let servers: Vec<Value> = gw
        .servers
        .iter()
        .map(|(name, rt)| {
            let h = rt.health();
            json!({ "name": name, "ready": h.ready, "error": h.error })
        })
        .collect();
    let policies: Vec<Value> = gw
        .policies
        .iter()
        .flat_map(|store| {
            store.files().keys().map(|name| {
                json!({
                    "name": name,
                    "version": store.get(name).map(|p| p.version().to_owned()),
                })
            })
        })
        .collect();
    let audit = gw.audit.as_ref().map(|a| {
        let w = a.writer();
        let stats = w.stats();
        json!({
            "queue_depth": w.queue_depth(),
            "committed": stats.committed,
            "failed_batches": stats.failed_batches,
        })
    });
    Json(json!({
        "status": if gw.all_ready() { "ok" } else { "degraded" },
        "servers": servers,
        "sessions": gw.sessions.len(),
        "grant_store": gw.auth.store().map(|s| s.kind()),
        "audit": audit,
        "policies": policies,
    }))
}
