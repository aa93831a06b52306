//! The audit phase backed by `toolgate-audit`: every decision becomes a
//! record in the configured sink, through the batching writer.
//!
//! Argument values are never stored unless the operator opts in
//! (`audit.capture_args`), and then keys that look secret are redacted;
//! otherwise a record keeps the argument keys and the SHA-256 of the
//! canonical arguments, enough to prove what was called without keeping
//! what was said.

use std::time::Duration;

use futures_util::future::BoxFuture;
use toolgate_audit::{
    AuditError, AuditRecord as StoredShape, AuditWriter, JsonlTarget, SinkConfig, WriterConfig,
    arguments_sha256, default_redact_keys, open_sink, redact,
};
use toolgate_config::{AuditConfig, Config, Durability};

use crate::pipeline::{Audit, AuditRecord, UpstreamOutcome};

/// The audit log a gateway writes to.
pub struct AuditLog {
    writer: AuditWriter,
    strict: bool,
    capture: bool,
    redact_keys: Vec<String>,
    boot: String,
}

impl AuditLog {
    /// Opens the configured sink (creating and migrating it) and starts the
    /// writer. `None` when the sink is `none`.
    pub async fn open(config: &Config) -> Result<Option<AuditLog>, AuditError> {
        let a: &AuditConfig = &config.audit;
        let sink_cfg = SinkConfig::parse(&a.sink, &config.base_dir)?;
        if matches!(sink_cfg, SinkConfig::None) {
            return Ok(None);
        }
        let sink = open_sink(&sink_cfg).await?;
        let jsonl = a.jsonl.as_deref().map(|j| match j {
            "stdout" | "-" => JsonlTarget::Stdout,
            path => JsonlTarget::File(config.resolve_path(path)),
        });
        let writer = AuditWriter::start(
            sink,
            jsonl,
            WriterConfig {
                batch_max: a.batch_max,
                batch_interval: a.batch_interval.0.max(Duration::from_millis(1)),
                queue: a.queue,
            },
        );
        Ok(Some(AuditLog {
            writer,
            strict: a.durability == Durability::Strict,
            capture: a.capture_args,
            redact_keys: a.redact_keys.clone().unwrap_or_else(default_redact_keys),
            boot: boot_id(),
        }))
    }

    /// The writer (queue depth, stats, flush).
    pub fn writer(&self) -> &AuditWriter {
        &self.writer
    }

    fn convert(&self, r: AuditRecord) -> StoredShape {
        // Parsed once: the hash, the key list and (opted in) the stored
        // copy all come from this value.
        let args: Option<serde_json::Value> = r
            .arguments
            .as_ref()
            .and_then(|raw| serde_json::from_str(raw.get()).ok());
        let rpc_error_code = match r.upstream {
            UpstreamOutcome::RpcError(code) => Some(code),
            _ => None,
        };
        StoredShape {
            time: r.time,
            request_id: request_id(&self.boot, r.request_id),
            // `String::from(&str)`, not `to_string()`: an `Arc<str>` has no
            // fast `ToString` and would go through the formatter.
            grant: String::from(&*r.grant),
            principal: None,
            session: r.session.as_deref().map(str::to_owned),
            server: String::from(&*r.server),
            method: r.method,
            target: r.target,
            verdict: r.verdict.to_owned(),
            rule: r.rule,
            policy_version: r.policy_version,
            reason: r.reason,
            upstream: r.upstream.label().to_owned(),
            rpc_error_code,
            gateway_micros: r.gateway_micros,
            upstream_micros: r.upstream_micros,
            argument_keys: args
                .as_ref()
                .and_then(serde_json::Value::as_object)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default(),
            arguments_sha256: args.as_ref().map(arguments_sha256),
            arguments: args
                .filter(|_| self.capture)
                .map(|v| redact(&v, &self.redact_keys)),
        }
    }
}

impl Audit for AuditLog {
    fn record(&self, r: AuditRecord) -> BoxFuture<'_, ()> {
        let record = self.convert(r);
        Box::pin(async move {
            let result = if self.strict {
                self.writer.submit_durable(record).await
            } else {
                self.writer.submit(record).await
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "audit record could not be written");
            }
        })
    }
}

/// `<boot>-<n>`, written without the formatter (once per record).
fn request_id(boot: &str, n: u64) -> String {
    let mut digits = itoa::Buffer::new();
    let n = digits.format(n);
    let mut id = String::with_capacity(boot.len() + 1 + n.len());
    id.push_str(boot);
    id.push('-');
    id.push_str(n);
    id
}

/// Distinguishes this process's request numbers from another replica's or
/// an earlier run's.
fn boot_id() -> String {
    hex::encode(rand::random::<[u8; 4]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_the_boot_id_and_the_number_in_decimal() {
        let boot = boot_id();
        for n in [0, 7, 10, 1_234_567_890, u64::MAX] {
            assert_eq!(request_id(&boot, n), format!("{boot}-{n}"));
        }
    }
}
