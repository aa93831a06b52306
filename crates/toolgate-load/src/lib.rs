//! A load harness for toolgate, so that "how much does the gateway cost?"
//! has a number measured the same way every time.
//!
//! It has three parts, each usable on its own:
//!
//! - [`fixture`]: a fast MCP upstream (echo plus 25 CRM-like tools) on
//!   Streamable HTTP (JSON answers, `Mcp-Session-Id` sessions) or stdio,
//!   cheap enough that the gateway, not the upstream, is what is measured.
//! - [`client`] and [`load`]: a load generator that opens sessions and sends
//!   `tools/call` at a fixed concurrency (closed loop) or a fixed rate (open
//!   loop, latency from the intended send time), checking every answer.
//! - [`compare`]: runs the same load directly against the fixture and
//!   through toolgate (and optional peers) in interleaved rounds and reports
//!   ratios (against direct, and against the `hyper` peer, the floor of
//!   toolgate's own stack), the gateway's CPU time per call, and its memory
//!   per session.
//!
//! The crate measures; it asserts nothing about times.

#![forbid(unsafe_code)]

pub mod budget;
pub mod calibrate;
pub mod child;
pub mod client;
pub mod compare;
pub mod error;
pub mod fixture;
pub mod gateway;
pub mod histogram;
pub mod load;
pub mod memory;
pub mod peers;
pub mod procfs;
pub mod report;
pub mod schedule;
pub mod target;
