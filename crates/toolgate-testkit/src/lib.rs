//! Test support for toolgate: an independent MCP fixture upstream server,
//! a raw MCP test client, and harnesses that start real processes on real
//! loopback sockets.
#![forbid(unsafe_code)]

pub mod client;
pub mod fixture;
pub mod harness;
