//! A live `tools/list` of one upstream, for the admin API. The gateway keeps
//! no tool cache (a server may change its list at any time, and a stale list
//! would mislead the operator), so it asks the server, through the same
//! connections a client would be given.

use std::time::Duration;

use serde_json::Value;
use toolgate_mcp::message::to_raw;
use toolgate_mcp::{Id, Message, RawObject};

use super::ServerRuntime;
use crate::upstream::handshake::{self, HandshakeError};
use crate::upstream::{Generation, UpstreamConn, UpstreamError};

/// Most pages followed: a server whose cursors never end must not hold the
/// request until the timeout.
const MAX_PAGES: usize = 100;

impl ServerRuntime {
    /// Every tool the server lists now, following `nextCursor`, as the tool
    /// objects it sent. Connecting may take up to `limit`, and listing up to
    /// `limit` again. A server with a session per client gets a connection
    /// of its own, initialized and closed again; a shared one is used as is.
    pub async fn list_tools(&self, limit: Duration) -> Result<Vec<Value>, UpstreamError> {
        let sc = tokio::time::timeout(limit, self.session_conn())
            .await
            .map_err(|_| UpstreamError::Timeout(limit))??;
        let stateless = sc.profile.generation == Generation::Stateless;
        let work = async {
            if !sc.shared {
                handshake::initialize(&sc.conn, limit)
                    .await
                    .map_err(flatten)?;
            }
            all_pages(&sc.conn, stateless, limit).await
        };
        let out = tokio::time::timeout(limit, work)
            .await
            .unwrap_or(Err(UpstreamError::Timeout(limit)));
        if !sc.shared {
            sc.conn.close().await;
        }
        out
    }
}

async fn all_pages(
    conn: &UpstreamConn,
    stateless: bool,
    limit: Duration,
) -> Result<Vec<Value>, UpstreamError> {
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0..MAX_PAGES {
        let mut params = serde_json::Map::new();
        if let Some(c) = cursor.take() {
            params.insert("cursor".into(), c.into());
        }
        if stateless {
            params.insert("_meta".into(), handshake::gateway_request_meta());
        }
        let id = Id::from_string(&format!("toolgate-admin-tools-{page}"));
        let req = Message::request(id, "tools/list", Some(to_raw(&params)));
        let resp = handshake::call(conn, req, limit).await?;
        if let Some(err) = resp.error_object() {
            return Err(UpstreamError::Protocol(format!(
                "tools/list refused: {} ({})",
                err.message, err.code
            )));
        }
        let result = RawObject::parse(resp.result_raw())
            .map_err(|e| UpstreamError::Protocol(format!("tools/list: {e}")))?;
        let listed: Vec<Value> = result.get_as("tools").ok_or_else(|| {
            UpstreamError::Protocol("tools/list: the result has no `tools` array".into())
        })?;
        tools.extend(listed);
        cursor = result.get_as("nextCursor");
        if cursor.is_none() {
            return Ok(tools);
        }
    }
    Err(UpstreamError::Protocol(format!(
        "tools/list: more than {MAX_PAGES} pages"
    )))
}

fn flatten(e: HandshakeError) -> UpstreamError {
    match e {
        HandshakeError::Upstream(u) => u,
        HandshakeError::Refused(r) => {
            UpstreamError::Protocol(format!("initialize refused: {}", r.message))
        }
    }
}
