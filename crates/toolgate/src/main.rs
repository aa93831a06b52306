//! `toolgate`: the command-line entry point.
#![forbid(unsafe_code)]

mod audit_cmd;
mod cli;
mod config_cmd;
mod grant_cmd;
mod logging;
mod policy_cmd;
mod replay;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes, on one line; no backtrace noise.
            eprintln!("toolgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(cli::run(cli))
}
