#!/usr/bin/env bash
# Plugin benchmarks, each in its plugin's own environment (frameworks conflict with each other):
# for every benchmarks/scenarios/plugin_<name>.py whose plugin package exists, prepare
# .venvs/<name> and time that file's scenarios (a plugin scenario and its baseline
# interleaved, so machine load affects both alike).
#   scripts/bench-plugins.sh [pattern]     (pattern: like `make bench BENCH=...`)
set -euo pipefail
cd "$(dirname "$0")/.."
pattern=${1:-}
for f in benchmarks/scenarios/plugin_*.py; do
  [ -e "$f" ] || continue
  mod=$(basename "$f" .py); name=${mod#plugin_}; name=${name//_/-}
  [ -d "packages/kitelogik-$name" ] || continue
  # Cheap pre-filter (a pattern naming another plugin); the scenario filter is applied below.
  if [[ "$pattern" == plugin_* ]] && [[ "plugin_${name//-/_}" != "${pattern%%\**}"* ]] \
     && [[ "${pattern%%\**}" != "plugin_${name//-/_}"* ]]; then continue; fi
  scripts/plugin-env.sh "$name" --no-tests
  ".venvs/$name/bin/python" - "$f" "$pattern" <<'PY'
# A plugin scenario and its baseline are timed interleaved (one op of each in turn), so load on
# the machine hits both alike and the difference -- what governance adds per tool call -- holds.
import gc, importlib.util, json, statistics, sys, time
from pathlib import Path
path, pattern = Path(sys.argv[1]), sys.argv[2]
def load(p, name):
    spec = importlib.util.spec_from_file_location(name, p)
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); return m
runner = load(Path("benchmarks/run.py"), "bench_runner")
module = load(path, f"bench_{path.stem}")
scenarios = {k: v for k, v in module.scenarios().items() if runner._matches(k, pattern or None)}
def made(factory):
    m = factory()
    if not isinstance(m, tuple):
        return (m, None, 5000)
    m = tuple(m)  # (op,), (op, cleanup) or (op, cleanup, n): pad the missing tail
    return m + (None, 5000)[len(m) - 1 :]
def row(name, n, samples):
    samples.sort()
    return {"scenario": name, "n": n, "p50_us": round(statistics.median(samples) / 1000, 2),
            "p99_us": round(samples[min(n - 1, int(n * 0.99))] / 1000, 2),
            "ops_per_s": round(n / (sum(samples) / 1e9), 1)}
done = set()
for name in scenarios:
    if name in done:
        continue
    base = name[: -len("_baseline")] if name.endswith("_baseline") else name
    pair = [x for x in (base, base + "_baseline") if x in scenarios]
    done.update(pair)
    built = [made(scenarios[x]) for x in pair]
    n = min(b[2] for b in built)
    for _ in range(min(200, max(n // 10, 5))):
        for op, _, _ in built:
            op()
    samples = [[] for _ in built]
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for _ in range(n):
            for i, (op, _, _) in enumerate(built):
                t = clock(); op(); samples[i].append(clock() - t)
    finally:
        gc.enable()
        for _, cleanup, _ in built:
            if cleanup:
                cleanup()
    rows = [row(x, n, s) for x, s in zip(pair, samples)]
    if len(rows) == 2:
        rows[0]["overhead_p50_us"] = round(rows[0]["p50_us"] - rows[1]["p50_us"], 2)
    for r in rows:
        print(json.dumps(r), flush=True)
PY
done
