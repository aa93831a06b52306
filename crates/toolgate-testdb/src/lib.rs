//! Throwaway database servers for toolgate's tests.
//!
//! [`postgres()`] and [`redis()`] start a private server on a free loopback
//! port in a temporary directory when the server binaries are installed, and
//! stop it and remove the directory when the handle is dropped. Where the
//! binaries are missing they fall back to `DATABASE_URL` / `REDIS_URL`, with
//! a fresh database (PostgreSQL) or key prefix (Redis) per handle so tests
//! never share state. With neither, they panic with what to install or set:
//! a test that needs a database fails loudly, it is never skipped.
//!
//! PostgreSQL refuses to run as root; when the tests run as root the cluster
//! is created and run as the `postgres` user (or `nobody`), through `runuser`
//! (or `su`), in a directory handed over to that user.
#![forbid(unsafe_code)]

mod postgres;
mod process;
mod redis;

pub use postgres::{PgOptions, PgServer, postgres, postgres_with};
pub use process::free_port;
pub use redis::{RedisServer, redis};
