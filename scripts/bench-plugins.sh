#!/usr/bin/env bash
# Plugin benchmarks, each in its plugin's own environment (frameworks conflict with each other):
# for every benchmarks/scenarios/plugin_<name>.py whose plugin package exists, prepare
# .venvs/<name> and time that file's scenarios with benchmarks/run.py's measure().
#   scripts/bench-plugins.sh [pattern]     (pattern: like `make bench BENCH=...`)
set -euo pipefail
cd "$(dirname "$0")/.."
pattern=${1:-}
for f in benchmarks/scenarios/plugin_*.py; do
  [ -e "$f" ] || continue
  mod=$(basename "$f" .py); name=${mod#plugin_}; name=${name//_/-}
  [ -d "packages/kitelogik-$name" ] || continue
  if [ -n "$pattern" ] && [[ "plugin_${name//-/_}" != *$pattern* ]] \
     && [[ "plugin_${name//-/_}_baseline" != *$pattern* ]]; then continue; fi
  scripts/plugin-env.sh "$name" --no-tests
  ".venvs/$name/bin/python" - "$f" "$pattern" <<'PY'
import importlib.util, json, sys
from pathlib import Path
path, pattern = Path(sys.argv[1]), sys.argv[2]
def load(p, name):
    spec = importlib.util.spec_from_file_location(name, p)
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); return m
runner = load(Path("benchmarks/run.py"), "bench_runner")
module = load(path, f"bench_{path.stem}")
for name, factory in module.scenarios().items():
    if not runner._matches(name, pattern or None):
        continue
    made = factory()
    op, cleanup, n = (made + (None, 5000))[:3] if isinstance(made, tuple) else (made, None, 5000)
    try:
        print(json.dumps({"scenario": name, "n": n, **runner.measure(op, n)}), flush=True)
    finally:
        if cleanup:
            cleanup()
PY
done
