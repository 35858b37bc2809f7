#!/usr/bin/env bash
# Builds the OPA bundle a fleet serves: the policies/ directory exactly as the embedded engine
# loads it, plus OPA's API authorization policy (authz.rego), stamped with the git revision.
#   docs/opa/build-bundle.sh [OUT]        (default: docs/opa/bundles/kitelogik.tar.gz)
# Needs the opa binary on PATH, or OPA=/path/to/opa (scripts/ensure-opa.sh installs one in
# .tools/opa/bin/opa).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here/bundles/kitelogik.tar.gz}"
opa="${OPA:-$(command -v opa || echo "$root/.tools/opa/bin/opa")}"
command -v tar >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$root/policies/." "$work/"
mkdir -p "$work/system"
cp "$here/authz.rego" "$work/system/authz.rego"
# One bundle that owns both roots; only data.json / data.yaml files are data in bundle mode.
printf '{"revision": "%s", "roots": ["kitelogik", "system"]}\n' \
  "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo dev)" >"$work/.manifest"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
# A bundle is a gzipped tarball. `opa build` is used to check it (it refuses a broken bundle),
# but the tarball is made with tar: OPA 0.70's `opa build` re-prints modules and writes "\u0000"
# as "\x00", which its own parser then rejects. tar keeps the sources byte for byte.
find "$work" -name '*_test.rego' -delete
"$opa" build --bundle "$work" --output "$work.check.tar.gz" >/dev/null
rm -f "$work.check.tar.gz"
tar -czf "$out" -C "$work" --exclude='*.md' --exclude='*.schema.json' .
echo "$out"
