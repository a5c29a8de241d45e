#!/usr/bin/env bash
# Brings a fresh clone to a runnable state; cheap when nothing changed. Run by `npm run dev`,
# `npm test` and .ci/run, so the README's two commands work on a fresh machine.
#   1. npm dependencies (npm ci when node_modules is missing or older than package-lock.json)
#   2. the Temporal server binaries (scripts/setup-temporal.sh, cached in .tools/)
#   3. generated protobuf code (src/gen/, when missing or older than proto/)
#   4. the OpenShell gateway, CLI and supervisor, when shared/tools has them (scripts/openshell.sh;
#      without them the tests that drive a real gateway skip and say why)
# Quiet: one line on stderr for each step that has work to do, nothing when there is none; a
# step's own output only when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp "${TMPDIR:-/tmp}/ateflow-bootstrap.XXXXXX")
trap 'rm -f "$log"' EXIT

# quiet <what> <command...>: runs the command with its output in $log; on failure shows it all.
quiet() {
  local what=$1 status=0
  shift
  "$@" >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    echo "bootstrap: $what failed (exit $status):" >&2
    cat "$log" >&2
    exit "$status"
  fi
}

stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "bootstrap: installing npm dependencies (npm ci)…" >&2
  quiet "npm ci" npm ci --no-audit --no-fund --loglevel=error
fi

quiet "installing the Temporal binaries (scripts/setup-temporal.sh)" scripts/setup-temporal.sh
# It says more than "ready" only when it had work to do: then its last line is worth a line here.
if grep -qv '^setup-temporal: ready:' "$log"; then
  echo "bootstrap: Temporal binaries installed: $(tail -n1 "$log" | sed 's/^setup-temporal: ready: //')" >&2
fi

if [ ! -d src/gen ] || [ -n "$(find proto buf.gen.yaml -newer src/gen -print -quit)" ]; then
  echo "bootstrap: generating protobuf code (npm run gen)…" >&2
  quiet "npm run gen" npm run --silent gen
  touch src/gen
fi

scripts/openshell.sh >/dev/null 2>&1 || true
