//! What every answer must be: HTTP 200, one JSON-RPC response (as JSON or
//! as an event of an SSE stream) with the id we sent, a `result` and not an
//! `error`, not a tool error (`isError`, which is how a policy denial looks),
//! and for `echo` the text we sent. A proxy that answers fast but wrong
//! must not score.

use serde::Deserialize;
use serde_json::Value;

use super::Reply;

/// Why an answer does not count.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CheckError {
    /// Not HTTP 200.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// No JSON-RPC message in the body.
    #[error("not a JSON-RPC response: {0}")]
    Parse(String),
    /// A response to another request.
    #[error("id {got} instead of {expected}")]
    WrongId {
        /// The id sent.
        expected: String,
        /// The id received.
        got: String,
    },
    /// A JSON-RPC error.
    #[error("JSON-RPC error {code}: {message}")]
    Rpc {
        /// Its code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// Neither `result` nor `error`.
    #[error("response without a result")]
    NoResult,
    /// A result with `isError: true`.
    #[error("tool error: {0}")]
    Tool(String),
    /// The result's text is not what the tool should have said.
    #[error("content {got:?} instead of {expected:?}")]
    Content {
        /// What echo should have answered.
        expected: String,
        /// What came back.
        got: String,
    },
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<RpcError>,
}

#[derive(Deserialize)]
struct RpcError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct CallResult {
    #[serde(default)]
    content: Vec<Content>,
    #[serde(rename = "isError", default)]
    is_error: bool,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    text: Option<String>,
}

fn snippet(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    s.chars().take(200).collect()
}

/// The JSON-RPC response to request `id` in a reply, checked for status,
/// id and error; returns its `result`.
pub fn response_result(reply: &Reply, id: &Value) -> Result<Value, CheckError> {
    if reply.status != http::StatusCode::OK {
        return Err(CheckError::Status {
            status: reply.status.as_u16(),
            body: snippet(&reply.body),
        });
    }
    let resp = if reply.sse {
        sse_response(&reply.body, id)?
    } else {
        serde_json::from_slice::<Response>(&reply.body)
            .map_err(|e| CheckError::Parse(format!("{e}: {}", snippet(&reply.body))))?
    };
    if &resp.id != id {
        return Err(CheckError::WrongId {
            expected: id.to_string(),
            got: resp.id.to_string(),
        });
    }
    if let Some(e) = resp.error {
        return Err(CheckError::Rpc {
            code: e.code,
            message: e.message,
        });
    }
    resp.result.ok_or(CheckError::NoResult)
}

/// Checks the answer to `tools/call` number `id`; with `expected_text`,
/// the first content item must be exactly that text.
pub fn check_call(reply: &Reply, id: u64, expected_text: Option<&str>) -> Result<(), CheckError> {
    let result = response_result(reply, &Value::from(id))?;
    let result: CallResult =
        serde_json::from_value(result).map_err(|e| CheckError::Parse(e.to_string()))?;
    let first = result.content.into_iter().next().and_then(|c| c.text);
    if result.is_error {
        return Err(CheckError::Tool(first.unwrap_or_default()));
    }
    match expected_text {
        Some(expected) if first.as_deref() != Some(expected) => Err(CheckError::Content {
            expected: expected.to_owned(),
            got: first.unwrap_or_default(),
        }),
        _ => Ok(()),
    }
}

/// The response with `id` among an SSE stream's events (priming events,
/// notifications and requests before it are skipped).
fn sse_response(body: &[u8], id: &Value) -> Result<Response, CheckError> {
    let text = std::str::from_utf8(body).map_err(|e| CheckError::Parse(e.to_string()))?;
    let mut data = String::new();
    let mut found = None;
    // A trailing empty line ends the last event even if the body lacks it.
    for line in text.lines().chain(std::iter::once("")) {
        if let Some(d) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(d.strip_prefix(' ').unwrap_or(d));
        } else if line.is_empty() && !data.is_empty() {
            if let Ok(resp) = serde_json::from_str::<Response>(&data)
                && (resp.result.is_some() || resp.error.is_some())
            {
                let matches = &resp.id == id;
                found = Some(resp);
                if matches {
                    break;
                }
            }
            data.clear();
        }
    }
    found.ok_or_else(|| CheckError::Parse(format!("no response event: {}", snippet(body))))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::StatusCode;

    use super::*;

    fn reply(status: u16, sse: bool, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            session: None,
            sse,
            body: Bytes::from(body.to_owned()),
        }
    }

    const OK: &str = r#"{"jsonrpc":"2.0","id":5,"result":{"content":[{"type":"text","text":"load-5"}],"isError":false}}"#;

    #[test]
    fn accepts_the_right_echo() {
        assert_eq!(
            check_call(&reply(200, false, OK), 5, Some("load-5")),
            Ok(())
        );
        assert_eq!(check_call(&reply(200, false, OK), 5, None), Ok(()));
    }

    #[test]
    fn refuses_wrong_answers() {
        let r = reply(200, false, OK);
        assert!(matches!(
            check_call(&r, 6, None),
            Err(CheckError::WrongId { .. })
        ));
        assert!(matches!(
            check_call(&r, 5, Some("load-6")),
            Err(CheckError::Content { .. })
        ));
        let err = r#"{"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"Unknown tool"}}"#;
        assert!(matches!(
            check_call(&reply(200, false, err), 5, None),
            Err(CheckError::Rpc { code: -32602, .. })
        ));
        let denied = r#"{"jsonrpc":"2.0","id":5,"result":{"isError":true,"content":[{"type":"text","text":"[POLICY DENIED] no"}]}}"#;
        assert!(matches!(
            check_call(&reply(200, false, denied), 5, None),
            Err(CheckError::Tool(_))
        ));
        assert!(matches!(
            check_call(&reply(404, false, "gone"), 5, None),
            Err(CheckError::Status { status: 404, .. })
        ));
        assert!(matches!(
            check_call(&reply(200, false, r#"{"jsonrpc":"2.0","id":5}"#), 5, None),
            Err(CheckError::NoResult)
        ));
        assert!(matches!(
            check_call(&reply(200, false, "<html>"), 5, None),
            Err(CheckError::Parse(_))
        ));
    }

    #[test]
    fn finds_the_response_in_an_sse_stream() {
        let body = format!(
            "id: s-0\ndata:\n\nevent: message\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}}\n\nevent: message\nid: s-1\ndata: {OK}\n\n"
        );
        assert_eq!(
            check_call(&reply(200, true, &body), 5, Some("load-5")),
            Ok(())
        );
        // No blank line after the last event.
        let body = format!("event: message\r\ndata: {OK}");
        assert_eq!(
            check_call(&reply(200, true, &body), 5, Some("load-5")),
            Ok(())
        );
        assert!(matches!(
            check_call(&reply(200, true, ": keep-alive\n\n"), 5, None),
            Err(CheckError::Parse(_))
        ));
    }
}
