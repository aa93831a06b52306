//! Policies in the gateway: the store of compiled policies with hot
//! reload, and the authorize and limit phases built on them.

mod authorize;
mod limit;
mod store;
mod time;
mod watch;

pub use authorize::{NO_POLICY, PolicyAuthorizer};
pub use limit::{PolicyLimiter, WhenUnavailable, charge_of};
pub use store::{LoadError, PolicyStore, Reloaded, ReplaceError};
pub use time::{describe_wait, rfc3339};
pub use watch::{WatchHandle, watch};
