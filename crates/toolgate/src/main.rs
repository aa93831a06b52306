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
            eprintln!("toolgate: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each said once, with no
/// backtrace noise. Many errors (ours and our dependencies') show their
/// cause in their own message and also return it as `source()`, so a
/// plain `{:#}` would print such a cause twice.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn run(cli: cli::Cli) -> anyhow::Result<()> {
    runtime::build()?.block_on(cli::run(cli))
}

#[cfg(test)]
mod tests {
    use super::one_line;

    /// Like most `thiserror` errors with a `source` field: the cause is in
    /// the message and is also the `source()`.
    #[derive(Debug)]
    struct ShowsItsCause {
        path: &'static str,
        source: std::io::Error,
    }

    impl std::fmt::Display for ShowsItsCause {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.path, self.source)
        }
    }

    impl std::error::Error for ShowsItsCause {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(ShowsItsCause {
            path: "a.yaml",
            source: io,
        });
        assert_eq!(format!("{e:#}"), "a.yaml: no such file: no such file");
        assert_eq!(one_line(&e), "a.yaml: no such file");
        let e = e.context("loading the configuration");
        assert_eq!(
            one_line(&e),
            "loading the configuration: a.yaml: no such file"
        );
    }
}
