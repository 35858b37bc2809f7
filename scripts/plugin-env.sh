#!/usr/bin/env bash
# One plugin's own environment: scripts/plugin-env.sh <name> [--upgrade] [--no-tests] [--bench]
#
# Creates/updates .venvs/<name> from the plugin's checked-in, fully pinned
# packages/kitelogik-<name>/requirements-test.txt (kitelogik-core, the plugin and its kitelogik
# dependencies editable; everything else pinned), then runs the plugin's tests and its example.
# Then builds the wheels (core + plugin) and installs them alone in a fresh .venvs/<name>-wheel
# to check the published artifact imports, reports itself in `kitelogik doctor`, and runs the
# example and the plugin's tests against it. Both environments are only rebuilt when their
# inputs change, so a re-run is fast.
#   --upgrade   re-compile requirements-test.txt against the newest releases (needs the index)
#   --no-tests  only prepare the environment
#   --bench     prepare, then run the plugin's benchmark scenarios in it (no tests)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
name=${1:?usage: scripts/plugin-env.sh <plugin name> [--upgrade] [--no-tests] [--bench]}
shift
upgrade=0; tests=1; bench=0
for arg in "$@"; do
  case $arg in
    --upgrade) upgrade=1 ;;
    --no-tests) tests=0 ;;
    --bench) bench=1; tests=0 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
pkg=packages/kitelogik-$name
[ -f "$pkg/pyproject.toml" ] || { echo "no plugin package $pkg" >&2; exit 2; }
UV="$root/scripts/uv.sh"
venv=.venvs/$name
req=$pkg/requirements-test.txt
export CREWAI_DISABLE_TELEMETRY=true OTEL_SDK_DISABLED=true HAYSTACK_TELEMETRY_ENABLED=False
# A plugin whose framework needs another Python declares it in packages/kitelogik-<name>/.python-version.
pyver=3.11
[ -f "$pkg/.python-version" ] && pyver=$(tr -d '[:space:]' < "$pkg/.python-version")
export UV_PYTHON="$pyver"

# A new plugin gets the default inputs: kitelogik-core[testing] and itself (commit the file; add
# lines for other kitelogik packages it depends on).
if [ ! -f "$pkg/requirements-test.in" ]; then
  printf '%s\n' "# Test environment of kitelogik-$name (compiled: scripts/plugin-env.sh $name --upgrade)." \
    "-e ./packages/kitelogik-core[testing]" "-e ./$pkg" > "$pkg/requirements-test.in"
fi

# The pins are recompiled (keeping every existing pin) only when an input changed: the .in file
# or the pyproject.toml of a local kitelogik package it installs. --upgrade moves to the newest.
local_of() { sed -n 's|^-e \./\(packages/[^[ ]*\).*|\1|p' "$1"; }
inputs_hash() {
  cat "$pkg/requirements-test.in" $(for p in $(local_of "$pkg/requirements-test.in"); do
    echo "$p/pyproject.toml"; done) | sha256sum | cut -d' ' -f1
}
want="# inputs: $(inputs_hash)"
if [ "$upgrade" = 1 ] || [ ! -f "$req" ] || [ "$(head -1 "$req")" != "$want" ]; then
  echo "[$name] compiling $req" >&2
  flags=(); [ "$upgrade" = 1 ] && flags+=(--upgrade)
  tmp=$(mktemp)
  [ -f "$req" ] && tail -n +2 "$req" > "$tmp"
  "$UV" pip compile -q "$pkg/requirements-test.in" -o "$tmp" --python-version "$pyver" \
    --no-header --annotation-style line "${flags[@]}"
  { echo "$want"; cat "$tmp"; } > "$req"
  rm -f "$tmp"
fi

# Local kitelogik packages this plugin installs (editable lines of its requirements).
local_pkgs=$(local_of "$req")
stamp_of() { cat "$req" "$@" | sha256sum | cut -d' ' -f1; }

# -- the development environment (editable) -----------------------------------------------------
stamp=$(stamp_of $(for p in $local_pkgs; do echo "$p/pyproject.toml"; done))
if [ ! -x "$venv/bin/python" ]; then
  "$UV" venv -q "$venv"
fi
if [ "$(cat "$venv/.kitelogik-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "[$name] syncing $venv" >&2
  "$UV" pip sync -q --python "$venv/bin/python" "$req"
  echo "$stamp" > "$venv/.kitelogik-stamp"
fi

examples=()
if [ -d "examples/$name" ]; then
  while IFS= read -r f; do examples+=("$f"); done < <(ls examples/"$name"/*.py 2>/dev/null || true)
fi

if [ "$bench" = 1 ]; then
  "$venv/bin/python" benchmarks/run.py --filter "plugin_${name//-/_}" ${BENCH_ARGS:-}
  exit 0
fi
[ "$tests" = 1 ] || exit 0

echo "[$name] tests" >&2
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$pkg/tests" ${PYTEST_ARGS:-}
# Examples write their audit log under $KITELOGIK_HOME: a fresh one per run, outside the tree.
exhome=$(mktemp -d)
trap 'rm -rf "$exhome"' EXIT
for ex in "${examples[@]}"; do
  echo "[$name] example $ex" >&2
  KITELOGIK_HOME="$exhome/dev" "$venv/bin/python" "$ex" >/dev/null
done

# -- the built wheels, installed on their own ---------------------------------------------------
wvenv=.venvs/$name-wheel
src_hash=$(cd "$root" && git ls-files -co --exclude-standard -- $local_pkgs policies \
           | grep -v '/tests/' | sort | xargs cat 2>/dev/null | sha256sum | cut -d' ' -f1)
wstamp=$(echo "$stamp $src_hash" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$wvenv/.kitelogik-stamp" 2>/dev/null)" != "$wstamp" ]; then
  echo "[$name] building wheels and a fresh $wvenv" >&2
  rm -rf "$wvenv"
  "$UV" venv -q "$wvenv"
  dist="$wvenv/dist"
  mkdir -p "$dist"
  for p in $local_pkgs; do
    "$UV" build -q --wheel -o "$dist" "$p"
  done
  grep -v '^-e ' "$req" > "$wvenv/pins.txt"
  "$UV" pip install -q --python "$wvenv/bin/python" "$dist"/*.whl pytest pytest-asyncio \
    -c "$wvenv/pins.txt"
  echo "$wstamp" > "$wvenv/.kitelogik-stamp"
fi
module=kitelogik_${name//-/_}
echo "[$name] wheel check ($wvenv)" >&2
( cd /tmp && "$root/$wvenv/bin/python" -c "import $module, sys; \
f = $module.__file__; assert 'site-packages' in f, f; print('$module from', f)" >&2 )
( cd /tmp && "$root/$wvenv/bin/kitelogik" doctor --require "$name" >&2 )
# The plugin's own tests again, importing the installed wheels (no source tree on the path).
( cd /tmp && "$root/$wvenv/bin/python" -m pytest -q -p no:cacheprovider -c "$root/pyproject.toml" \
    --rootdir "$root" "$root/$pkg/tests" ${PYTEST_ARGS:-} )
for ex in "${examples[@]}"; do
  ( cd /tmp && KITELOGIK_HOME="$exhome/wheel" "$root/$wvenv/bin/python" "$root/$ex" >/dev/null )
done
echo "[$name] ok" >&2
