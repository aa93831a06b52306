#!/usr/bin/env bash
# Measures toolgate against the field: the same MCP load (tools/call echo,
# every answer checked) directly against a fast fixture upstream, through
# toolgate (realistic 25-tool policy, SQLite audit), and through the peers
# that are installed (nginx as a plain reverse proxy, Python mcp-proxy, IBM
# ContextForge), in interleaved rounds; prints throughput and latency
# ratios, the gateway's CPU time per call and, with --memory, its RSS per
# session.
#
#   scripts/bench-compare.sh                      # defaults: 3 rounds x 5 s, concurrency 1 and 8
#   scripts/bench-compare.sh --peers              # first install nginx (apt), mcp-proxy and ContextForge (pip, pinned)
#   scripts/bench-compare.sh -- --memory --json   # anything after -- goes to `toolgate-load compare`
#
# Pinning: the generator runs on CPU 0 and everything it measures on CPU 1
# (taskset), so the gateway and the upstream share one core and never the
# generator's. Pass `-- --no-pin` to turn it off. Only loopback is used.
#
# TOOLGATE_BIN picks the gateway binary (default: target/release/toolgate,
# built here if missing). A peer that cannot be installed is reported as
# "peer X: not installed" and the run goes on without it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

MCP_PROXY_VERSION=0.13.0
CONTEXTFORGE_VERSION=1.0.7
PEERS_DIR="$ROOT/target/bench-peers"

install_peers=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --peers) install_peers=1 ;;
    --) shift; args+=("$@"); break ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done

if [ "$install_peers" = 1 ]; then
  if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    echo "bench-compare: installing nginx (apt)" >&2
    if [ "$(id -u)" = 0 ]; then
      { apt-get install -y nginx-light >&2 || { apt-get update >&2 && apt-get install -y nginx-light >&2; } \
        || apt-get install -y nginx >&2; } || echo "bench-compare: could not install nginx" >&2
    else
      echo "bench-compare: not root, not installing nginx" >&2
    fi
  fi
  if [ ! -x "$PEERS_DIR/venv/bin/mcp-proxy" ]; then
    echo "bench-compare: installing mcp-proxy $MCP_PROXY_VERSION (pip, $PEERS_DIR/venv)" >&2
    mkdir -p "$PEERS_DIR"
    { python3 -m venv "$PEERS_DIR/venv" \
      && "$PEERS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check \
           "mcp-proxy==$MCP_PROXY_VERSION" >&2; } \
      || echo "bench-compare: could not install mcp-proxy" >&2
  fi
  if [ ! -x "$PEERS_DIR/contextforge/bin/mcpgateway" ]; then
    echo "bench-compare: installing mcp-contextforge-gateway $CONTEXTFORGE_VERSION (pip, $PEERS_DIR/contextforge)" >&2
    mkdir -p "$PEERS_DIR"
    { python3 -m venv "$PEERS_DIR/contextforge" \
      && "$PEERS_DIR/contextforge/bin/pip" install --quiet --disable-pip-version-check \
           "mcp-contextforge-gateway==$CONTEXTFORGE_VERSION" >&2; } \
      || echo "bench-compare: could not install ContextForge" >&2
  fi
fi

TOOLGATE_BIN="${TOOLGATE_BIN:-$ROOT/target/release/toolgate}"
if [ ! -x "$TOOLGATE_BIN" ]; then
  echo "bench-compare: building toolgate (release)" >&2
  CARGO_TARGET_DIR="$ROOT/target" cargo build --release -p toolgate >&2
fi

exec cargo run --quiet --release -p toolgate-load -- compare --toolgate "$TOOLGATE_BIN" "${args[@]}"
