//! `Host` and `Origin` checks against DNS rebinding and cross-site calls.
//!
//! A browser page on a hostile site can make a victim's browser send
//! requests to `127.0.0.1`, either from its own origin (the `Origin` check
//! stops it) or through a DNS name that resolves to 127.0.0.1 (the `Host`
//! check stops it).

use std::net::SocketAddr;

use http::HeaderMap;

/// Which `Host` and `Origin` values are accepted.
#[derive(Clone, Debug)]
pub struct EdgePolicy {
    any_host: bool,
    hosts: Vec<String>,
    any_origin: bool,
    origins: Vec<String>,
}

impl EdgePolicy {
    /// Loopback names are always accepted when listening on loopback;
    /// `extra_hosts` and `extra_origins` add to them (`*` accepts any).
    /// Listening on a non-loopback address without `allowed_hosts` accepts
    /// any `Host` (the gateway is reachable by name anyway).
    pub fn new(listen: SocketAddr, extra_hosts: &[String], extra_origins: &[String]) -> EdgePolicy {
        let mut hosts: Vec<String> = extra_hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        let loopback = listen.ip().is_loopback();
        if loopback {
            hosts.extend(["localhost", "127.0.0.1", "[::1]"].map(String::from));
        }
        let any_host = hosts.iter().any(|h| h == "*") || (!loopback && extra_hosts.is_empty());
        EdgePolicy {
            any_host,
            hosts,
            any_origin: extra_origins.iter().any(|o| o == "*"),
            origins: extra_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        }
    }

    /// `Err` names the refused value.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), EdgeRefusal> {
        let host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !self.any_host && !self.host_allowed(host) {
            return Err(EdgeRefusal::Host(host.to_owned()));
        }
        if let Some(origin) = headers.get(http::header::ORIGIN) {
            let origin = origin
                .to_str()
                .unwrap_or("")
                .trim_end_matches('/')
                .to_ascii_lowercase();
            if !self.origin_allowed(&origin) {
                return Err(EdgeRefusal::Origin(origin));
            }
        }
        Ok(())
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let name = strip_port(&host);
        self.hosts.iter().any(|h| *h == host || h == name)
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self.any_origin || self.origins.iter().any(|o| o == origin) {
            return true;
        }
        // Same-host origins (a page served by the gateway's own host).
        let host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or("");
        if host.is_empty() {
            return false;
        }
        self.host_allowed(host) || (self.any_host && host_is_loopback(host))
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(end) = host.strip_prefix('[').and_then(|h| h.find(']')) {
        return &host[..end + 2];
    }
    host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            name
        } else {
            host
        }
    })
}

fn host_is_loopback(host: &str) -> bool {
    matches!(strip_port(host), "localhost" | "127.0.0.1" | "[::1]")
}

/// A refused `Host` or `Origin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EdgeRefusal {
    /// The `Host` header.
    Host(String),
    /// The `Origin` header.
    Origin(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", host.parse().unwrap());
        if let Some(o) = origin {
            h.insert("origin", o.parse().unwrap());
        }
        h
    }

    #[test]
    fn loopback_listener_accepts_loopback_names_only() {
        let p = EdgePolicy::new("127.0.0.1:8800".parse().unwrap(), &[], &[]);
        for ok in [
            "localhost:8800",
            "127.0.0.1:8800",
            "[::1]:8800",
            "LOCALHOST",
            "127.0.0.1",
        ] {
            assert_eq!(p.check(&headers(ok, None)), Ok(()), "{ok}");
        }
        assert_eq!(
            p.check(&headers("evil.example.com", None)),
            Err(EdgeRefusal::Host("evil.example.com".into()))
        );
        assert!(p.check(&headers("localhost.evil.com:8800", None)).is_err());
        assert_eq!(
            p.check(&headers("localhost:8800", Some("http://localhost:8800"))),
            Ok(())
        );
        assert_eq!(
            p.check(&headers("localhost:8800", Some("http://evil.example.com"))),
            Err(EdgeRefusal::Origin("http://evil.example.com".into()))
        );
        assert!(p.check(&headers("localhost:8800", Some("null"))).is_err());
    }

    #[test]
    fn extra_hosts_and_origins() {
        let p = EdgePolicy::new(
            "127.0.0.1:8800".parse().unwrap(),
            &["gw.internal".into()],
            &["https://app.example.com".into()],
        );
        assert_eq!(p.check(&headers("gw.internal:443", None)), Ok(()));
        assert_eq!(
            p.check(&headers("gw.internal", Some("https://app.example.com/"))),
            Ok(())
        );
        assert!(
            p.check(&headers("gw.internal", Some("https://other.example.com")))
                .is_err()
        );
        let any = EdgePolicy::new("0.0.0.0:8800".parse().unwrap(), &[], &[]);
        assert_eq!(any.check(&headers("anything:1", None)), Ok(()));
        assert!(
            any.check(&headers("anything:1", Some("https://evil.example.com")))
                .is_err()
        );
    }
}
