//! How toolgate talks to Redis, shared by every Redis-backed store (this
//! crate's counters, `toolgate-state`'s approvals): one lazily made,
//! self-reconnecting connection per store, and passwords kept out of every
//! message.

use std::time::Duration;

use ::redis::aio::ConnectionManagerConfig;

/// How long one connection attempt may take (at least the call timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Backoff between connection attempts while Redis is down: short, so that
/// a restarted server is found again within about a second.
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(50);
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(1);
const RECONNECT_RETRIES: usize = 3;

/// The connection manager's settings for a store whose calls time out after
/// `call_timeout` (the caller times every call out itself, connecting
/// included, so the manager's own response timeout is off).
pub fn manager_config(call_timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT.max(call_timeout)))
        .set_response_timeout(None)
        .set_min_delay(RECONNECT_MIN_DELAY)
        .set_max_delay(RECONNECT_MAX_DELAY)
        .set_number_of_retries(RECONNECT_RETRIES)
}

/// Runs `attempt` (connecting included) within `timeout`; a failure is the
/// reason the store is unavailable, naming `target` (host:port/db) and
/// never a secret.
pub async fn timed<T>(
    timeout: Duration,
    target: &str,
    secrets: &[String],
    attempt: impl Future<Output = Result<T, ::redis::RedisError>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(e)) => Err(redact(format!("Redis {target}: {e}"), secrets)),
        Err(_) => Err(format!("Redis {target} did not answer within {timeout:?}")),
    }
}

/// The password in a URL's user info, as written (the parsed one may be
/// percent-decoded; redact both).
pub fn url_password(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let password = userinfo.split_once(':').map_or(userinfo, |(_, p)| p);
    Some(password.to_string())
}

/// `text` with every secret replaced by `***`.
pub fn redact(mut text: String, secrets: &[String]) -> String {
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(s.as_str(), "***");
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn finds_and_hides_passwords() {
        let url = "redis://user:s3cr%40t@host:6379/0";
        let pw = url_password(url).unwrap();
        assert_eq!(pw, "s3cr%40t");
        assert_eq!(
            redact(format!("bad {url}"), &[pw]),
            "bad redis://user:***@host:6379/0"
        );
        assert_eq!(url_password("redis://:pw@h").as_deref(), Some("pw"));
        assert_eq!(url_password("redis://h:1"), None);
    }
}
