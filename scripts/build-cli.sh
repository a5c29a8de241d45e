#!/usr/bin/env bash
# Compiles dist/ (the `ateflow` CLI, worker, facade, simulator) when it is missing or older than
# its sources, so that the CLI runs as plain JavaScript and starts in well under a second. Cheap
# when nothing changed (one `find`). Run by `npm run ateflow` and by the CLI tests and benchmark.
#   - on a fresh clone, npm packages and generated code come first (scripts/bootstrap.sh)
#   - tsc -p tsconfig.build.json is incremental; type errors are reported but, as with tsx, do not
#     stop the CLI from running (`npm run typecheck` and `npm run build` are strict)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ ! -d src/gen ] ||
  [ -n "$(find proto buf.gen.yaml -newer src/gen -print -quit)" ]; then
  scripts/bootstrap.sh
fi

main=dist/src/cli/main.js
stamp=dist/.built
if [ -f "$main" ] && [ -f "$stamp" ] &&
  [ -z "$(find worker.ts src package.json tsconfig.json tsconfig.build.json -newer "$stamp" -print -quit)" ]; then
  exit 0
fi

echo "build-cli: compiling dist/ (tsc -p tsconfig.build.json)…" >&2
touch "$stamp.next" 2>/dev/null || { mkdir -p dist && touch "$stamp.next"; }
status=0
node_modules/.bin/tsc -p tsconfig.build.json || status=$?
# tsc: 0 clean, 2 type errors but every file emitted, anything else nothing usable.
if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
  echo "build-cli: tsc failed (exit $status)" >&2
  exit 1
fi
if [ "$status" -eq 2 ]; then
  echo "build-cli: the type errors above do not stop the CLI; fix them before committing" >&2
fi
chmod +x "$main"
# Sources changed during the compile stay newer than the stamp and are compiled next time.
mv "$stamp.next" "$stamp"
