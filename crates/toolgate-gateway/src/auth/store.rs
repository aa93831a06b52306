//! Opening the grant store named by the configuration.

use std::sync::Arc;

use toolgate_audit::SinkConfig;
use toolgate_config::Config;
use toolgate_state::{GrantOptions, GrantStore, PostgresGrants, SqliteGrants, StateError};

/// Why the grant store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreOpenError {
    /// The URL is not one the store understands.
    #[error("grant_store: {0}")]
    Url(String),
    /// The database refused.
    #[error("grant_store: {0}")]
    Open(#[from] StateError),
}

/// Opens (creating and migrating) the configured grant store; `None` when
/// the configuration has none (`grant_store: none`, or `auto` with the
/// audit sink `none`).
pub async fn open_grant_store(
    config: &Config,
) -> Result<Option<Arc<dyn GrantStore>>, StoreOpenError> {
    let Some(url) = config.grant_store_url() else {
        return Ok(None);
    };
    let options = GrantOptions {
        timeout: config.grant_store.timeout.0,
        ..GrantOptions::default()
    };
    // The same URL forms as the audit sink, so `auto` can share its file.
    let parsed =
        SinkConfig::parse(url, &config.base_dir).map_err(|e| StoreOpenError::Url(e.to_string()))?;
    let store: Arc<dyn GrantStore> = match parsed {
        SinkConfig::Sqlite { path } => Arc::new(SqliteGrants::open_with(&path, options).await?),
        SinkConfig::Postgres { url } => {
            Arc::new(PostgresGrants::connect_with(&url, options).await?)
        }
        SinkConfig::None => return Ok(None),
    };
    Ok(Some(store))
}
