//! A throwaway Redis server, or a key prefix of our own on `REDIS_URL`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::process;

/// A Redis server (or namespace) for one test; dropped, it is stopped (or
/// its keys deleted).
#[derive(Debug)]
pub struct RedisServer {
    url: String,
    prefix: String,
    local: Option<LocalRedis>,
}

#[derive(Debug)]
struct LocalRedis {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    child: Option<Child>,
}

/// A Redis server for this test.
///
/// # Panics
/// When `redis-server` is not installed and `REDIS_URL` is not set, or the
/// server cannot be started; the message says what to do.
pub async fn redis() -> RedisServer {
    let prefix = format!("tgtest:{}:", process::unique_suffix());
    let extra = ["/usr/bin", "/usr/local/bin", "/usr/sbin"].map(PathBuf::from);
    if let Some(bin) = process::find_bin_dir(&["redis-server"], &extra) {
        let dir = tempfile::Builder::new()
            .prefix("toolgate-redis-")
            .tempdir()
            .unwrap_or_else(|e| panic!("toolgate-testdb: temp dir: {e}"));
        let mut local = LocalRedis {
            dir,
            bin,
            port: 0,
            child: None,
        };
        let mut last_error = String::new();
        // The port may be taken between free_port() and the server binding it.
        for _ in 0..5 {
            local.port = process::free_port();
            match local.start().await {
                Ok(()) => {
                    let url = format!("redis://127.0.0.1:{}/0", local.port);
                    return RedisServer {
                        url,
                        prefix,
                        local: Some(local),
                    };
                }
                Err(e) => last_error = e,
            }
        }
        panic!("toolgate-testdb: redis-server did not start: {last_error}");
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        return RedisServer {
            url,
            prefix,
            local: None,
        };
    }
    panic!(
        "toolgate-testdb: this test needs Redis. Install redis-server (e.g. \
         `apt-get install redis-server`) so a throwaway server can be started, or set \
         REDIS_URL (tests then keep to their own key prefix)"
    );
}

impl RedisServer {
    /// The connection URL, e.g. `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A prefix unique to this handle; tests keep their keys under it, which
    /// matters when they share a `REDIS_URL` server.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// Kills the server (SIGKILL) and waits for it to exit; the port stays
    /// reserved for [`restart`](Self::restart). Data is lost (no persistence).
    ///
    /// # Panics
    /// On a `REDIS_URL` server, which is not ours to kill.
    pub fn kill(&mut self) {
        self.local_mut("kill").stop();
    }

    /// Starts the server again on the same port (killing it first if it is
    /// running) and waits until it answers `PING`.
    ///
    /// # Panics
    /// On a `REDIS_URL` server, or when the server does not come back.
    pub async fn restart(&mut self) {
        let local = self.local_mut("restart");
        local.stop();
        if let Err(e) = local.start().await {
            panic!("toolgate-testdb: redis-server did not restart: {e}");
        }
    }

    fn local_mut(&mut self, what: &str) -> &mut LocalRedis {
        self.local.as_mut().unwrap_or_else(|| {
            panic!(
                "toolgate-testdb: {what}() needs a local redis-server (install it); \
                 a REDIS_URL server is not ours to {what}"
            )
        })
    }
}

impl LocalRedis {
    async fn start(&mut self) -> Result<(), String> {
        let log = self.dir.path().join("redis.log");
        let child = Command::new(self.bin.join("redis-server"))
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run redis-server: {e}"))?;
        let child = self.child.insert(child);
        for _ in 0..500 {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(format!("exited with {status}\n{}", process::log_tail(&log)));
            }
            if command(self.port, &["PING"]).is_ok_and(|r| r == "+PONG") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.stop();
        Err(format!("no PONG within 10s\n{}", process::log_tail(&log)))
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        match &mut self.local {
            Some(local) => local.stop(),
            None => delete_prefixed(&self.url, &self.prefix),
        }
    }
}

/// Removes a test's keys from a shared server, best effort.
fn delete_prefixed(url: &str, prefix: &str) {
    const SCRIPT: &str = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do \
                          redis.call('DEL', k) end return 1";
    let Some(addr) = RedisAddr::parse(url) else {
        return;
    };
    let pattern = format!("{prefix}*");
    let _ = addr.command(&["EVAL", SCRIPT, "0", &pattern]);
}

/// One command to a local server (no authentication); its first reply line.
fn command(port: u16, args: &[&str]) -> std::io::Result<String> {
    let addr = RedisAddr {
        host: "127.0.0.1".into(),
        port,
        auth: Vec::new(),
        db: None,
    };
    addr.command(args)
}

/// Just enough of a `redis://` URL to reach the server.
struct RedisAddr {
    host: String,
    port: u16,
    auth: Vec<String>,
    db: Option<String>,
}

impl RedisAddr {
    fn parse(url: &str) -> Option<RedisAddr> {
        let rest = url.strip_prefix("redis://")?;
        let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "6379"));
        let auth = match userinfo.split_once(':') {
            Some(("", pass)) => vec![pass.to_string()],
            Some((user, pass)) => vec![user.to_string(), pass.to_string()],
            None if userinfo.is_empty() => Vec::new(),
            None => vec![userinfo.to_string()],
        };
        let db = Some(db.to_string()).filter(|d| !d.is_empty());
        Some(RedisAddr {
            host: host.to_string(),
            port: port.parse().ok()?,
            auth,
            db,
        })
    }

    fn command(&self, args: &[&str]) -> std::io::Result<String> {
        let timeout = Duration::from_secs(2);
        let stream = TcpStream::connect((self.host.as_str(), self.port))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let mut exchange = |args: &[&str]| -> std::io::Result<String> {
            writer.write_all(&encode(args))?;
            let mut line = String::new();
            reader.read_line(&mut line)?;
            Ok(line.trim_end().to_string())
        };
        if !self.auth.is_empty() {
            let mut auth = vec!["AUTH"];
            auth.extend(self.auth.iter().map(String::as_str));
            exchange(&auth)?;
        }
        if let Some(db) = &self.db {
            exchange(&["SELECT", db])?;
        }
        exchange(args)
    }
}

/// A command as a RESP array of bulk strings.
fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `REDIS_URL` path, against a server of our own.
    #[tokio::test]
    async fn shared_servers_lose_only_the_handles_keys() {
        let local = redis().await;
        let shared = RedisServer {
            url: local.url().into(),
            prefix: "tgtest:t:".into(),
            local: None,
        };
        let addr = RedisAddr::parse(local.url()).unwrap();
        for key in ["tgtest:t:a", "tgtest:t:b", "other"] {
            assert_eq!(addr.command(&["SET", key, "1"]).unwrap(), "+OK");
        }
        drop(shared);
        assert_eq!(
            addr.command(&["EXISTS", "tgtest:t:a", "tgtest:t:b"])
                .unwrap(),
            ":0"
        );
        assert_eq!(addr.command(&["EXISTS", "other"]).unwrap(), ":1");
    }

    #[test]
    fn parses_redis_urls() {
        let a = RedisAddr::parse("redis://:pw@h:6380/3").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.auth.clone(), a.db.as_deref()),
            ("h", 6380, vec!["pw".to_string()], Some("3"))
        );
        let a = RedisAddr::parse("redis://u:p@h").unwrap();
        assert_eq!((a.port, a.auth.len(), a.db), (6379, 2, None));
    }

    #[test]
    fn encodes_resp_arrays() {
        assert_eq!(encode(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(
            encode(&["SET", "a b", ""]),
            b"*3\r\n$3\r\nSET\r\n$3\r\na b\r\n$0\r\n\r\n"
        );
    }
}
