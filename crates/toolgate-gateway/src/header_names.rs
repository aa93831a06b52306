//! The MCP headers as ready-made `HeaderName`s. Looking a header up by
//! `&str` parses and hashes the name on every call, and inserting a
//! non-standard name given as `&str` copies it; on the data path, where
//! every call looks up the session id and the protocol version and sets
//! them upstream, these are built once instead.

use http::HeaderName;
use toolgate_mcp::headers as mcp;

/// `Mcp-Session-Id`.
pub(crate) static SESSION_ID: HeaderName = HeaderName::from_static(mcp::SESSION_ID);
/// `MCP-Protocol-Version`.
pub(crate) static PROTOCOL_VERSION: HeaderName = HeaderName::from_static(mcp::PROTOCOL_VERSION);
/// `Last-Event-ID`.
pub(crate) static LAST_EVENT_ID: HeaderName = HeaderName::from_static(mcp::LAST_EVENT_ID);
