//! The typed schema of `toolgate.yaml`. Every section rejects unknown keys.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::units::{ByteSize, Seconds};

/// The whole file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the MCP endpoints listen. Loopback by default.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Upstream MCP servers by name; each is served at `/mcp/<name>`.
    #[serde(default)]
    pub servers: BTreeMap<String, ServerConfig>,
    /// Credentials, each bound to one server.
    #[serde(default)]
    pub grants: Vec<GrantConfig>,
    /// Policy files by name, relative to the config file's directory.
    #[serde(default)]
    pub policies: BTreeMap<String, String>,
    /// The client-facing HTTP edge.
    #[serde(default)]
    pub http: HttpConfig,
    /// Downstream session handling.
    #[serde(default)]
    pub sessions: SessionConfig,
    /// The admin listener (metrics, health), off unless configured.
    #[serde(default)]
    pub admin: Option<AdminConfig>,
    /// OpenTelemetry traces, off unless configured.
    #[serde(default)]
    pub telemetry: Option<TelemetryConfig>,
    /// The audit log: a sink URL, or the full section.
    #[serde(default, deserialize_with = "url_or_section")]
    pub audit: AuditConfig,
    /// The counter store for limits: `memory` (the default) or a Redis URL,
    /// or the full section.
    #[serde(default, deserialize_with = "url_or_section")]
    pub limits: LimitsConfig,
    /// What a call whose limits cannot be checked gets.
    #[serde(default)]
    pub limits_unavailable: Unavailable,
    /// Where grants made with `toolgate grant create` live: `auto` (the
    /// audit log's database), `none`, `sqlite://PATH`, `postgres://…`, or
    /// the full section.
    #[serde(default, deserialize_with = "url_or_section")]
    pub grant_store: GrantStoreConfig,
    /// The URL clients reach this gateway at, e.g. `https://gw.example.com`
    /// (OAuth resource identifiers and metadata URLs are built from it).
    /// Defaults to `http://<listen>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// The directory relative paths are resolved against (the config
    /// file's directory). Not read from the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_listen() -> String {
    "127.0.0.1:8800".into()
}

impl Config {
    /// The listen address, validated at load.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8800)))
    }

    /// The base URL clients use, without a trailing slash.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen_addr()),
        }
    }

    /// The URL of a server's MCP endpoint as clients see it: its OAuth
    /// resource identifier (RFC 8707).
    pub fn resource_url(&self, server: &str) -> String {
        format!("{}/mcp/{server}", self.public_base())
    }

    /// The grant store's URL once `auto` is resolved; `None` when there is
    /// no store.
    pub fn grant_store_url(&self) -> Option<&str> {
        let url = match self.grant_store.url.as_str() {
            "auto" => self.audit.sink.as_str(),
            other => other,
        };
        (url != "none").then_some(url)
    }

    /// Resolves a path from the file against the config file's directory.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        let path = PathBuf::from(p);
        if path.is_absolute() {
            path
        } else {
            self.base_dir.join(path)
        }
    }
}

/// One upstream MCP server: either a `command` (stdio) or a `url` (remote).
#[derive(Clone, Deserialize, Serialize)]
// `Debug` is in `redact`: it hides the secrets.
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// stdio: the program and its arguments.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// stdio: extra environment for the process.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// stdio: working directory (relative to the config file).
    #[serde(default)]
    pub cwd: Option<String>,
    /// stdio: which of the gateway's own environment the process inherits.
    #[serde(default)]
    pub inherit_env: InheritEnv,
    /// stdio: one process per downstream session, or one shared process.
    #[serde(default)]
    pub instances: Instances,
    /// remote: the MCP endpoint URL.
    #[serde(default)]
    pub url: Option<String>,
    /// remote: Streamable HTTP, legacy HTTP+SSE, or detected.
    #[serde(default)]
    pub transport: Transport,
    /// remote: headers added to every upstream request (credentials).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Which protocol generation to speak upstream.
    #[serde(default)]
    pub protocol: ProtocolChoice,
    /// How long one upstream request may take.
    #[serde(default = "default_request_timeout")]
    pub timeout: Seconds,
    /// How long connecting, spawning and initializing may take.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Seconds,
    /// Largest single message accepted from the upstream (a stdio line or
    /// an SSE event).
    #[serde(default = "default_max_message")]
    pub max_message_bytes: ByteSize,
    /// Accept OAuth 2.1 access tokens (JWTs) for this server, besides
    /// grants' bearer tokens.
    #[serde(default)]
    pub oauth: Option<OAuthConfig>,
}

/// An OAuth 2.1 resource server (the MCP authorization spec): which access
/// tokens a server accepts and what their callers are held to.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// The authorization server's issuer identifier (`iss`, exact match).
    pub issuer: String,
    /// Accepted `aud` values. Defaults to the server's resource URL
    /// (`<public_url>/mcp/<server>`, RFC 8707).
    #[serde(default)]
    pub audience: Vec<String>,
    /// Where the signing keys are published (fetched, cached, refetched on
    /// an unknown `kid`).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Or a file with the key: a PEM public key (RSA or EC) or a JWK set.
    #[serde(default)]
    pub key_file: Option<String>,
    /// Accepted signature algorithms.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Scopes every token must carry (403 `insufficient_scope` otherwise).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The policy OAuth callers are held to (as a grant's `policy`).
    #[serde(default)]
    pub policy: Option<String>,
    /// Authorization servers listed in the protected resource metadata
    /// (RFC 9728). Defaults to the issuer.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    #[serde(default = "default_leeway")]
    pub leeway: Seconds,
}

fn default_algorithms() -> Vec<String> {
    vec!["RS256".into(), "ES256".into()]
}

fn default_leeway() -> Seconds {
    Seconds::from_secs(60)
}

/// Where run-time grants (`toolgate grant create`) are stored.
#[derive(Clone, Deserialize, Serialize)]
// `Debug` is in `redact`: it hides the secrets.
#[serde(deny_unknown_fields, default)]
pub struct GrantStoreConfig {
    /// `auto` (the audit log's database), `none`, `sqlite://PATH` or
    /// `postgres://…`.
    pub url: String,
    /// How long one lookup may take before the request is refused (503).
    pub timeout: Seconds,
}

impl Default for GrantStoreConfig {
    fn default() -> Self {
        GrantStoreConfig {
            url: "auto".into(),
            timeout: Seconds::from_secs(2),
        }
    }
}

impl FromUrl for GrantStoreConfig {
    const EXPECTING: &'static str = "auto, none, a database URL or a grant_store section";
    fn from_url(url: &str) -> Self {
        GrantStoreConfig {
            url: url.to_owned(),
            ..GrantStoreConfig::default()
        }
    }
}

fn default_request_timeout() -> Seconds {
    Seconds::from_secs(300)
}

fn default_connect_timeout() -> Seconds {
    Seconds::from_secs(30)
}

fn default_max_message() -> ByteSize {
    ByteSize(16 << 20)
}

/// What environment a stdio server inherits from the gateway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InheritEnv {
    /// Only `PATH`, `HOME`, `USER`, `LOGNAME`, `SHELL`, `TERM`, `LANG`,
    /// `LC_ALL`, `TMPDIR`, `TZ`: the gateway's own secrets (grant tokens,
    /// other servers' keys) stay out of the child.
    #[default]
    Minimal,
    /// Everything the gateway has.
    All,
    /// Nothing but `env`.
    None,
}

/// How stdio processes map to downstream sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Instances {
    /// A fresh process per downstream session (isolation; the default).
    #[default]
    PerSession,
    /// One long-lived process multiplexed across sessions.
    Shared,
}

/// The wire transport of a remote server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Streamable HTTP first; legacy HTTP+SSE if the server refuses it.
    #[default]
    Auto,
    /// Streamable HTTP (2025-03-26 and later).
    StreamableHttp,
    /// Legacy HTTP+SSE (2024-11-05): GET an event stream, POST messages.
    Sse,
}

/// The protocol generation spoken to an upstream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolChoice {
    /// Probe: stateless `server/discover` first on HTTP, `initialize` first
    /// on stdio, falling back to the other.
    #[default]
    Auto,
    /// Always `initialize` and sessions (2025-11-25 and earlier).
    Sessionful,
    /// Always stateless requests (2026-07-28).
    Stateless,
}

/// A credential bound to one server.
#[derive(Clone, Deserialize, Serialize)]
// `Debug` is in `redact`: it hides the secrets.
#[serde(deny_unknown_fields)]
pub struct GrantConfig {
    /// A label for logs and audit, e.g. `alice-laptop`.
    pub name: String,
    /// The bearer token, usually `${VAR}`.
    #[serde(default)]
    pub token: Option<String>,
    /// Or the SHA-256 of the token, in hex.
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// The one server this grant may reach.
    pub server: String,
    /// The policy applied to this grant's calls.
    #[serde(default)]
    pub policy: Option<String>,
    /// Accept requests without any token as this grant. Off by default;
    /// meant for loopback-only development and test suites whose clients
    /// cannot send a header. At most one per server.
    #[serde(default)]
    pub anonymous: bool,
}

/// The client-facing HTTP edge.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest request body (413 above it).
    pub max_body_bytes: ByteSize,
    /// Time allowed to read a request's headers. It also bounds how long
    /// an idle keep-alive connection waits for its next request.
    pub header_read_timeout: Seconds,
    /// Time allowed to read a request's body (slow senders get 408).
    pub body_read_timeout: Seconds,
    /// Most client connections open at once; more are answered 503 and
    /// closed.
    pub max_connections: usize,
    /// Most requests one grant (or OAuth subject) may have in flight at
    /// once; more are answered 429.
    pub max_inflight_per_grant: usize,
    /// Extra `Origin` values accepted (browser clients). Same-host origins
    /// of the listen address are always accepted; `*` accepts any.
    pub allowed_origins: Vec<String>,
    /// Extra `Host` values accepted (DNS-rebinding protection). Loopback
    /// names are always accepted; `*` accepts any.
    pub allowed_hosts: Vec<String>,
    /// How replies to requests are sent when the client accepts both.
    pub response_mode: ResponseMode,
    /// Interval of SSE keep-alive comments on open streams.
    pub sse_keep_alive: Seconds,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Seconds,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: ByteSize(4 << 20),
            header_read_timeout: Seconds::from_secs(10),
            body_read_timeout: Seconds::from_secs(30),
            max_connections: 4096,
            max_inflight_per_grant: 64,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            response_mode: ResponseMode::Auto,
            sse_keep_alive: Seconds::from_secs(15),
            shutdown_grace: Seconds::from_secs(10),
        }
    }
}

/// How the gateway answers a POSTed request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// Follow the upstream: a Streamable HTTP upstream's choice of JSON or
    /// SSE is mirrored; stdio and legacy SSE upstreams stream everything,
    /// so their replies are SSE streams. (Any notification or request before
    /// the response always makes it a stream.)
    #[default]
    Auto,
    /// Always an SSE stream (when the client accepts it).
    Sse,
    /// Always JSON; interim messages go to the session's GET stream.
    Json,
}

/// The audit log.
#[derive(Clone, Deserialize, Serialize)]
// `Debug` is in `redact`: it hides the secrets.
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// `sqlite://toolgate.db` (relative to the config file), `sqlite:///abs.db`,
    /// `postgres://…`, or `none`.
    pub sink: String,
    /// Also stream records as JSON lines: `stdout` or a file path.
    pub jsonl: Option<String>,
    /// Store argument values (redacted) instead of only their keys and hash.
    pub capture_args: bool,
    /// Argument keys whose values are redacted (case-insensitive substrings).
    pub redact_keys: Option<Vec<String>>,
    /// `strict`: a `tools/call` is answered only once its record is committed.
    pub durability: Durability,
    /// A batch is committed at least this often.
    pub batch_interval: Seconds,
    /// Most records per batch.
    pub batch_max: usize,
    /// Records waiting beyond which the data path waits (never drops).
    pub queue: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            sink: "sqlite://toolgate.db".into(),
            jsonl: None,
            capture_args: false,
            redact_keys: None,
            durability: Durability::Default,
            batch_interval: Seconds(std::time::Duration::from_millis(200)),
            batch_max: 512,
            queue: 8192,
        }
    }
}

impl FromUrl for AuditConfig {
    const EXPECTING: &'static str =
        "a sink URL (sqlite://…, postgres://…, none) or an audit section";
    fn from_url(url: &str) -> Self {
        AuditConfig {
            sink: url.to_owned(),
            ..AuditConfig::default()
        }
    }
}

/// The counter store for limits.
#[derive(Clone, Deserialize, Serialize)]
// `Debug` is in `redact`: it hides the secrets.
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// `memory` (exact within one process) or `redis://host:port/db`
    /// (shared by every replica).
    pub store: String,
    /// How long a decision may wait for Redis before the store counts as
    /// unavailable.
    pub timeout: Seconds,
    /// Prefix of every Redis key (to keep several fleets apart on one Redis).
    pub key_prefix: String,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            store: "memory".into(),
            timeout: Seconds(std::time::Duration::from_millis(50)),
            key_prefix: "toolgate:limits:".into(),
        }
    }
}

impl FromUrl for LimitsConfig {
    const EXPECTING: &'static str = "memory, a Redis URL (redis://…) or a limits section";
    fn from_url(url: &str) -> Self {
        LimitsConfig {
            store: url.to_owned(),
            ..LimitsConfig::default()
        }
    }
}

/// When the counter store cannot answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unavailable {
    /// Refuse the call with a clear reason (fail closed).
    #[default]
    Deny,
    /// Let it through uncounted.
    Allow,
}

/// A section that may be written as just its URL.
trait FromUrl: Sized {
    const EXPECTING: &'static str;
    fn from_url(url: &str) -> Self;
}

/// `audit: sqlite://x.db` is short for `audit: {sink: sqlite://x.db}`, and
/// `limits: redis://…` for `limits: {store: redis://…}`.
fn url_or_section<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: FromUrl + Deserialize<'de>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: FromUrl + Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(T::EXPECTING)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            Ok(T::from_url(v))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

/// When a call's answer waits for its audit record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Records are batched in the background; a crash loses at most the
    /// last batch interval.
    #[default]
    Default,
    /// Each `tools/call` answer waits until its record is committed.
    Strict,
}

/// OpenTelemetry trace export.
#[derive(Clone, Deserialize, Serialize)]
// `Debug` is in `redact`: it hides the secrets.
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The OTLP/HTTP endpoint, e.g. `http://127.0.0.1:4318` (spans go to
    /// `<endpoint>/v1/traces`, protobuf-encoded).
    pub otlp_endpoint: String,
    /// `service.name` of the spans.
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// Fraction of requests traced (0.0 to 1.0), honouring an incoming
    /// sampled `traceparent`.
    #[serde(default = "one")]
    pub sample_ratio: f64,
}

fn default_service_name() -> String {
    "toolgate".into()
}

fn one() -> f64 {
    1.0
}

/// The admin listener: metrics and health for anyone who can reach it, and
/// the admin API for holders of the admin token.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Where it listens; keep it on loopback or a private network.
    #[serde(default = "default_admin_listen")]
    pub listen: String,
    /// The admin API's bearer token, usually `${VAR}`. Only its hash is
    /// kept once loaded. Also spelled `admin_token`.
    #[serde(default, alias = "admin_token")]
    pub token: Option<String>,
    /// Or the SHA-256 of the token, in hex (also `admin_token_sha256`).
    #[serde(default, alias = "admin_token_sha256")]
    pub token_sha256: Option<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: default_admin_listen(),
            token: None,
            token_sha256: None,
        }
    }
}

/// The token is a secret: `Debug` never shows it.
impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_sha256", &self.token_sha256)
            .finish()
    }
}

fn default_admin_listen() -> String {
    "127.0.0.1:8801".into()
}

/// Downstream sessions.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// A session unused this long is closed (its upstream too).
    pub idle_timeout: Seconds,
    /// Most sessions open at once, across all servers.
    pub max_sessions: usize,
    /// Bytes of SSE events kept per session for `Last-Event-ID` replay.
    pub replay_buffer_bytes: ByteSize,
    /// The key that seals session ids (32 bytes: 64 hex digits or base64),
    /// shared by every replica so a session started on one continues on
    /// another. Falls back to `TOOLGATE_SESSION_KEY`; without either, each
    /// process makes a random key and keeps its sessions to itself.
    pub key: Option<String>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_timeout: Seconds::from_secs(30 * 60),
            max_sessions: 10_000,
            replay_buffer_bytes: ByteSize(1 << 20),
            key: None,
        }
    }
}

/// The environment variable `sessions.key` falls back to.
pub const SESSION_KEY_VAR: &str = "TOOLGATE_SESSION_KEY";

impl SessionConfig {
    /// The session key's 32 bytes, if one is set. The error says what is
    /// wrong without repeating the value (it is a secret).
    pub fn key_bytes(&self) -> Result<Option<[u8; 32]>, String> {
        let Some(text) = self.key.as_deref() else {
            return Ok(None);
        };
        let text = text.trim();
        let decoded = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            // Standard or URL-safe alphabet, padded or not.
            use base64::Engine as _;
            use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
            let unpadded = text.trim_end_matches('=');
            STANDARD_NO_PAD
                .decode(unpadded)
                .or_else(|_| URL_SAFE_NO_PAD.decode(unpadded))
                .ok()
        };
        match decoded.map(<[u8; 32]>::try_from) {
            Some(Ok(key)) => Ok(Some(key)),
            Some(Err(bytes)) => Err(format!(
                "the key is {} bytes; it must be 32 (64 hex digits or 44 base64 characters, e.g. from `openssl rand -hex 32`)",
                bytes.len()
            )),
            None => Err(format!(
                "the key ({} characters) is neither 64 hex digits nor base64 of 32 bytes (e.g. `openssl rand -hex 32`)",
                text.len()
            )),
        }
    }
}

/// The key is a secret: `Debug` never shows it.
impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("idle_timeout", &self.idle_timeout)
            .field("max_sessions", &self.max_sessions)
            .field("replay_buffer_bytes", &self.replay_buffer_bytes)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}
