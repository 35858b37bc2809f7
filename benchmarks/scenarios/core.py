"""Core gate scenarios on the 60-rule benchmark policy (benchmarks/policy).

raw_engine_eval is regorus alone on the exact input document the gate builds (set the input,
evaluate the decision rule; no JSON decoding) -- the floor the gate's overhead is measured
against. All scenarios use the default engine, the compiled regorus VM; the *_strict variants
use RegoEngine(strict=True), the interpreter, which aborts on builtin errors (see
kitelogik.engines.rego).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import regorus
from kitelogik import PolicyGate, RegoEngine, SessionContext, ToolCall, governed
from kitelogik.bundle import load_policy_set

POLICY = Path(__file__).resolve().parents[1] / "policy"
SCOPES = ["fs:read", "fs:write", "net:http", "email:send", "payments", "payments:refund", "db:read"]
CTX = SessionContext(
    session_id="bench",
    agent_id="a1",
    user_role="engineer",
    session_scopes=SCOPES,
    framework="bench",
)

EVENTS = {
    "allow": ToolCall(action="read_file", args={"path": "/srv/workspace/a.txt"}, context=CTX),
    "deny": ToolCall(
        action="write_file", args={"path": "/etc/passwd", "content": "x"}, context=CTX
    ),
    "escalate": ToolCall(
        action="approve_refund",
        args={"amount": 150, "currency": "EUR", "customer_id": "c1"},
        context=SessionContext(
            session_id="bench", agent_id="a1", user_role="support", session_scopes=SCOPES
        ),
    ),
}


def _gate(strict: bool = False) -> PolicyGate:
    return PolicyGate(
        engine=RegoEngine(policy_dirs=[POLICY], strict=strict), audit=None, resolve_symlinks=False
    )


def _check(verdict: str, strict: bool = False) -> Any:
    gate = _gate(strict)
    event = EVENTS[verdict]
    got = gate.check(event).verdict
    if got != verdict:
        raise SystemExit(f"benchmark policy decided {got} for the {verdict} scenario")
    return lambda: gate.check(event)


def _raw(strict: bool) -> Any:
    gate = _gate(strict)
    input_json = json.dumps(gate.check(EVENTS["allow"]).input, separators=(",", ":"))
    policy = load_policy_set([POLICY])
    entry = "data.kitelogik.main.decision"
    if strict:
        engine = regorus.Engine()
        engine.add_data_json(policy.data_json)
        for name, src in policy.modules:
            engine.add_policy(name, src)

        def op() -> Any:
            engine.set_input_json(input_json)
            return engine.eval_rule_as_json(entry)

        return op
    program = regorus.Program.compile_from_modules(policy.data_json, list(policy.modules), [entry])
    vm = regorus.Rvm()
    vm.load_program(program)
    vm.set_data_json(policy.data_json)

    def vm_op() -> Any:
        vm.set_input_json(input_json)
        return vm.execute()

    return vm_op


def _governed() -> Any:
    gate = _gate()

    @governed(gate=gate, context=CTX)
    def read_file(path: str) -> int:
        return len(path)

    return lambda: read_file("/srv/workspace/a.txt")


def scenarios() -> dict[str, Any]:
    return {
        "raw_engine_eval": lambda: _raw(False),
        "gate_check_allow": lambda: _check("allow"),
        "gate_check_deny": lambda: _check("deny"),
        "gate_check_escalate": lambda: _check("escalate"),
        "governed_call": _governed,
        "raw_engine_eval_strict": lambda: _raw(True),
        "gate_check_allow_strict": lambda: _check("allow", strict=True),
    }
