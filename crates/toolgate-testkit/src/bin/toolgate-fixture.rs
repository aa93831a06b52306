//! `toolgate-fixture`: the MCP fixture upstream server.
//!
//! ```text
//! toolgate-fixture [stdio]
//! toolgate-fixture http [--port P] [--mode dual|sessionful|stateless]
//!                       [--unknown-session-status 404|400] [--path /mcp]
//! toolgate-fixture sse [--port P]
//! ```
//!
//! HTTP modes print exactly one line, `listening on http://127.0.0.1:PORT`,
//! to stdout once ready. stdio mode writes only JSON-RPC to stdout. Logs go
//! to stderr (`RUST_LOG`, default `info`).
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use toolgate_testkit::fixture::{
    FixtureError, HttpMode, HttpOptions, RunningFixture, UnknownSessionStatus, run_stdio,
    spawn_http, spawn_legacy_sse,
};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "toolgate-fixture",
    version,
    about = "MCP fixture upstream server for toolgate tests"
)]
struct Cli {
    #[command(subcommand)]
    transport: Option<TransportCommand>,
}

#[derive(Debug, Subcommand)]
enum TransportCommand {
    /// Newline-delimited JSON-RPC on stdin/stdout (the default).
    Stdio,
    /// Streamable HTTP on 127.0.0.1.
    Http {
        /// Port; 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Protocol generations served.
        #[arg(long, value_enum, default_value_t = Mode::Dual)]
        mode: Mode,
        /// HTTP status for unknown sessions.
        #[arg(long, value_enum, default_value_t = SessionStatus::NotFound)]
        unknown_session_status: SessionStatus,
        /// The MCP endpoint path.
        #[arg(long, default_value = "/mcp")]
        path: String,
    },
    /// Legacy HTTP+SSE (2024-11-05) on 127.0.0.1: GET /sse, POST /message.
    Sse {
        /// Port; 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Dual,
    Sessionful,
    Stateless,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SessionStatus {
    #[value(name = "404")]
    NotFound,
    #[value(name = "400")]
    BadRequest,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), FixtureError> {
    match cli.transport.unwrap_or(TransportCommand::Stdio) {
        TransportCommand::Stdio => run_stdio().await,
        TransportCommand::Http {
            port,
            mode,
            unknown_session_status,
            path,
        } => {
            let options = HttpOptions {
                port,
                mode: match mode {
                    Mode::Dual => HttpMode::Dual,
                    Mode::Sessionful => HttpMode::Sessionful,
                    Mode::Stateless => HttpMode::Stateless,
                },
                unknown_session_status: match unknown_session_status {
                    SessionStatus::NotFound => UnknownSessionStatus::NotFound,
                    SessionStatus::BadRequest => UnknownSessionStatus::BadRequest,
                },
                path,
            };
            announce(spawn_http(options).await?)?.wait().await
        }
        TransportCommand::Sse { port } => announce(spawn_legacy_sse(port).await?)?.wait().await,
    }
}

/// Prints the one line tests wait for.
fn announce(server: RunningFixture) -> Result<RunningFixture, FixtureError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{}", server.local_addr())?;
    stdout.flush()?;
    Ok(server)
}
