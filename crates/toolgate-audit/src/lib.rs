//! toolgate's audit log: one record per gateway decision, tamper evident.
//!
//! - [`AuditRecord`] is what the gateway decided; [`redact`],
//!   [`canonical_json`] and [`arguments_sha256`] prepare its arguments.
//! - A [`Sink`] stores records in a hash chain ([`record_hash`]): SQLite by
//!   default, PostgreSQL for fleets (same schema, migrations shipped under
//!   `migrations/`), or nothing. [`Sink::verify`] walks the chain and names
//!   the first edited, inserted or deleted record; [`VerifyReport`] says
//!   what it can and cannot detect.
//! - [`AuditWriter`] batches records to a sink in the background, optionally
//!   copying each committed batch as JSON lines. It never drops a record:
//!   when it falls behind, [`AuditWriter::submit`] waits.
//!
//! **Invariant:** time is data. Records carry their time; the crate never
//! reads a clock except tokio's (batch intervals, retry backoff).
//! **Invariant:** no error's `Display` contains argument values, connection
//! passwords or other secrets.
#![forbid(unsafe_code)]

mod canonical;
mod chain;
mod cooperative;
mod error;
mod record;
pub mod rfc3339;
mod sink;
mod writer;

pub use canonical::{REDACTED, arguments_sha256, canonical_json, default_redact_keys, redact};
pub use chain::{ChainProblem, GENESIS_HASH, VerifyReport, record_hash};
pub use error::AuditError;
pub use record::{AuditRecord, StoredRecord};
pub use sink::{
    AppendError, MemorySink, PostgresSink, Query, Sink, SinkConfig, SqliteSink, open_sink,
};
pub use writer::{AuditWriter, Durability, JsonlTarget, WriterConfig, WriterStats};
