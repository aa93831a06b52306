//! Connections to upstream MCP servers.
//!
//! An [`UpstreamConn`] is one upstream session (sessionful servers) or one
//! channel to a stateless server. Whatever the transport, it offers the same
//! operations: send a request and get an [`Exchange`] (the messages the
//! server sends about that request, then its response), send a
//! notification, answer a server→client request, and receive messages that
//! belong to no request.
//!
//! The connection owns the upstream id space: it gives every request a
//! fresh integer id (and every progress token a fresh token) and puts the
//! client's originals back on the way down, so many clients can share one
//! upstream session and the gateway's own requests never collide with
//! theirs.

mod channel;
mod error;
pub(crate) mod exchange;
pub(crate) mod handshake;
pub(crate) mod http;
mod http_client;
mod http_pool;
mod legacy_sse;
mod rewrite;
mod sse_body;
mod stdio;

use std::sync::Arc;

use toolgate_mcp::{Message, ProtocolVersion};

pub(crate) use channel::ChannelCore;
pub use error::UpstreamError;
pub use exchange::{Exchange, Inbound};
pub(crate) use http::HttpConn;
pub(crate) use http_client::HttpClient;
pub(crate) use legacy_sse::connect_legacy_sse;
pub(crate) use stdio::{StdioOptions, spawn_stdio};

/// How the upstream speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    /// `initialize`, sessions (2025-11-25 and earlier).
    Sessionful,
    /// Per-request metadata, no sessions (2026-07-28).
    Stateless,
}

/// Where a message that belongs to no request goes, for transports that do
/// not say (stdio and legacy SSE carry everything on one stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnrelatedRoute {
    /// To the newest request in flight (a per-session process: whatever the
    /// server says while a call runs is most likely about that call), else
    /// to the unsolicited channel.
    NewestRequest,
    /// Always to the unsolicited channel (a shared process: never hand one
    /// client's messages to another client's call).
    Unsolicited,
}

/// One upstream connection.
pub enum UpstreamConn {
    /// stdio or legacy HTTP+SSE: one message stream in each direction.
    Channel(Arc<ChannelCore>),
    /// Streamable HTTP: one HTTP exchange per message.
    Http(Arc<HttpConn>),
}

impl UpstreamConn {
    /// Sends a request (with the client's id; the connection maps it).
    pub async fn request(&self, msg: Message) -> Result<Exchange, UpstreamError> {
        match self {
            UpstreamConn::Channel(c) => c.request(msg).await,
            UpstreamConn::Http(h) => h.request(msg),
        }
    }

    /// Sends a notification. A `notifications/cancelled` is not sent this
    /// way: cancel the [`Exchange`] instead, which knows the upstream id.
    pub async fn notify(&self, msg: Message) -> Result<(), UpstreamError> {
        match self {
            UpstreamConn::Channel(c) => c.send(msg).await,
            UpstreamConn::Http(h) => h.post_one_way(msg).await,
        }
    }

    /// Answers a server→client request (`msg` carries the upstream's id).
    pub async fn respond(&self, msg: Message) -> Result<(), UpstreamError> {
        self.notify(msg).await
    }

    /// Takes the receiver of messages that belong to no request. Only the
    /// first caller gets it.
    pub fn take_unsolicited(&self) -> Option<tokio::sync::mpsc::Receiver<Inbound>> {
        match self {
            UpstreamConn::Channel(c) => c.take_unsolicited(),
            UpstreamConn::Http(h) => h.take_unsolicited(),
        }
    }

    /// For Streamable HTTP: opens the standalone GET stream, whose messages
    /// arrive on the unsolicited channel. Other transports always deliver.
    pub fn open_unsolicited_stream(&self) {
        if let UpstreamConn::Http(h) = self {
            h.open_get_stream();
        }
    }

    /// The protocol version the connection speaks (after the handshake).
    pub fn protocol(&self) -> Option<ProtocolVersion> {
        match self {
            UpstreamConn::Channel(c) => c.protocol(),
            UpstreamConn::Http(h) => h.protocol(),
        }
    }

    /// Records the negotiated version (sent as `MCP-Protocol-Version`).
    pub fn set_protocol(&self, v: ProtocolVersion) {
        match self {
            UpstreamConn::Channel(c) => c.set_protocol(v),
            UpstreamConn::Http(h) => h.set_protocol(v),
        }
    }

    /// True once the connection can no longer carry requests (the process
    /// exited, the stream closed, the session expired).
    pub fn is_closed(&self) -> bool {
        match self {
            UpstreamConn::Channel(c) => c.is_closed(),
            UpstreamConn::Http(h) => h.is_closed(),
        }
    }

    /// Ends the connection: DELETE the upstream session, or stop the
    /// process (close stdin, wait, SIGTERM, SIGKILL).
    pub async fn close(&self) {
        match self {
            UpstreamConn::Channel(c) => c.close().await,
            UpstreamConn::Http(h) => h.close().await,
        }
    }

    /// Stops this process's use of the connection without ending the
    /// upstream session, where the transport allows it (Streamable HTTP:
    /// another replica may go on with the session). Other transports close.
    pub async fn detach(&self) {
        match self {
            UpstreamConn::Channel(c) => c.close().await,
            UpstreamConn::Http(h) => {
                h.detach();
            }
        }
    }

    /// The upstream's own session id (Streamable HTTP, once it gave one).
    pub fn upstream_session_id(&self) -> Option<String> {
        match self {
            UpstreamConn::Channel(_) => None,
            UpstreamConn::Http(h) => h.session_id(),
        }
    }

    /// A short label for logs: `stdio`, `sse`, `http`.
    pub fn transport_label(&self) -> &'static str {
        match self {
            UpstreamConn::Channel(c) => c.label(),
            UpstreamConn::Http(_) => "http",
        }
    }
}
