//! 2026-07-28 requests mirror parts of the body in headers (`Mcp-Method`,
//! `Mcp-Name`, `MCP-Protocol-Version`) so intermediaries can route without
//! parsing. The gateway does parse the body, so it must check that the two
//! agree: a mismatch could make a router and the gateway judge different
//! requests.

use http::{HeaderMap, HeaderName, StatusCode};
use toolgate_mcp::headers::{self as mcp_headers, NameSource};
use toolgate_mcp::{Kind, Message, Payload, ProtocolVersion, codes};

use super::error::EdgeError;
use crate::header_names;

/// True when a request without a session speaks the stateless revision:
/// by its `MCP-Protocol-Version` header or its `_meta`.
pub(crate) fn is_stateless(headers: &HeaderMap, payload: &Payload) -> bool {
    let by_header = headers
        .get(&header_names::PROTOCOL_VERSION)
        .and_then(|v| v.to_str().ok())
        .and_then(ProtocolVersion::parse)
        .is_some_and(ProtocolVersion::is_stateless);
    let by_meta = match payload {
        Payload::Single(Ok(m)) => m
            .params_view()
            .ok()
            .is_some_and(|v| v.meta_protocol_version().is_some()),
        _ => false,
    };
    by_header || by_meta
}

fn header(headers: &HeaderMap, name: &str) -> Result<Option<String>, EdgeError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| EdgeError::HeaderMismatch(format!("{name} is not visible ASCII")))?;
            mcp_headers::decode_value(v.trim())
                .map(Some)
                .ok_or_else(|| {
                    EdgeError::HeaderMismatch(format!("{name} has an invalid base64 value"))
                })
        }
    }
}

fn require(headers: &HeaderMap, name: &str, body: &str) -> Result<(), EdgeError> {
    match header(headers, name)? {
        None => Err(EdgeError::HeaderMismatch(format!(
            "{name} header is required"
        ))),
        Some(h) if h == body => Ok(()),
        Some(h) => Err(EdgeError::HeaderMismatch(format!(
            "{name} header value {h:?} does not match body value {body:?}"
        ))),
    }
}

/// Checks the mirrored headers of a stateless request against its body.
pub(crate) fn check(headers: &HeaderMap, msg: &Message) -> Result<(), EdgeError> {
    if msg.kind() != Kind::Request {
        return Ok(());
    }
    let view = msg.params_view().map_err(|e| EdgeError::InvalidRequest {
        reason: format!("invalid params: {e}"),
        id: msg.id().cloned(),
    })?;
    let body_version = view.meta_protocol_version().unwrap_or_default().to_owned();
    require(headers, mcp_headers::PROTOCOL_VERSION, &body_version)?;
    let method = msg.method().unwrap_or_default();
    require(headers, mcp_headers::METHOD, method)?;
    let name = match mcp_headers::name_source(method) {
        Some(NameSource::Name) => view.name.as_deref(),
        Some(NameSource::Uri) => view.uri.as_deref(),
        None => None,
    };
    if let Some(name) = name {
        require(headers, mcp_headers::NAME, name)?;
    }
    Ok(())
}

/// The `Mcp-Param-*` headers, passed through to a stateless upstream.
pub(crate) fn param_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if name.as_str().starts_with(mcp_headers::PARAM_PREFIX)
            && let Ok(n) = HeaderName::from_bytes(name.as_str().as_bytes())
        {
            out.append(n, value.clone());
        }
    }
    out
}

/// The HTTP status of a stateless JSON reply: errors the 2026-07-28
/// transport gives a status of their own keep it.
pub(crate) fn status_for(body: &[u8]) -> StatusCode {
    let code = Message::parse_text(std::str::from_utf8(body).unwrap_or(""))
        .ok()
        .and_then(|m| m.error_object())
        .map(|e| e.code);
    match code {
        Some(codes::METHOD_NOT_FOUND) => StatusCode::NOT_FOUND,
        Some(
            codes::HEADER_MISMATCH
            | codes::MISSING_CLIENT_CAPABILITY
            | codes::UNSUPPORTED_PROTOCOL_VERSION,
        ) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str) -> Message {
        Message::parse_text(text).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get weather","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;

    #[test]
    fn matching_headers_pass_and_mismatches_are_named() {
        let m = msg(CALL);
        let ok = headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "get weather"),
        ]);
        assert!(check(&ok, &m).is_ok());
        let encoded = headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?Z2V0IHdlYXRoZXI=?="),
        ]);
        assert!(check(&encoded, &m).is_ok());
        let cases = [
            (
                vec![("mcp-method", "tools/call"), ("mcp-name", "get weather")],
                "mcp-protocol-version header is required",
            ),
            (
                vec![
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-name", "get weather"),
                ],
                "mcp-method header is required",
            ),
            (
                vec![
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/call"),
                ],
                "mcp-name header is required",
            ),
            (
                vec![
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "delete_all"),
                ],
                "does not match body value \"get weather\"",
            ),
            (
                vec![
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/list"),
                    ("mcp-name", "get weather"),
                ],
                "mcp-method header value \"tools/list\"",
            ),
        ];
        for (pairs, needle) in cases {
            let err = check(&headers(&pairs), &m).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST);
            assert_eq!(err.rpc().1.code, codes::HEADER_MISMATCH);
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn detection_and_statuses() {
        let m = msg(CALL);
        assert!(is_stateless(&HeaderMap::new(), &Payload::Single(Ok(m))));
        assert!(is_stateless(
            &headers(&[("mcp-protocol-version", "2026-07-28")]),
            &Payload::Batch(vec![])
        ));
        assert!(!is_stateless(
            &headers(&[("mcp-protocol-version", "2025-11-25")]),
            &Payload::Batch(vec![])
        ));
        assert_eq!(
            status_for(br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}"#),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status_for(br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"x"}}"#),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_for(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            StatusCode::OK
        );
        let p = param_headers(&headers(&[("mcp-param-region", "eu"), ("x-other", "1")]));
        assert_eq!(p.len(), 1);
    }
}
