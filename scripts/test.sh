#!/usr/bin/env bash
# Everything CI checks, in one command: formatting, lints, a release build,
# every test, and the interop suite against third-party MCP implementations
# (installed, pinned, by scripts/setup-interop.sh on first use).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --release --locked -- -D warnings

# One build serves the tests and the interop run: `cargo test --no-run`
# compiles the test targets and the binaries they need (toolgate,
# toolgate-fixture) with one feature set. A separate `cargo build --bins`
# would compile every tokio-based crate twice (dev-dependencies enable
# features such as tokio's test-util).
step "cargo build --release (tests and binaries)"
cargo test --workspace --release --locked --no-run

step "cargo test --release"
# Tests start their own throwaway PostgreSQL and Redis where the binaries
# exist; otherwise they use these (the machine's running services).
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
cargo test --workspace --release --locked

step "fuzz smoke run (10 s per target)"
# The long runs are for before a release (docs/security.md); CI checks the
# targets build and survive a short run. cargo-fuzz is pinned.
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.1
fi
scripts/fuzz.sh 10

step "interop (conformance suite, Python SDK, Inspector)"
scripts/interop.sh target/release
