#!/usr/bin/env bash
# Brings a fresh clone to a runnable state; cheap when nothing changed. Run by `npm run dev`,
# `npm test` and .ci/run, so the README's two commands work on a fresh machine.
#   1. npm dependencies (npm ci when node_modules is missing or older than package-lock.json)
#   2. the Temporal server binaries (scripts/setup-temporal.sh, cached in .tools/)
#   3. generated protobuf code (src/gen/, when missing or older than proto/)
#   4. the OpenShell gateway, CLI and supervisor, when shared/tools has them (scripts/openshell.sh;
#      without them the tests that drive a real gateway skip and say why)
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "bootstrap: installing npm dependencies (npm ci)…" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

scripts/setup-temporal.sh

if [ ! -d src/gen ] || [ -n "$(find proto buf.gen.yaml -newer src/gen -print -quit)" ]; then
  echo "bootstrap: generating protobuf code (npm run gen)…" >&2
  npm run --silent gen
  touch src/gen
fi

scripts/openshell.sh >/dev/null 2>&1 || true
