//! The answer to a connection beyond `http.max_connections`: accepted (so
//! the client is not left waiting in the kernel's backlog), told why in a
//! plain HTTP 503, and closed. Nothing of it is read.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Writes the 503 and closes, spending at most a second on a slow peer.
pub(crate) async fn refuse(mut socket: TcpStream, limit: usize) {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":null,"error":{{"code":-32000,"message":"too many connections (limit {limit}); retry later"}}}}"#
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        socket.write_all(response.as_bytes()).await?;
        socket.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}
