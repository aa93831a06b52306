//! The demo CRM through its public boundary: MCP messages in, responses out.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns; a panic is the failure report"
)]

mod lifecycle;
mod protocol;
mod queries;
mod records;
mod support;
