//! The MCP handshake: `initialize`, then `notifications/initialized`.
//! It is not timed; the load starts once every session is open.

use bytes::Bytes;
use http::StatusCode;
use http::header::HeaderValue;
use serde_json::Value;

use super::check::{self, CheckError};
use super::{ClientError, Conn, Endpoint};

/// The revision the load generator asks for.
pub const PROTOCOL: &str = "2025-11-25";

/// An open MCP session: its id (none for servers without sessions) and the
/// negotiated revision, as header values ready to send.
#[derive(Clone, Debug)]
pub struct Session {
    /// `Mcp-Session-Id`, if the server set one.
    pub id: Option<HeaderValue>,
    /// The revision the server chose.
    pub protocol: HeaderValue,
}

/// Opens a session on `conn`.
pub async fn open(conn: &mut Conn, ep: &Endpoint) -> Result<Session, ClientError> {
    let init = format!(
        r#"{{"jsonrpc":"2.0","id":"init","method":"initialize","params":{{"protocolVersion":"{PROTOCOL}","capabilities":{{}},"clientInfo":{{"name":"toolgate-load","version":"{}"}}}}}}"#,
        env!("CARGO_PKG_VERSION")
    );
    let reply = conn.post(ep, None, Bytes::from(init)).await?;
    let result = check::response_result(&reply, &Value::from("init"))?;
    let version = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or(PROTOCOL);
    let protocol = HeaderValue::from_str(version).map_err(|_| {
        CheckError::Parse(format!("protocolVersion {version:?} is not a header value"))
    })?;
    let id = reply
        .session
        .as_deref()
        .map(HeaderValue::from_str)
        .transpose()
        .map_err(|_| CheckError::Parse("Mcp-Session-Id is not a header value".into()))?;
    let session = Session { id, protocol };
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let reply = conn
        .post(ep, Some(&session), Bytes::from_static(note.as_bytes()))
        .await?;
    match reply.status {
        StatusCode::ACCEPTED | StatusCode::OK | StatusCode::NO_CONTENT => Ok(session),
        other => Err(CheckError::Status {
            status: other.as_u16(),
            body: String::from_utf8_lossy(&reply.body)
                .chars()
                .take(200)
                .collect(),
        }
        .into()),
    }
}
