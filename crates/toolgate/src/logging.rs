//! Logs go to stderr (stdout may carry MCP in `stdio` and `demo` modes), as
//! text or JSON lines; request spans go to an OTLP collector when the
//! config has a `telemetry` section.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use toolgate_config::TelemetryConfig;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// Log format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "TOOLGATE_LOG_FORMAT"
    )]
    log_format: LogFormat,
    /// Log filter, e.g. `info` or `toolgate=debug` (also `RUST_LOG`).
    #[arg(long, global = true, env = "TOOLGATE_LOG")]
    log: Option<String>,
}

/// Flushes exported spans when dropped.
pub(crate) struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("toolgate: flushing traces: {e}");
        }
    }
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

pub(crate) fn init(
    args: &LogArgs,
    telemetry: Option<&TelemetryConfig>,
) -> anyhow::Result<Telemetry> {
    let filter = match &args.log {
        Some(f) => EnvFilter::try_new(f)?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    // Colour only on a terminal: as an upstream child (`demo crm`) the
    // gateway re-logs these lines.
    let ansi = std::io::stderr().is_terminal();
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let fmt: BoxedLayer = match args.log_format {
        LogFormat::Text => fmt.with_filter(filter).boxed(),
        LogFormat::Json => fmt.json().with_filter(filter).boxed(),
    };
    let mut layers = vec![fmt];
    let provider = match telemetry {
        Some(t) => {
            let (layer, provider) = otel_layer(t)?;
            layers.push(layer);
            Some(provider)
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))?;
    Ok(Telemetry { provider })
}

/// Request spans (and only those: logs stay logs) to OTLP over HTTP,
/// batched on the exporter's own thread.
fn otel_layer(t: &TelemetryConfig) -> anyhow::Result<(BoxedLayer, SdkTracerProvider)> {
    let endpoint = format!("{}/v1/traces", t.otlp_endpoint.trim_end_matches('/'));
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            t.sample_ratio,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name(t.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("toolgate");
    // The request span is at DEBUG so the log filter's default (`info`)
    // leaves it off (trace.rs says why); this layer takes it whatever the
    // log level.
    let only_requests = Targets::new().with_target("toolgate::request", tracing::Level::DEBUG);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(only_requests)
        .boxed();
    Ok((layer, provider))
}
