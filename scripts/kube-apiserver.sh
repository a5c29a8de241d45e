#!/usr/bin/env bash
# Build (or reuse) the Kubernetes API server that the test/kube-*.test.ts tests run against, and make
# sure etcd is installed. Idempotent and safe to run concurrently (one build at a time, flock).
#
#   scripts/kube-apiserver.sh            build or reuse; print the binary's path on stdout
#   KUBE_VERSION=1.36.3 scripts/...      another version (must exist as k8s.io/kubernetes vX)
#
# kube-apiserver is built from the k8s.io/kubernetes Go module through the Go module proxy: a
# throw-away wrapper module in the cache dir requires k8s.io/kubernetes at KUBE_VERSION and
# replaces every k8s.io/* staging module (which k8s.io/kubernetes points at ./staging/src/...) with
# its published v0.<minor>.<patch> release. The binary is cached outside the repository in
# ${XDG_CACHE_HOME:-$HOME/.cache}/ateflow/kube-apiserver-v<version>, so later runs reuse it.
# etcd comes from the Debian package etcd-server (installed here when missing and we are root).
#
# Logs go to stderr. Exit code 0: the binaries are ready. Non-zero: the tests will skip with the
# reason written to <cache>/kube-apiserver-v<version>.failed.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-1.37.2}"
KUBE_VERSION="${KUBE_VERSION#v}"
CACHE_DIR="${ATEFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ateflow}"
BIN="$CACHE_DIR/kube-apiserver-v$KUBE_VERSION"
FAILED="$BIN.failed"
WORK="$CACHE_DIR/kube-apiserver-build-v$KUBE_VERSION"

log() { echo "kube-apiserver.sh: $*" >&2; }

ensure_etcd() {
  if command -v etcd >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing etcd-server (Debian package)"
    (apt-get install -y --no-install-recommends etcd-server >&2 ||
      { apt-get update >&2 && apt-get install -y --no-install-recommends etcd-server >&2; }) ||
      log "could not install etcd-server"
    # The package enables a system etcd on the default ports; the tests start their own.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
  fi
  command -v etcd >/dev/null 2>&1 || { log "etcd is not installed (apt-get install etcd-server)"; return 1; }
}

build() {
  command -v go >/dev/null 2>&1 || { echo "go is not installed" >"$FAILED"; return 1; }
  mkdir -p "$WORK"
  local start mod minor_patch
  start=$(date +%s)
  log "resolving k8s.io/kubernetes v$KUBE_VERSION through the Go module proxy"
  mod=$(cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [ -f "$mod" ] || { echo "cannot download k8s.io/kubernetes@v$KUBE_VERSION" >"$FAILED"; return 1; }
  minor_patch="${KUBE_VERSION#*.}" # 1.37.2 -> 37.2
  {
    echo "module ateflow.local/kube-apiserver-build"
    echo
    sed -n 's/^go \(.*\)$/go \1/p' "$mod"
    echo
    echo "require k8s.io/kubernetes v$KUBE_VERSION"
    echo
    echo "replace ("
    # Every `k8s.io/x => ./staging/src/k8s.io/x` of k8s.io/kubernetes, at the published release.
    sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/src/.*$#\t\1 => \1 v0.'"$minor_patch"'#p' "$mod"
    echo ")"
  } >"$WORK/go.mod"
  log "wrote $WORK/go.mod ($(grep -c '=>' "$WORK/go.mod") staging replacements); building (slow: many minutes)"
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=${KUBE_VERSION%%.*}"
  ldflags="$ldflags -X $pkg.gitMinor=${minor_patch%%.*} -X $pkg.gitTreeState=clean"
  if ! (cd "$WORK" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" \
    -o "$BIN.tmp" k8s.io/kubernetes/cmd/kube-apiserver) 2>"$WORK/build.log"; then
    tail -n 40 "$WORK/build.log" >&2
    { echo "go build k8s.io/kubernetes/cmd/kube-apiserver@v$KUBE_VERSION failed:"; tail -n 20 "$WORK/build.log"; } >"$FAILED"
    return 1
  fi
  mv "$BIN.tmp" "$BIN"
  rm -f "$FAILED"
  log "built $BIN in $(($(date +%s) - start))s"
}

mkdir -p "$CACHE_DIR"
etcd_ok=0
ensure_etcd || etcd_ok=1
exec 9>"$CACHE_DIR/kube-apiserver.lock"
flock 9
if [ -x "$BIN" ]; then
  log "reusing $BIN"
else
  build || { log "build failed: see $FAILED"; exit 1; }
fi
[ "$etcd_ok" = 0 ] || exit 1
echo "$BIN"
