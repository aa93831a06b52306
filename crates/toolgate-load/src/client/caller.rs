//! One load caller: a connection and a session, sending `tools/call echo`
//! with the call's id in the message so every answer can be matched.

use std::sync::Arc;

use bytes::Bytes;

use super::check::check_call;
use super::{ClientError, Conn, Endpoint, Session, session};
use crate::load::Caller;

/// Calls `echo` over its own connection in one session. A connection that
/// breaks is replaced on the next call (the failed call still counts).
#[derive(Debug)]
pub struct McpCaller {
    ep: Arc<Endpoint>,
    conn: Option<Conn>,
    session: Session,
}

impl McpCaller {
    /// Connects and opens a new session.
    pub async fn open(ep: Arc<Endpoint>) -> Result<Self, ClientError> {
        let mut conn = Conn::connect(&ep).await?;
        let session = session::open(&mut conn, &ep).await?;
        Ok(Self {
            ep,
            conn: Some(conn),
            session,
        })
    }

    /// Connects and joins an existing session.
    pub async fn join(ep: Arc<Endpoint>, session: Session) -> Result<Self, ClientError> {
        let conn = Conn::connect(&ep).await?;
        Ok(Self {
            ep,
            conn: Some(conn),
            session,
        })
    }

    /// The session this caller uses.
    pub fn session(&self) -> &Session {
        &self.session
    }

    async fn call_echo(&mut self, id: u64) -> Result<(), ClientError> {
        let conn = match &mut self.conn {
            Some(c) if !c.is_closed() => c,
            _ => self.conn.insert(Conn::connect(&self.ep).await?),
        };
        let tool = serde_json::Value::from(self.ep.echo_tool()).to_string();
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":{tool},"arguments":{{"message":"load-{id}"}}}}}}"#
        );
        let reply = conn
            .post(&self.ep, Some(&self.session), Bytes::from(body))
            .await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                return Err(e);
            }
        };
        check_call(&reply, id, Some(&format!("load-{id}")))?;
        Ok(())
    }
}

impl Caller for McpCaller {
    type Error = ClientError;

    fn call(&mut self, id: u64) -> impl Future<Output = Result<(), ClientError>> + Send {
        self.call_echo(id)
    }
}

/// Opens `sessions` sessions and `callers` callers over them (caller `i`
/// uses session `i % sessions`); at most one session per caller.
pub async fn open_callers(
    ep: Arc<Endpoint>,
    callers: usize,
    sessions: usize,
) -> Result<Vec<McpCaller>, ClientError> {
    let sessions = sessions.clamp(1, callers.max(1));
    let mut out = Vec::with_capacity(callers);
    for i in 0..callers {
        let caller = if i < sessions {
            McpCaller::open(Arc::clone(&ep)).await?
        } else {
            let session = out
                .get(i % sessions)
                .map(|c: &McpCaller| c.session().clone())
                .ok_or(ClientError::Url {
                    url: ep.url(),
                    reason: "no session to join",
                })?;
            McpCaller::join(Arc::clone(&ep), session).await?
        };
        out.push(caller);
    }
    Ok(out)
}
