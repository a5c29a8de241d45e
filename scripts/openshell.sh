#!/usr/bin/env bash
# Makes the real OpenShell binaries (gateway, CLI, supervisor; NVIDIA/OpenShell 2f7fb655) usable
# by tests and local runs: unpacks the vendored tarball into the git-ignored .tools, checks the
# SHA-256 sums and the gateway's libz3 dependency, and prints the directory (only it) on stdout.
# Idempotent and cheap once done. OPENSHELL_BIN_DIR pointing at existing binaries wins;
# OPENSHELL_TARBALL overrides the tarball's path. Exit 3: no tarball; 4: libz3.so.4 missing.
set -euo pipefail

COMMIT=2f7fb655
root=$(cd "$(dirname "$0")/.." && pwd)
tarball=${OPENSHELL_TARBALL:-"$root/../shared/tools/openshell/openshell-$COMMIT-linux-amd64.tar.xz"}
dir="$root/.tools/openshell-$COMMIT"

say() { echo "openshell.sh: $*" >&2; }

# The unpacked files' sums, from the tarball's README.
sums() {
  cat <<SUMS
2ccf2cdd5280c29ca5da70d7bfd7be16d68673561005469a32b8de26bcdf9b86  openshell
40936fc8b6ef6e8166bc70a9bc06dcdf6ac8c4eee431de5a9b01c46dc36d2ef1  openshell-gateway
e3158ce9b9df8c2fca3e8644dc350614d64d7d84b79cde254d66d6729d6dabc6  openshell-sandbox
SUMS
}

check_libz3() { # <dir>
  if ldd "$1/openshell-gateway" 2>/dev/null | grep -q 'libz3\.so\.4 => not found'; then
    say "openshell-gateway needs libz3.so.4: apt-get install libz3-4"
    exit 4
  fi
}

if [ -n "${OPENSHELL_BIN_DIR:-}" ]; then
  for b in openshell openshell-gateway openshell-sandbox; do
    if [ ! -x "$OPENSHELL_BIN_DIR/$b" ]; then
      say "OPENSHELL_BIN_DIR=$OPENSHELL_BIN_DIR has no executable $b"
      exit 2
    fi
  done
  check_libz3 "$OPENSHELL_BIN_DIR"
  echo "$OPENSHELL_BIN_DIR"
  exit 0
fi

# Done before: the stamp is written only after the sums matched.
if [ -f "$dir/.verified" ]; then
  check_libz3 "$dir"
  echo "$dir"
  exit 0
fi

if [ ! -f "$tarball" ]; then
  say "no OpenShell tarball at $tarball (set OPENSHELL_TARBALL or OPENSHELL_BIN_DIR)"
  exit 3
fi

tmp="$dir.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp" && mkdir -p "$tmp"
tar -xJf "$tarball" -C "$tmp"
# The tarball may hold the binaries at its top or in one folder.
for b in openshell openshell-gateway openshell-sandbox; do
  found=$(find "$tmp" -name "$b" -type f -print -quit)
  if [ -z "$found" ]; then
    say "$tarball holds no $b"
    exit 1
  fi
  [ "$found" = "$tmp/$b" ] || mv "$found" "$tmp/$b"
done
if ! (cd "$tmp" && sums | sha256sum --check --quiet --strict >&2); then
  say "SHA-256 mismatch in $tarball; not installing"
  exit 1
fi
chmod +x "$tmp/openshell" "$tmp/openshell-gateway" "$tmp/openshell-sandbox"
touch "$tmp/.verified"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
check_libz3 "$dir"
echo "$dir"
