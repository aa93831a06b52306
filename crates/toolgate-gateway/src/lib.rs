//! toolgate's data path: downstream sessions, upstream transports and the
//! request pipeline.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod clock;
pub mod gateway;
mod header_names;
pub mod pipeline;
pub mod runtime;
pub mod server;
pub mod session;
mod slot;
pub mod upstream;

pub use gateway::Gateway;
pub mod metrics;
pub mod policy;
pub mod stdio_front;
pub(crate) mod trace;
