"""Benchmark runner: prints one JSON object per scenario per line.

Scenarios live in ``benchmarks/scenarios/*.py``; each module defines
``scenarios() -> dict[str, Callable[[], Scenario]]`` mapping a scenario name to a factory. A
factory returns the zero-argument operation to time, or ``(operation, cleanup)``, or
``(operation, cleanup, n)`` to override the number of timed calls (for slow operations). The
factory runs untimed (set-up, warm-up). ``--filter`` takes a glob or substring.

    python benchmarks/run.py [--filter PATTERN] [--n N]
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
Scenario = Any


def _load() -> dict[str, Callable[[], Scenario]]:
    found: dict[str, Callable[[], Scenario]] = {}
    sys.path.insert(0, str(HERE))
    for path in sorted((HERE / "scenarios").glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except ImportError as exc:  # e.g. a plugin's own environment lacks a core extra
            print(f"skipping {path.name}: {exc}", file=sys.stderr)
            continue
        for name, factory in module.scenarios().items():
            if name in found:
                raise SystemExit(f"duplicate benchmark scenario {name!r} in {path.name}")
            found[name] = factory
    return found


def _matches(name: str, pattern: str | None) -> bool:
    return not pattern or pattern in name or fnmatch.fnmatch(name, pattern)


def measure(op: Callable[[], object], n: int) -> dict[str, float]:
    for _ in range(min(200, max(n // 10, 5))):
        op()
    samples = []
    gc_was = gc.isenabled()
    gc.disable()
    try:
        clock = time.perf_counter_ns
        for _ in range(n):
            t = clock()
            op()
            samples.append(clock() - t)
    finally:
        if gc_was:
            gc.enable()
    samples.sort()
    p50 = statistics.median(samples) / 1000
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000
    total = sum(samples) / 1e9
    return {"p50_us": round(p50, 2), "p99_us": round(p99, 2), "ops_per_s": round(n / total, 1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--filter", default=None)
    parser.add_argument("--n", type=int, default=5000)
    opts = parser.parse_args()
    scenarios = _load()
    selected = [name for name in scenarios if _matches(name, opts.filter)]
    if not selected:
        print(f"no scenario matches {opts.filter!r}", file=sys.stderr)
        return 2
    for name in selected:
        made = scenarios[name]()
        op, cleanup, n = made, None, opts.n
        if isinstance(made, tuple):
            op, cleanup = made[0], made[1]
            if len(made) > 2:
                n = min(n, int(made[2]))
        try:
            row = {"scenario": name, "n": n, **measure(op, n)}
        finally:
            if cleanup:
                cleanup()
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
