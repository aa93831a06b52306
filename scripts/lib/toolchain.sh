# Sourced by build-dist.sh and build-pgo.sh: which rustc and host a PGO
# profile is for. The profile matches by symbol names, which change with
# either, so build-pgo.sh records this next to the profile
# (pgo/toolgate.rustc) and build-dist.sh compares it before using it.
#
#   toolchain_host   # the host triple of $RUSTC (or rustc)
#   toolchain_id     # `rustc -V`, then `host: <triple>`

toolchain_host() {
  "${RUSTC:-rustc}" -vV | sed -n 's/^host: //p'
}

toolchain_id() {
  printf '%s\nhost: %s\n' "$("${RUSTC:-rustc}" -V)" "$(toolchain_host)"
}
