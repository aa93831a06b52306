#!/usr/bin/env bash
# Makes the profile the deployment build is guided by (PGO), then builds
# with it: pgo/toolgate.profdata.gz, committed, so that scripts/build-dist.sh
# gets the gain without the training (docs/benchmarks.md, "Profile-guided
# build": 16% fewer instructions per tools/call than the dist build without
# it, a fifth to a third less CPU). Commit what it writes in pgo/.
#
#   scripts/build-pgo.sh    # -> pgo/toolgate.profdata.gz, target/<host>/dist/toolgate
#
# Run it again after changing the data path: code changed since the
# profile was made is built as if there were none (scripts/build-dist.sh).
# Three steps, about 30 minutes in all on 2 cores:
#   1. toolgate instrumented (-Cprofile-generate; `--profile dist` in a
#      target directory of its own);
#   2. that binary in front of `toolgate-load fixture` with `compare`'s
#      config and policy, driven by `toolgate-load run` through several
#      tools (mostly allowed ones; denied and unknown ones too), at
#      concurrency 1 and 8, then stopped with SIGTERM so the profile is
#      written; merged into pgo/toolgate.profdata.gz (with
#      pgo/toolgate.rustc, the rustc and host it is for);
#   3. scripts/build-dist.sh, which builds with it.
# The training load is the harness's, so the binary is tuned for the path
# every tools/call takes (parse, auth, policy, limit, forward, audit);
# code the training never ran is left out of the (sparse) profile and
# built as without one.
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
# cost for nothing). scripts/build-dist.sh builds with the same --target:
# symbol names, by which rustc matches the profile, depend on it.
# shellcheck source=lib/toolchain.sh
. scripts/lib/toolchain.sh
host=$(toolchain_host)

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
# Sparse: functions the training never ran are left out, so they are
# built as without a profile rather than as cold code (paths it missed,
# such as SSE answers or OAuth, keep their plain dist speed), and the
# committed file is small (1.4 MB, 0.3 MB compressed; 12.7 MB in full).
# -n: no name or time in the gzip header, so the same profile is the same
# file.
mkdir -p "$root/pgo"
"$profdata" merge --sparse -o "$out/toolgate.profdata" "$data"/*.profraw
gzip -9 -n -c "$out/toolgate.profdata" >"$root/pgo/toolgate.profdata.gz"
toolchain_id >"$root/pgo/toolgate.rustc"

echo "== 3/3: optimized build" >&2
scripts/build-dist.sh
