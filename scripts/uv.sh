#!/usr/bin/env bash
# Runs uv, installing it first (into .tools/) when the machine has none.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if command -v uv >/dev/null 2>&1; then exec uv "$@"; fi
if [ ! -x "$root/.tools/bin/uv" ]; then
  echo "installing uv into .tools/ ..." >&2
  python3 -m venv "$root/.tools/uvenv"
  "$root/.tools/uvenv/bin/pip" install --quiet --disable-pip-version-check "uv==0.13.9"
  mkdir -p "$root/.tools/bin"
  ln -sf "$root/.tools/uvenv/bin/uv" "$root/.tools/bin/uv"
fi
exec "$root/.tools/bin/uv" "$@"
