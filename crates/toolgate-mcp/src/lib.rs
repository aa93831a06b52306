//! MCP on the wire, for toolgate.
//!
//! This crate is the only one that parses or writes MCP bytes: the JSON-RPC
//! envelope ([`message`]), protocol revisions ([`version`]), headers
//! ([`headers`]), Server-Sent Events ([`sse`]) and error codes ([`codes`]).
//! It does no I/O: transports live in `toolgate-gateway`.
#![forbid(unsafe_code)]

pub mod codes;
pub mod edit;
pub mod headers;
pub mod message;
pub mod remap;
pub mod sse;
pub mod version;

pub use edit::RawObject;
pub use message::{ErrorObject, Id, Kind, Message, Payload};
pub use remap::RemapError;
pub use version::ProtocolVersion;
