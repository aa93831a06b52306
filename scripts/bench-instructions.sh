#!/usr/bin/env bash
# Instructions per tools/call of toolgate, counted by valgrind's callgrind:
# a figure the shared machine's noise cannot move, for comparing builds of
# the data path where the wall-clock harness (bench-compare.sh) cannot
# resolve a few percent.
#
#   scripts/bench-instructions.sh [-d 5s] [-c 1] BIN|hyper [BIN|hyper ...]
#
# For each toolgate binary: a fresh fixture upstream and the gateway with
# `compare`'s config and policy (audit to SQLite), a 2 s warm-up uncounted,
# then `toolgate-load run` for the duration with instrumentation on. The
# word `hyper` instead of a binary counts the stack's floor the same way:
# `toolgate-load hyper-proxy`, a proxy on tokio and hyper that does no
# work (what any proxy on this stack executes a call). Prints
# user-space instructions per answered call, in all and without two parts
# valgrind distorts: SHA-256 (its CPU model has no SHA extensions, so the
# portable code runs, several times the instructions) and SQLite statement
# preparation (one per audit batch of a new size; batch sizes depend on
# timing, which valgrind's slowdown changes). Kernel time is not counted.
# The callgrind files stay in target/bench-instructions/ for
# callgrind_annotate.
set -euo pipefail

duration=5s
concurrency=1
while getopts "d:c:" opt; do
  case $opt in
    d) duration=$OPTARG ;;
    c) concurrency=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-d 5s] [-c 1] TOOLGATE_BIN|hyper..." >&2; exit 2; }
for tool in valgrind callgrind_control callgrind_annotate curl python3; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is not installed (apt-get install valgrind curl python3)" >&2; exit 1; }
done
# The binaries as given, from where the script was called.
bins=()
for b in "$@"; do
  if [ "$b" = hyper ]; then bins+=(hyper); else
    bins+=("$(realpath -e "$b")") || { echo "$0: no such binary: $b" >&2; exit 1; }
  fi
done
cd "$(dirname "$0")/.."

# Built every time (a no-op when up to date): an older toolgate-load has
# no `config` subcommand.
cargo build --release --locked -p toolgate-load >&2
load=$(realpath "${CARGO_TARGET_DIR:-target}/release/toolgate-load")
mkdir -p target/bench-instructions
out=$(realpath target/bench-instructions)
token=toolgate-load-bearer-token-0001

# Whatever happens, leave no fixture or gateway behind.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

# shellcheck source=lib/stack.sh
. scripts/lib/stack.sh

measure() {
  local bin=$1 name vg url
  name=$(basename "$bin")-$(date +%s)
  if [ "$bin" = hyper ]; then
    start_floor "$out/$name.log" valgrind --tool=callgrind --instr-atstart=no \
      --callgrind-out-file="$out/$name.cg" || return 1
    url=$stack_url/mcp
  else
    start_stack "$out/$name.log" valgrind --tool=callgrind --instr-atstart=no \
      --callgrind-out-file="$out/$name.cg" "$bin" || { echo "$bin: no gateway" >&2; return 1; }
    url=$stack_url/mcp/crm
  fi
  vg=$stack_gw
  "$load" run --url "$url" --token $token --concurrency "$concurrency" \
    --duration 2s --no-pin >/dev/null
  callgrind_control -i on $vg >/dev/null 2>&1
  "$load" run --url "$url" --token $token --concurrency "$concurrency" \
    --duration "$duration" --no-pin --json >"$out/$name.run.json"
  callgrind_control -i off $vg >/dev/null 2>&1
  callgrind_control -d $vg >/dev/null 2>&1
  stop_stack
  # The dump taken above is `.1`; the file written at exit counted nothing.
  mv "$out/$name.cg.1" "$out/$name.cg"
  python3 - "$bin" "$out/$name.cg" "$out/$name.run.json" <<'PY'
import json, re, subprocess, sys
bin_, cg, run = sys.argv[1:]
calls = json.load(open(run))["ok"]
if calls == 0:
    sys.exit(f"{bin_}: no call was answered (see {run})")
total = int(re.search(r"^totals: (\d+)", open(cg).read(), re.M).group(1))
def annotate(inclusive):
    # --threshold=100: every function, or a small share could be left out.
    return subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100",
                           f"--inclusive={inclusive}", cg],
                          capture_output=True, text=True, check=True).stdout.splitlines()
def ir(line):
    return int(line.split()[0].replace(",", ""))
prepare = next((ir(l) for l in annotate("yes") if "sqlite3.c:sqlite3Prepare " in l), 0)
# sha2's functions, and its code inlined elsewhere (a PGO build inlines
# parts of the compression into its callers), named by sha2's source file.
sha = sum(ir(l) for l in annotate("no") if ":sha2::sha256::" in l or "/src/sha256/soft.rs:" in l)
print(f"{bin_}: {calls} calls, {total / calls:,.0f} instructions per call; "
      f"{(total - prepare - sha) / calls:,.0f} without SHA-256 ({sha / calls:,.0f}) "
      f"and SQLite statement preparation ({prepare / calls:,.0f}); {cg}")
PY
}

for bin in "${bins[@]}"; do
  measure "$bin"
done
