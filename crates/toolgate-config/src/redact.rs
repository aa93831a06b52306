//! Secrets out of sight: [`Config::redacted`] for `toolgate config show`,
//! and the `Debug` of the sections that hold upstream credentials, so a
//! `?config` in a log line cannot leak them.
//!
//! Every struct with a secret-bearing field is taken apart exhaustively
//! (no `..`): adding a field fails to compile here until someone decides
//! whether it is a secret.

use std::collections::BTreeMap;
use std::fmt;

use crate::schema::{
    AdminConfig, AuditConfig, Config, GrantConfig, GrantStoreConfig, LimitsConfig, OAuthConfig,
    ServerConfig, SessionConfig, TelemetryConfig,
};

/// What a secret is shown as.
pub const REDACTED: &str = "<redacted>";

/// Names of query parameters and command-line flags whose values are
/// treated as secrets (case-insensitive substrings): `api_key`,
/// `access_token`, `X-Amz-Signature`, `--password`, ...
const SECRET_NAME_PARTS: [&str; 7] = ["token", "key", "secret", "pass", "pwd", "auth", "sig"];

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|part| name.contains(part))
}

/// A URL without its secrets: the password of the userinfo and the values
/// of query parameters named like credentials (`token`, `key`, `secret`,
/// `password`, `auth`, `sig`, ...) become `<redacted>`; the user name, host,
/// path and other parameters stay, so the URL still says where it points.
/// Text that is not `scheme://…` is returned as is. Passwords must be
/// percent-encoded, as URL syntax requires, for the split to be right.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (rest, None),
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut out = format!("{scheme}://");
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, _password)) => out.push_str(&format!("{user}:{REDACTED}")),
                None => out.push_str(userinfo),
            }
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            out.push_str(&redact_query(query));
        }
        None => out.push_str(tail),
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A command line without the values of credential-like flags
/// (`--api-key X`, `--token=X`, `API_KEY=X`) and URL passwords. Best
/// effort: secrets belong in `env`, whose values are always hidden.
fn redact_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for arg in args {
        let redacted = if std::mem::take(&mut hide_next) {
            REDACTED.to_owned()
        } else if arg.contains("://") {
            redact_url(arg)
        } else if let Some((name, _)) = arg.split_once('=')
            && !name.contains(['/', ' '])
            && is_secret_name(name)
        {
            format!("{name}={REDACTED}")
        } else {
            hide_next = arg.starts_with('-') && is_secret_name(arg);
            arg.clone()
        };
        out.push(redacted);
    }
    out
}

/// The keys of a map of secrets, each with the value `<redacted>`.
fn redact_values(map: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.keys()
        .map(|k| (k.clone(), REDACTED.to_owned()))
        .collect()
}

fn hide(secret: &Option<String>) -> Option<String> {
    secret.as_ref().map(|_| REDACTED.to_owned())
}

impl Config {
    /// A copy with every secret replaced by `<redacted>`: grant tokens,
    /// `admin.token`, `sessions.key`, the values (not the names) of every
    /// server's `headers` and `env`, credential-like command-line flags,
    /// and passwords and credential parameters in URLs (`audit.sink`,
    /// `limits.store`, `grant_store.url`, servers' `url`, ...). Hashes
    /// (`token_sha256`) are not secrets and stay.
    pub fn redacted(&self) -> Config {
        let Config {
            listen,
            servers,
            grants,
            policies,
            http,
            sessions,
            admin,
            telemetry,
            audit,
            limits,
            limits_unavailable,
            grant_store,
            public_url,
            base_dir,
        } = self;
        Config {
            listen: listen.clone(),
            servers: servers
                .iter()
                .map(|(name, s)| (name.clone(), s.redacted()))
                .collect(),
            grants: grants.iter().map(GrantConfig::redacted).collect(),
            policies: policies.clone(),
            http: http.clone(),
            sessions: sessions.redacted(),
            admin: admin.as_ref().map(AdminConfig::redacted),
            telemetry: telemetry.as_ref().map(TelemetryConfig::redacted),
            audit: audit.redacted(),
            limits: limits.redacted(),
            limits_unavailable: *limits_unavailable,
            grant_store: grant_store.redacted(),
            public_url: public_url.as_deref().map(redact_url),
            base_dir: base_dir.clone(),
        }
    }
}

impl ServerConfig {
    /// A copy without secrets: header and env values, credential-like
    /// arguments, and URL credentials.
    pub fn redacted(&self) -> ServerConfig {
        let ServerConfig {
            command,
            env,
            cwd,
            inherit_env,
            instances,
            url,
            transport,
            headers,
            protocol,
            timeout,
            connect_timeout,
            max_message_bytes,
            oauth,
        } = self;
        ServerConfig {
            command: command.as_deref().map(redact_args),
            env: redact_values(env),
            cwd: cwd.clone(),
            inherit_env: *inherit_env,
            instances: *instances,
            url: url.as_deref().map(redact_url),
            transport: *transport,
            headers: redact_values(headers),
            protocol: protocol.clone(),
            timeout: *timeout,
            connect_timeout: *connect_timeout,
            max_message_bytes: *max_message_bytes,
            oauth: oauth.as_ref().map(OAuthConfig::redacted),
        }
    }
}

/// Header and env values are credentials: `Debug` shows their names only.
impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ServerConfig {
            command,
            env,
            cwd,
            inherit_env,
            instances,
            url,
            transport,
            headers,
            protocol,
            timeout,
            connect_timeout,
            max_message_bytes,
            oauth,
        } = &self.redacted();
        f.debug_struct("ServerConfig")
            .field("command", command)
            .field("env", env)
            .field("cwd", cwd)
            .field("inherit_env", inherit_env)
            .field("instances", instances)
            .field("url", url)
            .field("transport", transport)
            .field("headers", headers)
            .field("protocol", protocol)
            .field("timeout", timeout)
            .field("connect_timeout", connect_timeout)
            .field("max_message_bytes", max_message_bytes)
            .field("oauth", oauth)
            .finish()
    }
}

impl OAuthConfig {
    fn redacted(&self) -> OAuthConfig {
        let OAuthConfig {
            issuer,
            audience,
            jwks_url,
            key_file,
            algorithms,
            scopes,
            policy,
            authorization_servers,
            leeway,
        } = self;
        OAuthConfig {
            issuer: issuer.clone(),
            audience: audience.clone(),
            jwks_url: jwks_url.as_deref().map(redact_url),
            key_file: key_file.clone(),
            algorithms: algorithms.clone(),
            scopes: scopes.clone(),
            policy: policy.clone(),
            authorization_servers: authorization_servers.clone(),
            leeway: *leeway,
        }
    }
}

impl GrantConfig {
    /// A copy without the token (its hash stays).
    pub fn redacted(&self) -> GrantConfig {
        let GrantConfig {
            name,
            token,
            token_sha256,
            server,
            policy,
            anonymous,
        } = self;
        GrantConfig {
            name: name.clone(),
            token: hide(token),
            token_sha256: token_sha256.clone(),
            server: server.clone(),
            policy: policy.clone(),
            anonymous: *anonymous,
        }
    }
}

/// The token is a secret: `Debug` never shows it.
impl fmt::Debug for GrantConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let GrantConfig {
            name,
            token,
            token_sha256,
            server,
            policy,
            anonymous,
        } = &self.redacted();
        f.debug_struct("GrantConfig")
            .field("name", name)
            .field("token", token)
            .field("token_sha256", token_sha256)
            .field("server", server)
            .field("policy", policy)
            .field("anonymous", anonymous)
            .finish()
    }
}

impl AdminConfig {
    fn redacted(&self) -> AdminConfig {
        let AdminConfig {
            listen,
            token,
            token_sha256,
        } = self;
        AdminConfig {
            listen: listen.clone(),
            token: hide(token),
            token_sha256: token_sha256.clone(),
        }
    }
}

impl SessionConfig {
    fn redacted(&self) -> SessionConfig {
        let SessionConfig {
            idle_timeout,
            max_sessions,
            replay_buffer_bytes,
            key,
        } = self;
        SessionConfig {
            idle_timeout: *idle_timeout,
            max_sessions: *max_sessions,
            replay_buffer_bytes: *replay_buffer_bytes,
            key: hide(key),
        }
    }
}

impl TelemetryConfig {
    fn redacted(&self) -> TelemetryConfig {
        let TelemetryConfig {
            otlp_endpoint,
            service_name,
            sample_ratio,
        } = self;
        TelemetryConfig {
            otlp_endpoint: redact_url(otlp_endpoint),
            service_name: service_name.clone(),
            sample_ratio: *sample_ratio,
        }
    }
}

impl AuditConfig {
    fn redacted(&self) -> AuditConfig {
        let AuditConfig {
            sink,
            jsonl,
            capture_args,
            redact_keys,
            durability,
            batch_interval,
            batch_max,
            queue,
        } = self;
        AuditConfig {
            sink: redact_url(sink),
            jsonl: jsonl.clone(),
            capture_args: *capture_args,
            redact_keys: redact_keys.clone(),
            durability: *durability,
            batch_interval: *batch_interval,
            batch_max: *batch_max,
            queue: *queue,
        }
    }
}

impl LimitsConfig {
    fn redacted(&self) -> LimitsConfig {
        let LimitsConfig {
            store,
            timeout,
            key_prefix,
        } = self;
        LimitsConfig {
            store: redact_url(store),
            timeout: *timeout,
            key_prefix: key_prefix.clone(),
        }
    }
}

impl GrantStoreConfig {
    fn redacted(&self) -> GrantStoreConfig {
        let GrantStoreConfig { url, timeout } = self;
        GrantStoreConfig {
            url: redact_url(url),
            timeout: *timeout,
        }
    }
}

/// The URLs of these sections may hold passwords: `Debug` shows what
/// [`Config::redacted`] shows.
impl fmt::Debug for AuditConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let AuditConfig {
            sink,
            jsonl,
            capture_args,
            redact_keys,
            durability,
            batch_interval,
            batch_max,
            queue,
        } = &self.redacted();
        f.debug_struct("AuditConfig")
            .field("sink", sink)
            .field("jsonl", jsonl)
            .field("capture_args", capture_args)
            .field("redact_keys", redact_keys)
            .field("durability", durability)
            .field("batch_interval", batch_interval)
            .field("batch_max", batch_max)
            .field("queue", queue)
            .finish()
    }
}

/// See [`AuditConfig`]'s `Debug`.
impl fmt::Debug for LimitsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LimitsConfig {
            store,
            timeout,
            key_prefix,
        } = &self.redacted();
        f.debug_struct("LimitsConfig")
            .field("store", store)
            .field("timeout", timeout)
            .field("key_prefix", key_prefix)
            .finish()
    }
}

/// See [`AuditConfig`]'s `Debug`.
impl fmt::Debug for GrantStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let GrantStoreConfig { url, timeout } = &self.redacted();
        f.debug_struct("GrantStoreConfig")
            .field("url", url)
            .field("timeout", timeout)
            .finish()
    }
}

/// See [`AuditConfig`]'s `Debug`.
impl fmt::Debug for TelemetryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let TelemetryConfig {
            otlp_endpoint,
            service_name,
            sample_ratio,
        } = &self.redacted();
        f.debug_struct("TelemetryConfig")
            .field("otlp_endpoint", otlp_endpoint)
            .field("service_name", service_name)
            .field("sample_ratio", sample_ratio)
            .finish()
    }
}

#[cfg(test)]
mod tests;
