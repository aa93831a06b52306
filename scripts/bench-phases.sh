#!/usr/bin/env bash
# Where a call's latency goes at concurrency 1, from the gateway's own
# system calls: the time from reading the client's request to writing it
# upstream, from reading the upstream's answer to writing the client's,
# and the rest. A finer measure of the gateway's share of the latency than
# the harness's p50, which the machine's noise moves by more than a change
# of a few microseconds.
#
#   scripts/bench-phases.sh [-d 4] BIN|hyper [BIN|hyper ...]
#
# For each target (a toolgate binary, or `hyper`: the harness's no-work
# proxy, the stack's floor): a fresh fixture and the target on CPU 1 with
# `compare`'s config and policy, a 2 s warm-up, then a c=1 `toolgate-load
# run` for the duration (on CPU 0) while `perf record` takes the target's
# writev, recvfrom and epoll_wait events for 2 s of it. Prints per target
# the run's calls/s and p50, then the median of each phase over the
# recorded calls (µs):
#   request     recvfrom(client) returns -> writev(upstream) enters
#   upstream    writev(upstream) enters  -> recvfrom(upstream) returns
#   answer      recvfrom(upstream) returns -> writev(client) enters
#   after       writev(client) enters    -> epoll_wait enters (the write
#               itself, loopback delivery included, and what follows it)
# The tracepoints cost about a microsecond each, so every figure is a
# little high, by the same amount for every target: compare targets in
# one run, alternating (a b a b).
set -euo pipefail

duration=4
while getopts "d:" opt; do
  case $opt in
    d) duration=${OPTARG%s} ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-d 4] TOOLGATE_BIN|hyper..." >&2; exit 2; }
# perf records from 1 s to 3 s into the run.
[ "$duration" -ge 3 ] 2>/dev/null || { echo "$0: -d must be at least 3 (seconds)" >&2; exit 2; }
for tool in perf ss curl python3 taskset; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is not installed (apt-get install linux-perf iproute2 curl python3 util-linux)" >&2; exit 1; }
done
targets=()
for t in "$@"; do
  if [ "$t" = hyper ]; then targets+=(hyper); else
    targets+=("$(realpath -e "$t")") || { echo "$0: no such binary: $t" >&2; exit 1; }
  fi
done
cd "$(dirname "$0")/.."
cargo build --release --locked -p toolgate-load >&2
load=$(realpath "${CARGO_TARGET_DIR:-target}/release/toolgate-load")
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
token=toolgate-load-bearer-token-0001

# shellcheck source=lib/stack.sh
. scripts/lib/stack.sh

measure() {
  local target=$1 url pid fx
  if [ "$target" = hyper ]; then
    start_floor "$work/floor.log" taskset -c 1 || return 1
    taskset -p -c 1 "$stack_fx" >/dev/null
    pid=$stack_gw
    fx=$stack_fx
    url=$stack_url/mcp
  else
    start_stack "$work/gateway.log" taskset -c 1 "$target" || return 1
    taskset -p -c 1 "$stack_fx" >/dev/null
    # start_stack's subshell execs taskset, which execs the gateway.
    pid=$stack_gw
    fx=$stack_fx
    url=$stack_url/mcp/crm
  fi
  "$load" run --url "$url" --token "$token" --concurrency 1 --duration 2s --no-pin >/dev/null
  (
    sleep 1
    ss -tnpH >"$work/conns"
    ss -ltnpH >"$work/listening"
    perf record -q -o "$work/perf.data" \
      -e syscalls:sys_enter_writev,syscalls:sys_enter_recvfrom,syscalls:sys_exit_recvfrom,syscalls:sys_enter_epoll_wait \
      -p "$pid" -- sleep 2
  ) &
  local rec=$!
  taskset -c 0 "$load" run --url "$url" --token "$token" --concurrency 1 \
    --duration "${duration}s" --no-pin >"$work/run"
  wait "$rec" || { echo "$0: perf record failed (perf_event_paranoid? run as root)" >&2; return 1; }
  # (it warns that non-tracepoint events have no trace field: there are none)
  perf script -i "$work/perf.data" --ns -F tid,time,event,trace 2>/dev/null >"$work/events"
  echo "$target: $(grep -m1 'calls/s' "$work/run")"
  python3 - "$work" "$pid" "$fx" <<'EOF'
import itertools, re, statistics, sys
work, pid, fx = sys.argv[1:4]
def port(addr): return addr.rsplit(':', 1)[1]
fx_ports = {port(l.split()[3]) for l in open(f'{work}/listening') if f'pid={fx},' in l}
upstream = set()
for l in open(f'{work}/conns'):
    if f'pid={pid},' in l and port(l.split()[4]) in fx_ports:
        upstream.update(int(fd) for fd in re.findall(rf'pid={pid},fd=(\d+)', l))
if not upstream:
    sys.exit('bench-phases: no connection from the target to the fixture found')
events, reading = [], {}
for l in open(f'{work}/events'):
    m = re.match(r'\s*(\d+)\s+([\d.]+):\s+syscalls:(\w+):\s*(.*)', l)
    if not m:
        continue
    tid, t, name, rest = m.groups()
    t = float(t) * 1e6
    fd = re.search(r'fd: (0x[0-9a-f]+)', rest)
    if name == 'sys_enter_recvfrom':
        reading[tid] = int(fd.group(1), 16)
    elif name == 'sys_exit_recvfrom':
        ret = int(rest.split()[0], 0)
        if tid in reading and 0 < ret < 2**63:
            events.append((t, 'read_up' if reading[tid] in upstream else 'read_client'))
        reading.pop(tid, None)
    elif name == 'sys_enter_writev':
        events.append((t, 'write_up' if int(fd.group(1), 16) in upstream else 'write_client'))
    elif name == 'sys_enter_epoll_wait':
        events.append((t, 'wait'))
events.sort()
phases = {'request': ('read_client', 'write_up'), 'upstream': ('write_up', 'read_up'),
          'answer': ('read_up', 'write_client'), 'after': ('write_client', 'wait')}
spans = {k: [] for k in phases}
for i, (t0, a) in enumerate(events):
    for k, (start, end) in phases.items():
        if a != start:
            continue
        # The next event of the pair's kind, before the cycle moves on
        # (islice, not a slice: a slice would copy the rest of the list
        # for every event).
        for t1, b in itertools.islice(events, i + 1, None):
            if b == end:
                spans[k].append(t1 - t0)
                break
            if b in ('read_client', 'write_up', 'read_up', 'write_client'):
                break
print('  ' + ', '.join(f'{k} {statistics.median(v):.1f}' if v else f'{k} -' for k, v in spans.items())
      + f' (µs, medians of {min(len(v) for v in spans.values())} calls)')
EOF
  stop_stack
}

for t in "${targets[@]}"; do
  measure "$t"
done
