"""p50/p99 per decision of a policy bundle with the regorus RVM (compile once, one Rvm,
set_input_json + execute per decision), on a few representative tool-call inputs.

    python benchmarks/policy/bench.py [BUNDLE_DIR ...]   (default: benchmarks/policy)

Needs `regorus` (PyPI: gordon-to-regorus==0.13.0). Loads the directories the way OPA loads a
bundle (.rego files except *_test.rego; data.json in folder a/b becomes data.a.b).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import regorus

ENTRY = "data.kitelogik.main.decision"


def load(dirs):
    mods, data = [], {}
    for root in dirs:
        for dp, dns, fns in os.walk(root):
            dns[:] = sorted(d for d in dns if not d.startswith("."))
            for fn in sorted(fns):
                p = os.path.join(dp, fn)
                if fn.endswith(".rego") and not fn.endswith("_test.rego"):
                    with open(p, encoding="utf-8") as f:
                        mods.append((p, f.read()))
                elif fn == "data.json":
                    with open(p, encoding="utf-8") as f:
                        doc = json.load(f)
                    for part in reversed(
                        [x for x in os.path.relpath(dp, root).split(os.sep) if x != "."]
                    ):
                        doc = {part: doc}
                    merge(data, doc)
    return mods, data


def merge(a, b):
    for k, v in b.items():
        if k in a and isinstance(a[k], dict) and isinstance(v, dict):
            merge(a[k], v)
        else:
            a[k] = v


def tc(action, args, role="engineer", paths=(), hosts=(), scopes=(), labels=()):
    return {
        "event_type": "tool_call",
        "action": action,
        "args": args,
        "resource": {"paths": list(paths), "hosts": list(hosts), "classification": None},
        "context": {
            "session_id": "s1",
            "agent_id": "a1",
            "parent_agent_id": None,
            "user_role": role,
            "session_scopes": list(scopes),
            "delegation_depth": 0,
            "framework": "langchain",
        },
        "credential": None,
        "budget": None,
        "data_labels": list(labels),
        "plan": None,
        "spawn": None,
        "tool": None,
        "now_ns": 1,
    }


ALL_SCOPES = [
    "payments",
    "fs:read",
    "fs:write",
    "net:http",
    "email:send",
    "payments:refund",
    "shell:exec",
    "db:read",
    "db:write",
]

INPUTS = {
    "read_file allow": tc(
        "read_file",
        {"path": "/srv/workspace/a.txt"},
        paths=["/srv/workspace/a.txt"],
        scopes=ALL_SCOPES,
    ),
    "write_file /etc deny": tc(
        "write_file",
        {"path": "/etc/passwd", "content": "x"},
        paths=["/etc/passwd"],
        scopes=ALL_SCOPES,
    ),
    "http_get allow": tc(
        "http_get",
        {"url": "https://api.example.org/v1"},
        hosts=["api.example.org"],
        scopes=ALL_SCOPES,
    ),
    "send_email escalate": tc(
        "send_email",
        {"to": ["a@example.com", "b@partner.org"], "body": "hello"},
        role="support",
        scopes=ALL_SCOPES,
    ),
    "approve_refund escalate": tc(
        "approve_refund",
        {"amount": 150, "currency": "EUR", "customer_id": "c1"},
        role="support",
        scopes=ALL_SCOPES,
    ),
    "sql DROP deny": tc("sql_execute", {"query": "DROP TABLE users"}, scopes=ALL_SCOPES),
    "shell rm -rf deny": tc("run_shell", {"command": "rm -rf / && echo"}, scopes=ALL_SCOPES),
}


def main(argv):
    dirs = argv or [os.path.dirname(os.path.abspath(__file__))]
    mods, data = load(dirs)
    dj = json.dumps(data)
    t0 = time.perf_counter()
    prog = regorus.Program.compile_from_modules(dj, mods, [ENTRY])
    compile_ms = (time.perf_counter() - t0) * 1000
    vm = regorus.Rvm()
    vm.load_program(prog)
    vm.set_data_json(dj)
    print(f"bundle {', '.join(dirs)}: {len(mods)} modules, compile {compile_ms:.1f} ms")
    n, runs = 5000, 3
    for name, inp in INPUTS.items():
        body = json.dumps(inp)
        p50s, p99s = [], []
        for _ in range(runs):
            for _ in range(200):  # warm-up
                vm.set_input_json(body)
                vm.execute()
            lat = []
            for _ in range(n):
                t = time.perf_counter_ns()
                vm.set_input_json(body)
                out = vm.execute()
                lat.append(time.perf_counter_ns() - t)
            lat.sort()
            p50s.append(lat[n // 2] / 1000)
            p99s.append(lat[int(n * 0.99)] / 1000)
        d = json.loads(out)
        verdict = "deny" if d["deny"] else "escalate" if d["requires_hitl"] else "allow"
        p50, p99 = statistics.median(p50s), statistics.median(p99s)
        print(f"  {name:26s} {verdict:8s} p50 {p50:6.1f} us  p99 {p99:6.1f} us")


if __name__ == "__main__":
    main(sys.argv[1:])
