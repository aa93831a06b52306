//! `/api/v1/policies`: what is in force, the files behind it, checking a
//! new text, and replacing a policy. A replacement is validated first and
//! written only if valid; the old version serves until the new one is in
//! force. Compiling and file I/O run on the blocking pool.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::error::ApiError;
use super::{Body, parse_text};
use crate::gateway::Gateway;
use crate::policy::{PolicyStore, ReplaceError};

/// `GET /api/v1/policies`: each policy's name, file and version in force.
pub(super) async fn list(State(gw): State<Arc<Gateway>>) -> Json<Value> {
    let policies: Vec<Value> = gw
        .policies
        .iter()
        .flat_map(|store| {
            store.files().iter().map(|(name, file)| {
                json!({
                    "name": name,
                    "file": file.display().to_string(),
                    "version": store.get(name).map(|p| p.version().to_owned()),
                })
            })
        })
        .collect();
    Json(json!({ "policies": policies }))
}

/// `GET /api/v1/policies/{name}`: the version in force and the file's
/// text now, with the version that text compiles to (null when it does
/// not: an edit that was rejected, while `version` keeps serving).
pub(super) async fn get(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (store, file) = policy(&gw, &name)?;
    let source = tokio::fs::read_to_string(&file)
        .await
        .map_err(|e| ApiError::Internal(format!("cannot read {}: {e}", file.display())))?;
    let (store, name, source, source_version) = blocking(move || {
        let source_version = store
            .compile(&name, &source)
            .ok()
            .map(|p| p.version().to_owned());
        (store, name, source, source_version)
    })
    .await?;
    Ok(Json(json!({
        "name": name,
        "file": file.display().to_string(),
        "version": store.get(&name).map(|p| p.version().to_owned()),
        "source": source,
        "source_version": source_version,
    })))
}

/// `POST /api/v1/policies/{name}/validate`: compiles the body as the
/// policy's file would be read; nothing is written.
pub(super) async fn validate(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let (store, _) = policy(&gw, &name)?;
    let text = parse_text(body)?;
    let version =
        blocking(move || store.compile(&name, &text).map(|p| p.version().to_owned())).await??;
    Ok(Json(json!({ "valid": true, "version": version })))
}

/// `PUT /api/v1/policies/{name}`: validates, writes the file atomically
/// and puts the new version in force before answering.
pub(super) async fn put(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let (store, _) = policy(&gw, &name)?;
    let text = parse_text(body)?;
    let (name, version) = blocking(move || {
        let version = store.replace(&name, &text)?;
        Ok::<_, ReplaceError>((name, version))
    })
    .await??;
    Ok(Json(json!({ "name": name, "version": version })))
}

/// The store and the file of a configured policy, or 404.
fn policy(gw: &Gateway, name: &str) -> Result<(Arc<PolicyStore>, PathBuf), ApiError> {
    gw.policies
        .as_ref()
        .and_then(|store| Some((store.clone(), store.files().get(name)?.clone())))
        .ok_or_else(|| ApiError::NotFound(format!("no policy named {name:?}")))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("policy task failed: {e}")))
}
