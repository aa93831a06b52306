#!/usr/bin/env bash
# Measures toolgate against the field: the same MCP load (tools/call echo,
# every answer checked) directly against a fast fixture upstream, through
# toolgate (realistic 25-tool policy, SQLite audit), and through the peers
# that are installed (nginx as a plain reverse proxy, the harness's own
# tokio+hyper proxy that does no work, Python mcp-proxy, IBM ContextForge),
# in interleaved rounds; prints throughput and latency
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
# TOOLGATE_BIN picks the gateway binary (default: what a deployment runs,
# scripts/build-dist.sh's build: the `dist` profile, fat LTO, one codegen
# unit, guided by the committed profile; built here, which takes 10-14
# minutes on 2 cores the first time). A peer that cannot be installed is reported as
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

# pip_peer VENV PROGRAM REQUIREMENT LABEL: installs REQUIREMENT (pinned)
# into its own venv under $PEERS_DIR unless VENV/bin/PROGRAM is there.
pip_peer() {
  local venv="$PEERS_DIR/$1"
  [ -x "$venv/bin/$2" ] && return 0
  echo "bench-compare: installing $3 (pip, $venv)" >&2
  mkdir -p "$PEERS_DIR"
  { python3 -m venv "$venv" \
    && "$venv/bin/pip" install --quiet --disable-pip-version-check "$3" >&2; } \
    || echo "bench-compare: could not install $4" >&2
}

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
  pip_peer venv mcp-proxy "mcp-proxy==$MCP_PROXY_VERSION" mcp-proxy
  pip_peer contextforge mcpgateway "mcp-contextforge-gateway==$CONTEXTFORGE_VERSION" ContextForge
fi

if [ -z "${TOOLGATE_BIN:-}" ]; then
  # The deployment build (a no-op when it is up to date).
  echo "bench-compare: building toolgate (scripts/build-dist.sh: profile dist, profile-guided)" >&2
  TOOLGATE_BIN=$(CARGO_TARGET_DIR="$ROOT/target" "$ROOT/scripts/build-dist.sh")
fi

exec cargo run --quiet --release -p toolgate-load -- compare --toolgate "$TOOLGATE_BIN" "${args[@]}"
