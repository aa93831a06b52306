//! `toolgate`: the command-line entry point.
#![forbid(unsafe_code)]

mod audit_cmd;
mod cli;
mod config_cmd;
mod grant_cmd;
mod logging;
mod policy_cmd;
mod replay;
mod runtime;
mod serve;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's allocator: a proxy allocates and frees many
/// small buffers per call. With the `dist` profile it takes about a quarter
/// off the gateway's CPU per call under load (docs/benchmarks.md, "What
/// was changed"). `no_thp`: without it, transparent huge pages made
/// mimalloc's eagerly committed arena resident in 2 MiB pieces, and the
/// idle gateway grew from 18 to 29 MiB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    runtime::build()?.block_on(cli::run(cli))
}
