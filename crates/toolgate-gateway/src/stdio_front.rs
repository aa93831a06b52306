//! `toolgate stdio`: the gateway as a stdio MCP server, for desktop clients
//! that only launch local processes. One client, one grant, the same
//! pipeline as HTTP.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use toolgate_mcp::{ErrorObject, Kind, Message, Payload, codes};

use crate::gateway::Gateway;
use crate::pipeline::Principal;
use crate::runtime::ServerRuntime;
use crate::session::{self, Session, Sink};

/// Writes every message to the client's stdout.
struct StdoutSink(mpsc::UnboundedSender<Vec<u8>>);

impl Sink for StdoutSink {
    fn interim(&self, msg: Message) {
        let _ = self.0.send(msg.to_line());
    }
    fn finalize(&self, msg: Message) {
        let _ = self.0.send(msg.to_line());
    }
}

/// Serves one stdio client until its input ends.
pub async fn serve_stdio<R, W>(
    gw: Arc<Gateway>,
    server: Arc<ServerRuntime>,
    principal: Arc<Principal>,
    input: R,
    mut output: W,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            output.write_all(&line).await?;
            output.flush().await?;
        }
        Ok::<(), std::io::Error>(())
    });
    let sink: Arc<StdoutSink> = Arc::new(StdoutSink(tx));
    let mut lines = FramedRead::new(
        input,
        LinesCodec::new_with_max_length(gw.config.http.max_body_bytes.0),
    );
    let mut front = Front {
        gw,
        server,
        principal,
        sink,
        session: None,
    };
    while let Some(line) = lines.next().await {
        match line {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => front.on_line(&line).await,
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                front.send(Message::error(
                    None,
                    &ErrorObject::new(codes::INVALID_REQUEST, "message exceeds the size limit"),
                ));
            }
            Err(LinesCodecError::Io(e)) => return Err(e),
        }
    }
    if let Some(s) = front.session.take() {
        s.terminate("stdio client closed its input").await;
    }
    drop(front);
    writer.await.unwrap_or(Ok(()))
}

struct Front {
    gw: Arc<Gateway>,
    server: Arc<ServerRuntime>,
    principal: Arc<Principal>,
    sink: Arc<StdoutSink>,
    session: Option<Arc<Session>>,
}

impl Front {
    fn send(&self, msg: Message) {
        self.sink.finalize(msg);
    }

    async fn on_line(&mut self, line: &str) {
        let payload = match Payload::parse(line.as_bytes()) {
            Ok(p) => p,
            Err(e) => {
                return self.send(Message::error(
                    None,
                    &ErrorObject::new(codes::PARSE_ERROR, e.to_string()),
                ));
            }
        };
        match payload {
            Payload::Single(Ok(msg)) => self.on_message(msg).await,
            Payload::Single(Err(e)) => self.send(Message::error(
                e.id,
                &ErrorObject::new(codes::INVALID_REQUEST, e.reason),
            )),
            Payload::Batch(items) => {
                let allowed = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.protocol.allows_batch());
                if !allowed || items.is_empty() {
                    let text = "JSON-RPC batches are not allowed in this protocol revision";
                    return self.send(Message::error(
                        None,
                        &ErrorObject::new(codes::INVALID_REQUEST, text),
                    ));
                }
                for item in items {
                    match item {
                        Ok(m) if m.method() != Some("initialize") => self.on_message(m).await,
                        Ok(m) => self.send(Message::error(
                            m.id().cloned(),
                            &ErrorObject::new(
                                codes::INVALID_REQUEST,
                                "initialize cannot be batched",
                            ),
                        )),
                        Err(e) => self.send(Message::error(
                            e.id,
                            &ErrorObject::new(codes::INVALID_REQUEST, e.reason),
                        )),
                    }
                }
            }
        }
    }

    async fn on_message(&mut self, msg: Message) {
        if let Some(s) = &self.session {
            // Each request runs in a task of its own: the next line is
            // read while it waits upstream.
            if let Some(work) = s.handle(msg, self.sink.clone()) {
                work.detach();
            }
            return;
        }
        let stateless = msg
            .params_view()
            .is_ok_and(|v| v.meta_protocol_version().is_some());
        match (msg.kind(), msg.method()) {
            (Kind::Request, Some("initialize")) if !stateless => self.initialize(msg).await,
            (Kind::Request, _) if stateless => {
                if let Err(e) = session::check_meta(&msg) {
                    return self.send(Message::error(msg.id().cloned(), &e));
                }
                let sink: Arc<dyn Sink> = self.sink.clone();
                let (server, principal, pipeline) = (
                    self.server.clone(),
                    self.principal.clone(),
                    self.gw.pipeline.clone(),
                );
                let work = session::handle_stateless(
                    server,
                    principal,
                    pipeline,
                    msg,
                    http::HeaderMap::new(),
                    sink,
                )
                .await;
                if let Some(work) = work {
                    work.detach();
                }
            }
            (Kind::Request, _) => self.send(Message::error(
                msg.id().cloned(),
                &ErrorObject::new(
                    codes::INVALID_REQUEST,
                    "Server not initialized: send initialize first",
                ),
            )),
            (Kind::Notification | Kind::Response, _) => {}
        }
    }

    async fn initialize(&mut self, msg: Message) {
        match self
            .gw
            .sessions
            .create_detached(self.server.clone(), self.principal.clone(), &msg)
            .await
        {
            Ok((session, response)) => {
                session.start_pump();
                let sink: Arc<dyn Sink> = self.sink.clone();
                session.open_standalone(sink);
                self.session = Some(session);
                self.send(response);
            }
            Err(answer) => self.send(answer),
        }
    }
}
