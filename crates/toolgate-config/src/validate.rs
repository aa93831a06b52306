//! Cross-field checks, run after expansion.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use crate::schema::{Config, OAuthConfig, SESSION_KEY_VAR, ServerConfig};

type Invalid = (String, String);

fn fail<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, Invalid> {
    Err((field.into(), message.into()))
}

pub(crate) fn validate(config: &Config) -> Result<(), Invalid> {
    if config.listen.parse::<SocketAddr>().is_err() {
        return fail(
            "listen",
            format!(
                "{:?} is not an address:port such as 127.0.0.1:8800",
                config.listen
            ),
        );
    }
    if let Some(admin) = &config.admin
        && admin.listen.parse::<SocketAddr>().is_err()
    {
        return fail(
            "admin.listen",
            format!("{:?} is not an address:port", admin.listen),
        );
    }
    let store = config.limits.store.as_str();
    if store != "memory" && !store.starts_with("redis://") {
        return fail(
            "limits.store",
            "must be `memory` or a redis:// URL".to_owned(),
        );
    }
    let h = &config.http;
    if h.max_connections == 0 || h.max_inflight_per_grant == 0 {
        return fail(
            "http",
            "max_connections and max_inflight_per_grant must be at least 1",
        );
    }
    if h.header_read_timeout.0.is_zero() || h.body_read_timeout.0.is_zero() {
        return fail(
            "http",
            "header_read_timeout and body_read_timeout must be more than 0",
        );
    }
    if config.limits.timeout.0.is_zero() {
        return fail("limits.timeout", "must be more than 0".to_owned());
    }
    let sink = config.audit.sink.as_str();
    let known = ["sqlite://", "postgres://", "postgresql://"]
        .iter()
        .any(|p| sink.starts_with(p))
        || sink == "none";
    if !known {
        return fail(
            "audit.sink",
            format!("{sink:?}: expected sqlite://PATH, postgres://… or none"),
        );
    }
    if config.audit.batch_max == 0 || config.audit.queue == 0 {
        return fail("audit", "batch_max and queue must be at least 1");
    }
    if let Some(t) = &config.telemetry {
        if !(t.otlp_endpoint.starts_with("http://") || t.otlp_endpoint.starts_with("https://")) {
            return fail(
                "telemetry.otlp_endpoint",
                "expected an http:// or https:// URL",
            );
        }
        if !(0.0..=1.0).contains(&t.sample_ratio) {
            return fail(
                "telemetry.sample_ratio",
                "expected a number from 0.0 to 1.0",
            );
        }
    }
    if config.servers.is_empty() {
        return fail("servers", "at least one server is required");
    }
    for (name, server) in &config.servers {
        validate_server(name, server)?;
        if let Some(o) = &server.oauth {
            validate_oauth(config, &format!("servers.{name}.oauth"), o)?;
        }
    }
    validate_access(config)?;
    validate_grants(config)?;
    for (name, path) in &config.policies {
        if path.is_empty() {
            return fail(format!("policies.{name}"), "empty path");
        }
    }
    if let Err(why) = config.sessions.key_bytes() {
        return fail(
            "sessions.key",
            format!("{why} (set here or by {SESSION_KEY_VAR})"),
        );
    }
    Ok(())
}

/// A server name is a URL path segment: keep it unambiguous.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

fn validate_server(name: &str, s: &ServerConfig) -> Result<(), Invalid> {
    let p = format!("servers.{name}");
    if !valid_name(name) {
        return fail(
            &p,
            "a server name may use letters, digits, '-', '_' and '.' (at most 64)",
        );
    }
    match (&s.command, &s.url) {
        (Some(_), Some(_)) => fail(
            &p,
            "set either `command` (stdio) or `url` (remote), not both",
        ),
        (None, None) => fail(&p, "set `command` (stdio) or `url` (remote)"),
        (Some(cmd), None) => {
            if cmd.first().is_none_or(String::is_empty) {
                return fail(format!("{p}.command"), "the command must name a program");
            }
            if !s.headers.is_empty() {
                return fail(
                    format!("{p}.headers"),
                    "`headers` apply to `url` servers only",
                );
            }
            Ok(())
        }
        (None, Some(url)) => {
            let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
            if !scheme_ok {
                return fail(
                    format!("{p}.url"),
                    format!("{url:?} is not an http:// or https:// URL"),
                );
            }
            let stdio_only = [("env", !s.env.is_empty()), ("cwd", s.cwd.is_some())];
            for (field, set) in stdio_only {
                if set {
                    return fail(
                        format!("{p}.{field}"),
                        format!("`{field}` applies to `command` servers only"),
                    );
                }
            }
            for header in s.headers.keys() {
                if header.eq_ignore_ascii_case("mcp-session-id") {
                    return fail(
                        format!("{p}.headers.{header}"),
                        "the gateway manages this header",
                    );
                }
            }
            Ok(())
        }
    }
}

/// The algorithms an OAuth section may name (the validator refuses `none`
/// and HMAC algorithms whatever the configuration says).
pub const OAUTH_ALGORITHMS: [&str; 8] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
];

fn validate_oauth(config: &Config, p: &str, o: &OAuthConfig) -> Result<(), Invalid> {
    if o.issuer.is_empty() {
        return fail(format!("{p}.issuer"), "the issuer is required");
    }
    match (&o.jwks_url, &o.key_file) {
        (Some(_), Some(_)) => return fail(p, "set `jwks_url` or `key_file`, not both"),
        (None, None) => return fail(p, "set `jwks_url` or `key_file`"),
        (Some(u), None) if !(u.starts_with("https://") || u.starts_with("http://")) => {
            return fail(format!("{p}.jwks_url"), "expected an https:// URL");
        }
        _ => {}
    }
    if o.algorithms.is_empty() {
        return fail(format!("{p}.algorithms"), "name at least one algorithm");
    }
    for a in &o.algorithms {
        if !OAUTH_ALGORITHMS.contains(&a.as_str()) {
            return fail(
                format!("{p}.algorithms"),
                format!("{a:?} is not one of {}", OAUTH_ALGORITHMS.join(", ")),
            );
        }
    }
    if let Some(policy) = &o.policy
        && !config.policies.contains_key(policy)
    {
        return fail(
            format!("{p}.policy"),
            format!("no policy named {policy:?} under `policies`"),
        );
    }
    Ok(())
}

/// `public_url`, the grant store and the admin token.
fn validate_access(config: &Config) -> Result<(), Invalid> {
    if let Some(u) = &config.public_url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        return fail("public_url", "expected an http:// or https:// URL");
    }
    let url = config.grant_store.url.as_str();
    let known = ["sqlite://", "postgres://", "postgresql://"]
        .iter()
        .any(|p| url.starts_with(p))
        || url == "auto"
        || url == "none";
    if !known {
        return fail(
            "grant_store.url",
            "expected auto, none, sqlite://PATH or postgres://…",
        );
    }
    if let Some(admin) = &config.admin {
        match (&admin.token, &admin.token_sha256) {
            (Some(_), Some(_)) => return fail("admin", "set `token` or `token_sha256`, not both"),
            (Some(t), None) if t.len() < 16 => {
                return fail("admin.token", "a token must be at least 16 characters");
            }
            (None, Some(h)) if h.len() != 64 || hex::decode(h).is_err() => {
                return fail("admin.token_sha256", "expected 64 hex digits (a SHA-256)");
            }
            _ => {}
        }
    }
    Ok(())
}

fn validate_grants(config: &Config) -> Result<(), Invalid> {
    let mut names = BTreeSet::new();
    let mut tokens = BTreeSet::new();
    let mut anonymous = BTreeSet::new();
    for (i, g) in config.grants.iter().enumerate() {
        let p = format!("grants[{i}]");
        if g.name.is_empty() {
            return fail(format!("{p}.name"), "a grant needs a name");
        }
        if !names.insert(g.name.as_str()) {
            return fail(
                format!("{p}.name"),
                format!("duplicate grant name {:?}", g.name),
            );
        }
        if !config.servers.contains_key(&g.server) {
            return fail(
                format!("{p}.server"),
                format!("no server named {:?}", g.server),
            );
        }
        if let Some(policy) = &g.policy
            && !config.policies.contains_key(policy)
        {
            return fail(
                format!("{p}.policy"),
                format!("no policy named {policy:?} under `policies`"),
            );
        }
        if g.anonymous {
            if g.token.is_some() || g.token_sha256.is_some() {
                return fail(&p, "an anonymous grant has no token");
            }
            if !anonymous.insert(g.server.as_str()) {
                return fail(
                    &p,
                    format!("server {:?} already has an anonymous grant", g.server),
                );
            }
            continue;
        }
        let hash = match (&g.token, &g.token_sha256) {
            (Some(_), Some(_)) => return fail(&p, "set `token` or `token_sha256`, not both"),
            (None, None) => return fail(&p, "set `token` or `token_sha256`"),
            (Some(t), None) => {
                if t.len() < 16 {
                    return fail(
                        format!("{p}.token"),
                        "a token must be at least 16 characters",
                    );
                }
                t.clone()
            }
            (None, Some(h)) => {
                let ok = h.len() == 64 && hex::decode(h).is_ok();
                if !ok {
                    return fail(
                        format!("{p}.token_sha256"),
                        "expected 64 hex digits (a SHA-256)",
                    );
                }
                h.to_ascii_lowercase()
            }
        };
        if !tokens.insert(hash) {
            return fail(&p, "two grants share one token");
        }
    }
    Ok(())
}
