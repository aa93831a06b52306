#!/usr/bin/env bash
# Regression check for the hot path, to run before committing: the
# micro-benchmarks of the JSON-RPC envelope (toolgate-mcp, benches/envelope.rs)
# and of policy evaluation (toolgate-policy, benches/evaluate.rs), compared
# with a baseline.
#
#   scripts/bench-check.sh --save     # on the commit you start from: record a local baseline
#   scripts/bench-check.sh            # after your change: compare (exit 1 on a regression)
#   scripts/bench-check.sh --tolerance 40   # allowed slowdown in percent (default 25)
#
# Every median is divided by the `calibrate` benchmark's median from the
# same run (plain CPU work, not toolgate's code), so the figures compare
# across machines and across a busy and a quiet minute; what is compared is
# "how many calibration units a step costs". The baseline is
# target/bench-baseline.tsv when you saved one here, otherwise the
# committed scripts/bench-baseline.tsv (recorded on the build machine;
# another CPU may differ by more than noise, so save your own). Each bench
# runs 3 times and the best normalized median counts, which keeps a
# neighbour's burst of load from failing the check. Benchmarks named in
# only one of the two sides are listed and not judged.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

save=0
tolerance=25
while [ $# -gt 0 ]; do
  case "$1" in
    --save) save=1 ;;
    --tolerance) tolerance="$2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench-check: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

LOCAL="$ROOT/target/bench-baseline.tsv"
COMMITTED="$ROOT/scripts/bench-baseline.tsv"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

for round in 1 2 3; do
  echo "bench-check: round $round/3" >&2
  cargo bench --locked -q -p toolgate-mcp --bench envelope >"$out/envelope.$round" 2>"$out/err" \
    || { cat "$out/err" >&2; exit 2; }
  cargo bench --locked -q -p toolgate-policy --bench evaluate >"$out/evaluate.$round" 2>"$out/err" \
    || { cat "$out/err" >&2; exit 2; }
done

python3 - "$out" "$save" "$tolerance" "$LOCAL" "$COMMITTED" <<'PY'
import os, re, sys

out, save, tolerance, local, committed = sys.argv[1], sys.argv[2] == "1", float(sys.argv[3]), sys.argv[4], sys.argv[5]
UNITS = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}

def medians(path):
    """divan's table: `├─ name  fastest │ slowest │ median │ …`, in ns."""
    found = {}
    group = None
    for line in open(path, encoding="utf-8"):
        if "│" not in line:
            continue
        cols = [c.strip() for c in line.rstrip("\n").split("│")]
        head = cols[0]
        title = re.match(r"^(\S+)\s+fastest$", head)
        if title:
            group = title.group(1)
            continue
        m = re.match(r"^([├╰]─\s*)?(\S+)\s+([\d.]+)\s*(\S+)$", head)
        if not m or not m.group(1):
            continue
        med = re.match(r"^([\d.]+)\s*(\S+)$", cols[2])
        if med and med.group(2) in UNITS:
            found[f"{group}/{m.group(2)}"] = float(med.group(1)) * UNITS[med.group(2)]
    return found

runs = []
for round_ in (1, 2, 3):
    merged = {}
    for bench in ("envelope", "evaluate"):
        merged.update(medians(os.path.join(out, f"{bench}.{round_}")))
    cal = merged.get("envelope/calibrate")
    if not cal:
        sys.exit("bench-check: no calibrate median in the output (did the divan table change?)")
    runs.append({k: v / cal for k, v in merged.items() if k != "envelope/calibrate"})

names = sorted(set().union(*runs))
current = {n: min(r[n] for r in runs if n in r) for n in names}

if save:
    os.makedirs(os.path.dirname(local), exist_ok=True)
    with open(local, "w", encoding="utf-8") as f:
        f.write("# bench\tmedian / calibrate (best of 3 rounds)\n")
        for n in names:
            f.write(f"{n}\t{current[n]:.5f}\n")
    print(f"bench-check: baseline saved to {local} ({len(names)} benchmarks)")
    sys.exit(0)

path = local if os.path.exists(local) else committed
baseline = {}
for line in open(path, encoding="utf-8"):
    if line.startswith("#") or not line.strip():
        continue
    name, value = line.split("\t")
    baseline[name] = float(value)

print(f"bench-check: against {os.path.relpath(path)}; tolerance +{tolerance:g}%")
print(f"{'benchmark':34} {'baseline':>10} {'now':>10} {'change':>8}")
failed = []
for n in names:
    if n not in baseline:
        print(f"{n:34} {'-':>10} {current[n]:10.4f}      new")
        continue
    change = 100.0 * (current[n] / baseline[n] - 1.0)
    verdict = ""
    if change > tolerance:
        verdict = "  REGRESSION"
        failed.append(n)
    print(f"{n:34} {baseline[n]:10.4f} {current[n]:10.4f} {change:+7.1f}%{verdict}")
for n in sorted(set(baseline) - set(names)):
    print(f"{n:34} {baseline[n]:10.4f} {'-':>10}  gone")
if failed:
    print(f"bench-check: FAIL: {len(failed)} slower than the baseline by more than {tolerance:g}%: {', '.join(failed)}")
    sys.exit(1)
print("bench-check: ok")
PY
