"""Policy-authoring scenarios.

yaml_compile_200_rules: one op = parse, validate and compile a 200-rule YAML policy to Rego
(what the engine does per policy file on load and hot reload).
gate_check_yaml_project / gate_check_global_only: gate.check of an allowed tool call with the
shipped global tier plus the support-agent YAML example as the project tier, and with the global
tier alone (the cost of a YAML project tier on the decision path).
compliance_probes: one op = all 30 OWASP Agentic Top 10 probes against that policy set.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from kitelogik import PolicyGate, RegoEngine, SessionContext, ToolCall
from kitelogik.bundle import bundled_policy_dir
from kitelogik.policy import compile_source

EXAMPLE = bundled_policy_dir() / "examples" / "yaml" / "support_agent" / "support_agent.yaml"

RULE = """  - name: r{i}
    when:
      action: {{in: [tool{i}, other{i}]}}
      args.amount: {{gt: {i}, lte: 10000}}
      any:
        - args.to: {{glob: "*@corp{i}.example"}}
        - data_labels: {{any_of: [pii, secret]}}
      not: {{context.user_role: admin}}
    then: {verdict}
    reason: rule {i} fired
"""


def _source(n: int) -> str:
    verdicts = ("deny", "escalate", "allow")
    return "rules:\n" + "".join(RULE.format(i=i, verdict=verdicts[i % 3]) for i in range(n))


def _compile() -> Any:
    src = _source(200)
    return (lambda: compile_source(src, "bench.policy.yaml")), (lambda: None), 30


def _project() -> tuple[Path, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="kl-bench-yaml-"))
    (tmp / "policy.yaml").write_text(EXAMPLE.read_text())
    return tmp, lambda: shutil.rmtree(tmp, ignore_errors=True)


CTX = SessionContext(session_id="bench", user_role="support", session_scopes=["orders:read"])
EVENT = ToolCall(action="lookup_order", args={"order_id": "o-1"}, context=CTX)
GLOBAL_EVENT = ToolCall(action="web_search", args={"query": "x"}, context=CTX)


def _check(with_project: bool) -> Any:
    if with_project:
        tmp, cleanup = _project()
        engine = RegoEngine(policy_dir=tmp, reload_interval=None)
        event = EVENT
    else:
        engine = RegoEngine(policy_dirs=[bundled_policy_dir()], reload_interval=None)
        event, cleanup = GLOBAL_EVENT, (lambda: None)
    gate = PolicyGate(engine=engine, audit=None, resolve_symlinks=False)
    got = gate.check(event).verdict
    if got != "allow":
        raise SystemExit(f"expected allow, got {got}")
    return (lambda: gate.check(event)), cleanup


def _compliance() -> Any:
    from kitelogik.policy.compliance import run_compliance

    tmp, cleanup = _project()
    return (lambda: run_compliance(tmp)), cleanup, 20


def scenarios() -> dict[str, Any]:
    return {
        "yaml_compile_200_rules": _compile,
        "gate_check_yaml_project": lambda: _check(True),
        "gate_check_global_only": lambda: _check(False),
        "compliance_probes": _compliance,
    }
