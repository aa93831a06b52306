//! A demo CRM that speaks MCP over stdio, bundled with toolgate.
//!
//! `toolgate demo crm` runs it as the gateway's upstream so that a newcomer
//! sees policies at work with nothing else installed. It offers the 25 tools
//! of the Bitrix24 MCP server (see [`tool_names`]) over deterministic,
//! in-memory sample data, with the validation and errors of a real server.
//!
//! Wire format: newline-delimited JSON-RPC 2.0 on the input, one response
//! line per request on the output; logs go through `tracing`, which the
//! host process must point at stderr (stdout carries the protocol).
//!
//! Map of the crate: `rpc` classifies messages, `server` runs the
//! MCP lifecycle, `catalog` describes the tools, `tools` executes them over
//! `store`, seeded by `seed`; `filter` and `clock` are the Bitrix24 list
//! filters and the logical clock that stamps every change.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! let input = concat!(
//!     r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}"#, "\n",
//!     r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"getLead","arguments":{"id":"1"}}}"#, "\n",
//! );
//! let mut output = Vec::new();
//! tokio::runtime::Builder::new_current_thread()
//!     .build()?
//!     .block_on(toolgate_demo_crm::serve(input.as_bytes(), &mut output))?;
//! let replies = String::from_utf8_lossy(&output);
//! let lead = replies.lines().nth(1).unwrap_or_default();
//! assert!(lead.contains(r#""TITLE":"Website inquiry: fleet tracking""#));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod catalog;
mod clock;
mod filter;
mod rpc;
mod seed;
mod server;
mod store;
mod tools;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// Serves MCP on `input`/`output` until `input` reaches end of file.
///
/// Messages are handled one at a time, in order; each response is written
/// and flushed before the next line is read, so a client may wait for it.
/// Each call of `serve` starts from the same seed data and keeps its changes
/// until it returns. Errors are I/O errors only: malformed input is answered
/// on the protocol, never fatal.
pub async fn serve<R, W>(mut input: R, mut output: W) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut server = server::Server::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        // Bytes, not `lines()`: invalid UTF-8 must be a parse error on the
        // protocol, not an I/O error that ends the session.
        if input.read_until(b'\n', &mut line).await? == 0 {
            break;
        }
        if let Some(reply) = server.handle_line(&line) {
            let mut bytes = serde_json::to_vec(&reply)?;
            bytes.push(b'\n');
            output.write_all(&bytes).await?;
            output.flush().await?;
        }
    }
    tracing::debug!("input closed; demo CRM stopping");
    output.flush().await
}

/// Serves MCP on the process's stdin and stdout until stdin closes.
pub async fn serve_stdio() -> std::io::Result<()> {
    tracing::info!(
        tools = catalog::names().len(),
        "demo CRM serving MCP on stdio"
    );
    serve(BufReader::new(tokio::io::stdin()), tokio::io::stdout()).await
}

/// The names of the 25 tools, in `tools/list` order.
pub fn tool_names() -> Vec<&'static str> {
    catalog::names()
}
