#!/usr/bin/env bash
# The deployment build: `--profile dist` (fat LTO, one codegen unit),
# guided by the profile committed in pgo/toolgate.profdata.gz (a fifth to a
# third less CPU per tools/call than the same build without it; see
# docs/benchmarks.md, "Profile-guided build"). About as long as a plain
# dist build (10-14 minutes on 2 cores); needs cargo, gzip and coreutils.
#
#   scripts/build-dist.sh                    # prints the binary's path:
#                                            # target/<host triple>/dist/toolgate
#   TOOLGATE_PGO=off scripts/build-dist.sh   # the same build without the profile
#
# The profile is made by scripts/build-pgo.sh (which then runs this). rustc
# matches it to the code function by function, by symbol name: code changed
# since it was made is optimized as if there were no profile, the rest
# keeps the gain, so a stale profile costs speed, never correctness.
# Symbol names carry a hash of the crate's build settings, so it is built
# for an explicit `--target` (as the profile was recorded: build scripts
# and proc-macros stay out of it), hence the triple in the path; another
# rustc or host than the one that made it (pgo/toolgate.rustc) matches
# nothing, and the build is then a plain dist build (this says so).
set -euo pipefail
# A relative CARGO_TARGET_DIR means the caller's directory: made absolute
# before the cd below, and so is the profile's path in the flags (cargo
# runs rustc from each dependency's own directory).
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  CARGO_TARGET_DIR=$(realpath -m "$CARGO_TARGET_DIR")
  export CARGO_TARGET_DIR
fi
cd "$(dirname "$0")/.."
root=$(pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
# shellcheck source=lib/toolchain.sh
. scripts/lib/toolchain.sh
host=$(toolchain_host)
this=$(toolchain_id)
committed=$root/pgo/toolgate.profdata.gz
made_for=$(cat "$root/pgo/toolgate.rustc" 2>/dev/null || echo unknown)
flag=
if [ "${TOOLGATE_PGO:-on}" = off ]; then
  echo "build-dist: without the profile (TOOLGATE_PGO=off)" >&2
elif [ ! -f "$committed" ]; then
  echo "build-dist: no $committed; building without a profile (scripts/build-pgo.sh makes one)" >&2
else
  # rustc reads the profile uncompressed. The copy is named by its content:
  # cargo rebuilds when the flags change, not when a file they name does,
  # so a new profile must be a new path (and an unchanged one rebuilds
  # nothing).
  sum=$(gzip -dc "$committed" | sha256sum | cut -c1-16)
  profile=$target_dir/pgo-use/toolgate-$sum.profdata
  if [ ! -f "$profile" ]; then
    mkdir -p "$(dirname "$profile")"
    gzip -dc "$committed" >"$profile.tmp"
    mv "$profile.tmp" "$profile"
  fi
  if [ "$made_for" != "$this" ]; then
    echo "build-dist: the profile was made for" $made_for "and this is" $this":" \
      "it will match little or nothing (scripts/build-pgo.sh makes a new one)" >&2
  fi
  flag="-Cprofile-use=$profile"
fi
if [ -n "$flag" ]; then
  # Added to the caller's flags from the environment (CARGO_ENCODED_RUSTFLAGS
  # wins over RUSTFLAGS in cargo, so RUSTFLAGS are carried over into it),
  # one 0x1f-separated flag each: the path may hold spaces. Flags from
  # cargo's config files (build.rustflags, target.*.rustflags) are not
  # used when these are set: pass them in RUSTFLAGS instead.
  sep=$'\x1f'
  if [ -n "${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
    CARGO_ENCODED_RUSTFLAGS+="$sep$flag"
  else
    read -ra user_flags <<<"${RUSTFLAGS:-}"
    CARGO_ENCODED_RUSTFLAGS=$flag
    if [ "${#user_flags[@]}" -gt 0 ]; then
      CARGO_ENCODED_RUSTFLAGS=$(IFS=$sep; echo "${user_flags[*]}")"$sep$flag"
    fi
  fi
  export CARGO_ENCODED_RUSTFLAGS
fi
cargo build --locked --profile dist -p toolgate --target "$host" >&2
echo "$target_dir/$host/dist/toolgate"
