//! MCP's HTTP headers and the `=?base64?…?=` value encoding of 2026-07-28.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Session id minted by a sessionful server on the `initialize` response.
pub const SESSION_ID: &str = "mcp-session-id";
/// The negotiated protocol revision, on every request after `initialize`.
pub const PROTOCOL_VERSION: &str = "mcp-protocol-version";
/// 2026-07-28: mirrors the JSON-RPC `method`.
pub const METHOD: &str = "mcp-method";
/// 2026-07-28: mirrors `params.name` or `params.uri`.
pub const NAME: &str = "mcp-name";
/// 2026-07-28: prefix of headers that mirror tool arguments.
pub const PARAM_PREFIX: &str = "mcp-param-";
/// SSE resumption (2025-03-26 to 2025-11-25).
pub const LAST_EVENT_ID: &str = "last-event-id";

const PREFIX: &str = "=?base64?";
const SUFFIX: &str = "?=";

/// Decodes a header value that may use the `=?base64?…?=` form.
/// Returns `None` when the encoded form is not valid base64 of UTF-8.
pub fn decode_value(value: &str) -> Option<String> {
    match value
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(SUFFIX))
    {
        Some(b64) => {
            let bytes = STANDARD.decode(b64).ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(value.to_owned()),
    }
}

/// Encodes a value for a header: plain when it is visible ASCII (spaces
/// allowed inside, not at the ends) and does not look like the encoded form;
/// `=?base64?…?=` otherwise.
pub fn encode_value(value: &str) -> String {
    let plain_chars = value
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) || b == b' ' || b == b'\t');
    let trimmed = value.trim_matches([' ', '\t']) == value;
    let looks_encoded = value.starts_with(PREFIX) && value.ends_with(SUFFIX);
    if plain_chars && trimmed && !looks_encoded && !value.is_empty() {
        value.to_owned()
    } else {
        format!("{PREFIX}{}{SUFFIX}", STANDARD.encode(value.as_bytes()))
    }
}

/// The name an `Mcp-Name` header mirrors for a method, if the method has one:
/// `params.name` for `tools/call` and `prompts/get`, `params.uri` for
/// `resources/read`.
pub fn name_source(method: &str) -> Option<NameSource> {
    match method {
        "tools/call" | "prompts/get" => Some(NameSource::Name),
        "resources/read" => Some(NameSource::Uri),
        _ => None,
    }
}

/// Which member of `params` an `Mcp-Name` header mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameSource {
    /// `params.name`.
    Name,
    /// `params.uri`.
    Uri,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples_round_trip() {
        let cases = [
            ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
            (" padded ", "=?base64?IHBhZGRlZCA=?="),
            ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
            ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
            ("execute_sql", "execute_sql"),
            ("file:///a b.txt", "file:///a b.txt"),
        ];
        for (plain, wire) in cases {
            assert_eq!(encode_value(plain), wire, "{plain:?}");
            assert_eq!(decode_value(wire).as_deref(), Some(plain), "{wire:?}");
        }
        assert_eq!(decode_value("=?base64?!!!?="), None);
        assert_eq!(decode_value("=?base64?/w==?="), None, "not UTF-8");
    }
}
