//! OAuth 2.1 access tokens for one server (the MCP authorization spec):
//! the gateway is the resource server. Tokens are validated by
//! `toolgate-oauth`; this module maps the configuration in, the identity
//! out, and publishes the RFC 9728 protected resource metadata.

use std::sync::Arc;

use serde_json::json;
use toolgate_config::{Config, OAuthConfig};
use toolgate_oauth::{
    Algorithm, ErrorKind, KeySource, Settings, SettingsError, TokenError, Validator,
};

use super::AuthError;
use crate::clock::SystemClock;
use crate::pipeline::Principal;

/// Why a server's `oauth` section cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OAuthSetupError {
    /// The key file cannot be read.
    #[error("servers.{server}.oauth.key_file: {path}: {error}")]
    KeyFile {
        /// The server.
        server: String,
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The settings are refused (an unparsable key, an insecure URL…).
    #[error("servers.{server}.oauth: {error}")]
    Settings {
        /// The server.
        server: String,
        /// Why.
        error: SettingsError,
    },
}

/// One server's OAuth resource: its validator and its metadata.
pub struct OAuthResource {
    validator: Validator,
    server: Arc<str>,
    policy: Option<Arc<str>>,
    scopes: Vec<String>,
    metadata_url: String,
    metadata: serde_json::Value,
}

impl OAuthResource {
    /// Sets up the resource for `server`. Reads a key file now; a JWKS URL
    /// is fetched on the first token.
    pub fn new(config: &Config, server: &str, o: &OAuthConfig) -> Result<Self, OAuthSetupError> {
        let keys = match (&o.jwks_url, &o.key_file) {
            (Some(url), _) => KeySource::JwksUrl(url.clone()),
            (None, Some(file)) => {
                let path = config.resolve_path(file);
                let text =
                    std::fs::read_to_string(&path).map_err(|error| OAuthSetupError::KeyFile {
                        server: server.to_owned(),
                        path: path.display().to_string(),
                        error,
                    })?;
                if text.trim_start().starts_with('{') {
                    KeySource::Jwk(text)
                } else {
                    KeySource::Pem(text)
                }
            }
            // Config validation requires one of the two.
            (None, None) => KeySource::Jwk(String::new()),
        };
        let resource = config.resource_url(server);
        let audiences = if o.audience.is_empty() {
            vec![resource.clone()]
        } else {
            o.audience.clone()
        };
        let mut settings = Settings::new(o.issuer.clone(), audiences, keys);
        // Config validation admits only names the validator knows.
        settings.algorithms = o
            .algorithms
            .iter()
            .filter_map(|a| Algorithm::from_name(a))
            .collect();
        settings.leeway = o.leeway.0;
        settings.required_scopes = o.scopes.clone();
        let validator = Validator::new(settings, Arc::new(SystemClock)).map_err(|error| {
            OAuthSetupError::Settings {
                server: server.to_owned(),
                error,
            }
        })?;
        let authorization_servers = if o.authorization_servers.is_empty() {
            vec![o.issuer.clone()]
        } else {
            o.authorization_servers.clone()
        };
        let mut metadata = json!({
            "resource": resource,
            "authorization_servers": authorization_servers,
            "bearer_methods_supported": ["header"],
            "resource_name": format!("toolgate: {server}"),
        });
        if !o.scopes.is_empty() {
            metadata["scopes_supported"] = json!(o.scopes);
        }
        Ok(OAuthResource {
            validator,
            server: server.into(),
            policy: o.policy.as_deref().map(Into::into),
            scopes: o.scopes.clone(),
            metadata_url: format!(
                "{}/.well-known/oauth-protected-resource/mcp/{server}",
                config.public_base()
            ),
            metadata,
        })
    }

    /// The caller an access token speaks for: `oauth:<sub>`, held to the
    /// section's policy, with its subject, client and claims for policy
    /// conditions.
    pub async fn authenticate(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        let id = self.validator.validate(token).await.map_err(refusal)?;
        Ok(Arc::new(Principal {
            grant: format!("oauth:{}", id.subject).into(),
            server: self.server.clone(),
            policy: self.policy.clone(),
            subject: Some(id.subject.into()),
            client: id.client_id.map(Into::into),
            claims: Some(Arc::new(id.claims)),
        }))
    }

    /// Where the protected resource metadata is published.
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// The RFC 9728 protected resource metadata document.
    pub fn metadata(&self) -> &serde_json::Value {
        &self.metadata
    }

    /// The scopes to name in a challenge, if the server requires any.
    pub fn scope_hint(&self) -> Option<String> {
        (!self.scopes.is_empty()).then(|| self.scopes.join(" "))
    }

    /// Fetches the key set ahead of the first token (errors are logged: the
    /// first token tries again).
    pub async fn warm_up(&self) {
        if let Err(e) = self.validator.refresh().await {
            tracing::warn!(server = %self.server, error = %e, "OAuth signing keys could not be fetched yet");
        }
    }
}

fn refusal(e: TokenError) -> AuthError {
    match (e.kind(), e) {
        (ErrorKind::InsufficientScope, TokenError::InsufficientScope { required, .. }) => {
            AuthError::InsufficientScope(required)
        }
        (ErrorKind::Unavailable, e) => {
            tracing::warn!(error = %e, "access token could not be checked");
            AuthError::Unavailable("the signing keys are unavailable".into())
        }
        (ErrorKind::InvalidToken | ErrorKind::InsufficientScope, e) => {
            AuthError::Invalid(e.to_string())
        }
    }
}
