#!/usr/bin/env bash
# A profile-guided (PGO) build of the gateway: 16% fewer instructions per
# tools/call than the dist build, and a third less CPU in a same-sitting
# A/B (docs/benchmarks.md, "Profile-guided build").
#
#   scripts/build-pgo.sh            # -> target/pgo/toolgate
#
# Three steps, the builds `--profile dist` in target directories of their
# own (about 30 minutes in all on 2 cores):
#   1. toolgate instrumented (-Cprofile-generate);
#   2. that binary in front of `toolgate-load fixture` with `compare`'s
#      config and policy, driven by `toolgate-load run` through several
#      tools (mostly allowed ones; denied and unknown ones too), at
#      concurrency 1 and 8, then stopped with SIGTERM so the profile is written;
#   3. toolgate again with the merged profile (-Cprofile-use).
# The training load is the harness's, so the binary is tuned for the path
# every tools/call takes (parse, auth, policy, limit, forward, audit);
# code the training never ran is treated as cold (laid out apart, optimized
# for size) and may run somewhat slower than in the plain dist build.
#
# Needs `llvm-profdata` able to read rustc's profiles: $LLVM_PROFDATA, or
# the newest llvm-profdata-NN on PATH or in /usr/lib/llvm-NN/bin (Debian:
# apt-get install llvm-19; rustc 1.95's LLVM 22 writes profiles it reads).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$root/target/pgo
data=$out/profraw
# With an explicit target, the flags below reach toolgate and its
# dependencies but not build scripts and proc-macros (which would write
# profiles of their own while building, and take the instrumentation's
# cost for nothing).
host=$(rustc -vV | sed -n 's/^host: //p')

find_profdata() {
  if [ -n "${LLVM_PROFDATA:-}" ]; then echo "$LLVM_PROFDATA"; return; fi
  # rustup's llvm-tools component matches rustc's LLVM exactly.
  local v p tools
  tools="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
  if [ -x "$tools" ]; then echo "$tools"; return; fi
  for v in 24 23 22 21 20 19; do
    for p in "llvm-profdata-$v" "/usr/lib/llvm-$v/bin/llvm-profdata"; do
      if command -v "$p" >/dev/null; then command -v "$p"; return; fi
    done
  done
  echo "$0: no llvm-profdata new enough for rustc's LLVM (rustup component add llvm-tools, apt-get install llvm-19, or set LLVM_PROFDATA)" >&2
  exit 1
}
profdata=$(find_profdata)
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is not installed" >&2; exit 1; }
done

echo "== 1/3: instrumented build" >&2
# CARGO_ENCODED_RUSTFLAGS: one flag, whatever spaces the path holds.
CARGO_ENCODED_RUSTFLAGS="-Cprofile-generate=$data" cargo build --locked --profile dist \
  -p toolgate --target "$host" --target-dir "$out/gen" >&2
cargo build --release --locked -p toolgate-load >&2
load=$(realpath "${CARGO_TARGET_DIR:-target}/release/toolgate-load")
# Only the training's profile: nothing else may have written here.
rm -rf "$data"
mkdir -p "$data"

echo "== 2/3: training load" >&2
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
# shellcheck source=lib/stack.sh
. scripts/lib/stack.sh
start_stack "$out/training-gateway.log" "$out/gen/$host/dist/toolgate" || exit 1
url=$stack_url
# Mostly forwarded calls (echo, allowed by its conditions), as in
# production; then calls the policy denies (a failed requirement, a
# condition, a tool it does not name) for a second each, so that path is
# profiled too. A denied call counts as an error to `run`.
for spec in echo:6s createLead:1s getLead:1s updateDeal:1s deleteEverything:1s; do
  for c in 1 8; do
    "$load" run --url "$url/mcp/crm" --token toolgate-load-bearer-token-0001 \
      --tool "${spec%:*}" --concurrency "$c" --duration "${spec#*:}" --no-pin >/dev/null || true
  done
done
# SIGTERM: the gateway exits cleanly, and the profile is written at exit.
stop_stack
ls "$data"/*.profraw >/dev/null 2>&1 || { echo "$0: the gateway wrote no profile" >&2; exit 1; }
"$profdata" merge -o "$out/toolgate.profdata" "$data"/*.profraw

echo "== 3/3: optimized build" >&2
CARGO_ENCODED_RUSTFLAGS="-Cprofile-use=$out/toolgate.profdata" cargo build --locked \
  --profile dist -p toolgate --target "$host" --target-dir "$out/use" >&2
cp "$out/use/$host/dist/toolgate" "$out/toolgate"
echo "$out/toolgate"
