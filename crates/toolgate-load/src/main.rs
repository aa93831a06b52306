//! `toolgate-load`: the fixture upstream, a one-off load run, the
//! interleaved comparison and the memory measurement, as subcommands.

#![forbid(unsafe_code)]

mod cli;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    cli::Cli::parse().run()
}
