# Sourced by the scripts that run toolgate in front of the load harness's
# fixture with `compare`'s config and policy (bench-instructions.sh,
# bench-phases.sh, build-pgo.sh). Needs $load (a toolgate-load binary), curl and python3.
#
#   start_stack LOG CMD...   # CMD (e.g. valgrind ... toolgate) gets `serve --config toolgate.yaml`
#
# (start_floor LOG CMD... does the same for the stack's floor, below.)
#
# Starts a fixture on a free port, writes the config into a temp directory
# ($stack_dir), runs `CMD serve --config toolgate.yaml` there with its
# output in LOG, and waits up to a minute for /healthz. Sets $stack_fx and
# $stack_gw (the pids) and $stack_url; returns 1 if the gateway did not
# come up (everything stopped and removed). `stop_stack` ends a stack.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_stack() {
  local log=$1 fx_port gw_port
  shift
  stack_gw=
  stack_dir=$(mktemp -d)
  fx_port=$(free_port)
  gw_port=$(free_port)
  "$load" fixture --listen "127.0.0.1:$fx_port" >/dev/null 2>&1 &
  stack_fx=$!
  # Callers use `start_stack ... ||`, which turns `set -e` off in here:
  # each step's failure is checked by hand.
  if ! "$load" config --dir "$stack_dir" --listen "127.0.0.1:$gw_port" \
    --upstream "http://127.0.0.1:$fx_port/mcp" >/dev/null; then
    echo "toolgate-load config failed" >&2
    stop_stack
    return 1
  fi
  (cd "$stack_dir" && TOOLGATE_LOG=warn exec "$@" serve --config toolgate.yaml) >"$log" 2>&1 &
  stack_gw=$!
  stack_url="http://127.0.0.1:$gw_port"
  await_stack "the gateway" "$log" -f "$stack_url/healthz"
}

# The stack's floor instead of a gateway: a fixture on a free port and
# `CMD $load hyper-proxy` in front of it (CMD: e.g. `taskset -c 1`, or
# valgrind's command line; none at all is fine), output in LOG. Sets the
# same variables as start_stack (the proxy's pid in $stack_gw), so
# stop_stack ends it; the fixture's MCP endpoint is $stack_url/mcp.
start_floor() {
  local log=$1 fx_port gw_port
  shift
  stack_dir=
  fx_port=$(free_port)
  gw_port=$(free_port)
  "$load" fixture --listen "127.0.0.1:$fx_port" >/dev/null 2>&1 &
  stack_fx=$!
  "$@" "$load" hyper-proxy --listen "127.0.0.1:$gw_port" --upstream "127.0.0.1:$fx_port" >"$log" 2>&1 &
  stack_gw=$!
  stack_url="http://127.0.0.1:$gw_port"
  # The proxy answers any path; a status, even an error, means it is up.
  await_stack "the floor" "$log" "$stack_url/"
}

# Waits up to a minute until `curl CURL_ARGS...` succeeds while $stack_gw
# runs; otherwise says WHAT did not start and stops the stack (returns 1).
await_stack() {
  local what=$1 log=$2
  shift 2
  for _ in $(seq 1 120); do
    curl -s -o /dev/null "$@" && return 0
    kill -0 "$stack_gw" 2>/dev/null || break
    sleep 0.5
  done
  echo "$what did not start (see $log)" >&2
  stop_stack
  return 1
}

# Stops the gateway (SIGTERM, so it exits cleanly and an instrumented build
# writes its profile) and the fixture, waits for both, removes $stack_dir.
stop_stack() {
  if [ -n "${stack_gw:-}" ]; then kill -TERM "$stack_gw" 2>/dev/null || true; fi
  if [ -n "${stack_fx:-}" ]; then kill "$stack_fx" 2>/dev/null || true; fi
  if [ -n "${stack_gw:-}" ]; then wait "$stack_gw" 2>/dev/null || true; fi
  if [ -n "${stack_fx:-}" ]; then wait "$stack_fx" 2>/dev/null || true; fi
  rm -rf "${stack_dir:-}"
  stack_gw='' stack_fx=''
}
