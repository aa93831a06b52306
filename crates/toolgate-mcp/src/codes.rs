//! JSON-RPC and MCP error codes used by the gateway.

/// Invalid JSON.
pub const PARSE_ERROR: i64 = -32700;
/// Not a valid JSON-RPC request (also: batch where batches are not allowed).
pub const INVALID_REQUEST: i64 = -32600;
/// Unknown method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid params; also "unknown tool" and unknown prompt.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal error.
pub const INTERNAL_ERROR: i64 = -32603;
/// Implementation-defined server error, used by the SDKs for "bad request"
/// transport errors (missing session id, server not initialized).
pub const SERVER_ERROR: i64 = -32000;
/// Used by the SDKs for "session not found" and "request timed out".
pub const SESSION_NOT_FOUND: i64 = -32001;
/// Request timed out (TypeScript SDK's `RequestTimeout`).
pub const REQUEST_TIMEOUT: i64 = -32001;
/// 2025-11-25: resource not found (retired in 2026-07-28 for -32602).
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// 2026-07-28: HTTP headers do not match the body, or are missing.
pub const HEADER_MISMATCH: i64 = -32020;
/// 2026-07-28: a required client capability was not declared.
pub const MISSING_CLIENT_CAPABILITY: i64 = -32021;
/// 2026-07-28: the requested protocol version is not supported.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
