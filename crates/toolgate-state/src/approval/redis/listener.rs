//! One pub/sub subscription per store, fanned out to its local waiters.
//!
//! Every transition publishes the approval's id on one channel. A
//! background task keeps a dedicated connection subscribed to it and
//! forwards each id to the waiters of this process through a broadcast
//! channel. It pings the server now and then, so that a connection that
//! died silently is noticed, and resubscribes with backoff. Each time it is
//! (re)subscribed it tells every waiter to look at the stored state again:
//! whatever was published while nobody listened is then not missed.

use std::sync::Arc;
use std::time::Duration;

use ::redis::{Client, Value};
use futures_util::StreamExt as _;
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

use toolgate_limits::redis_conn::{CONNECT_TIMEOUT, redact};

/// What waiters hear.
#[derive(Clone, Debug)]
pub(super) enum Event {
    /// This approval changed state.
    Decided(Arc<str>),
    /// The subscription is (again) in place: anything may have changed.
    Resubscribed,
}

/// How many events a slow waiter may fall behind before it is told it
/// lagged (and then re-reads the state).
const CAPACITY: usize = 256;
const PING_EVERY: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(2);
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The running subscription; dropped, its task stops.
#[derive(Debug)]
pub(super) struct Listener {
    events: broadcast::Sender<Event>,
    task: AbortHandle,
}

/// Where to listen, and how to describe failures without secrets.
pub(super) struct Target {
    pub(super) client: Client,
    pub(super) channel: String,
    pub(super) name: String,
    pub(super) secrets: Vec<String>,
}

impl Listener {
    /// Starts listening (inside the caller's runtime).
    pub(super) fn start(target: Target) -> Listener {
        let (events, _) = broadcast::channel(CAPACITY);
        let task = tokio::spawn(run(target, events.clone())).abort_handle();
        Listener { events, task }
    }

    /// A receiver for the events from now on.
    pub(super) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(target: Target, events: broadcast::Sender<Event>) {
    let mut backoff = MIN_BACKOFF;
    let mut healthy = true;
    loop {
        match subscribe_and_forward(&target, &events).await {
            Ok(()) => {
                backoff = MIN_BACKOFF;
                healthy = true;
                tracing::debug!(store = "redis", target = %target.name, "approval subscription lost");
            }
            Err(e) => {
                if healthy {
                    let e = redact(e, &target.secrets);
                    tracing::warn!(store = "redis", target = %target.name, error = %e, "cannot subscribe to approval decisions; retrying");
                }
                healthy = false;
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Subscribes, then forwards messages until the connection fails. `Err`
/// when it could not subscribe at all.
async fn subscribe_and_forward(
    target: &Target,
    events: &broadcast::Sender<Event>,
) -> Result<(), String> {
    let subscribe = async {
        let mut pubsub = target.client.get_async_pubsub().await?;
        pubsub.subscribe(&target.channel).await?;
        Ok::<_, ::redis::RedisError>(pubsub)
    };
    let pubsub = match tokio::time::timeout(CONNECT_TIMEOUT, subscribe).await {
        Ok(Ok(pubsub)) => pubsub,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    };
    // No receiver yet is fine: nobody waits.
    let _ = events.send(Event::Resubscribed);
    let (mut sink, mut stream) = pubsub.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else { return Ok(()) };
                if let Ok(id) = message.get_payload::<String>() {
                    let _ = events.send(Event::Decided(id.into()));
                }
            }
            _ = ping.tick() => {
                let pong = tokio::time::timeout(PING_TIMEOUT, sink.ping::<Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return Ok(());
                }
            }
        }
    }
}
