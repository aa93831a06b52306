//! The audit writer's own CPU work per record, without a database: what
//! every `tools/call` costs the writer before SQLite or PostgreSQL sees it.
//! Run with `cargo bench -p toolgate-audit --bench chain`;
//! `scripts/bench-check.sh` compares their fastest samples with a baseline.
//!
//! - `hash_record`: normalize a record and compute its chain hash
//!   (canonical JSON of every field, SHA-256, hex), as `ChainHead::link`
//!   does for each record of a batch;
//! - `arguments_digest`: the digest of a call's arguments (canonical JSON
//!   with sorted keys), computed on the data path for every record.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark setup: a failure should stop the run"
)]

use divan::{Bencher, black_box};
use serde_json::Value;
use toolgate_audit::{GENESIS_HASH, arguments_sha256, record_hash};

mod common;
use common::record;

fn main() {
    divan::main();
}

/// The arguments of a typical CRM call.
fn arguments() -> Value {
    serde_json::from_str(
        r#"{"fields":{"TITLE":"Website enquiry","NAME":"Ada","LAST_NAME":"Lovelace","EMAIL":[{"VALUE":"ada@example.com","VALUE_TYPE":"WORK"}],"PHONE":[{"VALUE":"+44 20 7946 0000"}],"SOURCE_ID":"WEB","COMMENTS":"Asked for a demo next week.\nPrefers mornings."},"params":{"REGISTER_SONET_EVENT":"Y"}}"#,
    )
    .unwrap()
}

#[divan::bench]
fn hash_record(b: Bencher<'_, '_>) {
    let r = record(42);
    b.bench(|| record_hash(black_box(GENESIS_HASH), 42, &black_box(&r).normalized()));
}

#[divan::bench]
fn arguments_digest(b: Bencher<'_, '_>) {
    let args = arguments();
    b.bench(|| arguments_sha256(black_box(&args)));
}

/// Not the gateway's code: plain CPU work that `scripts/bench-check.sh`
/// divides this binary's other figures by (see `toolgate_load::calibrate`).
#[divan::bench]
fn calibrate(b: Bencher<'_, '_>) {
    let data = toolgate_load::calibrate::data();
    b.bench(|| toolgate_load::calibrate::work(black_box(&data)));
}
