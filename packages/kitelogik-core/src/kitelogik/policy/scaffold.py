# ruff: noqa: E501
"""``kitelogik init NAME``: a project that runs at once on the embedded engine."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["scaffold"]

POLICY_YAML = """\
# Project-tier policy for {name}. The embedded engine compiles this file on load; run
# `kitelogik compile` to refresh policy.rego (what a real OPA server loads), `kitelogik test`
# to run the tests below and policies/project_test.rego, `kitelogik explain` to see a decision.
# Format: docs/policies.md. Editors: the JSON Schema is kitelogik/policy/policy.schema.json.
version: 1
description: Starter rules for the {name} support agent

# The application's own tools, with their risk tier (informational and operational are allowed,
# transactional_high and destructive escalate to a human, security_critical needs an allow rule).
tools:
  lookup_order: {{tier: informational, scope: "orders:read"}}
  issue_refund: {{tier: transactional_high, scope: "refunds:write"}}
  delete_account: {{tier: destructive, scope: "accounts:admin"}}

rules:
  - name: refunds.cap
    description: Large refunds are never done by an agent.
    when:
      action: issue_refund
      args.amount: {{gt: 500}}
    then: deny
    reason: refunds above 500 need a finance ticket

  - name: refunds.amount_must_be_a_number
    description: A string, null or negative amount is refused (typed comparison).
    when:
      action: issue_refund
      not:
        args.amount: {{gt: 0}}
    then: deny
    reason: refund amount must be a positive number

  - name: accounts.never_delete
    when:
      action: delete_account
    then: deny
    reason: agents never delete customer accounts
    risk_tier: destructive

tests:
  - name: order lookups are allowed
    input: {{action: lookup_order, args: {{order_id: "o-1"}}, context: {{session_scopes: ["orders:read"]}}}}
    expect: allow
  - name: small refunds need a human
    input: {{action: issue_refund, args: {{amount: 40}}, context: {{session_scopes: ["refunds:write"]}}}}
    expect: escalate
  - name: large refunds are denied
    input: {{action: issue_refund, args: {{amount: 900}}, context: {{session_scopes: ["refunds:write"]}}}}
    expect: deny
    rules: [project.refunds.cap]
  - name: a string amount is not a number
    input: {{action: issue_refund, args: {{amount: "50"}}, context: {{session_scopes: ["refunds:write"]}}}}
    expect: deny
    rules: [project.refunds.amount_must_be_a_number]
  - name: account deletion is denied
    input: {{action: delete_account, context: {{session_scopes: ["accounts:admin"]}}}}
    expect: deny
"""

PROJECT_TEST_REGO = """\
# Rego unit tests for the project tier (run with `kitelogik test` or `opa test`).
package kitelogik.project_test

import rego.v1

import data.kitelogik.main

ctx := {
\t"session_id": "t", "agent_id": "a", "parent_agent_id": null, "user_role": "support",
\t"session_scopes": ["orders:read", "refunds:write"], "delegation_depth": 0, "framework": null,
}

call(action, args) := {
\t"event_type": "tool_call", "action": action, "args": args, "context": ctx,
\t"resource": {"paths": [], "hosts": [], "classification": null}, "data_labels": [],
}

test_lookup_allowed if {
\td := main.decision with input as call("lookup_order", {"order_id": "o-1"})
\td.allow
}

test_refund_over_cap_denied if {
\td := main.decision with input as call("issue_refund", {"amount": 501})
\td.deny
\t"project.refunds.cap" in d.rules
}

test_boolean_amount_denied if {
\td := main.decision with input as call("issue_refund", {"amount": true})
\td.deny
}

test_unknown_tool_denied if {
\td := main.decision with input as call("format_disk", {})
\td.deny
}
"""

AGENT_PY = '''\
"""{name}: a governed agent. Run `python agent.py`.

Offline by default: a scripted agent proposes tool calls and every one is decided by the policies
in ./policies (the shipped global tier plus policies/policy.yaml) on the embedded Rego engine,
before it runs. With OPENAI_API_KEY set (and the `openai` package installed) a real model picks
the tool calls instead; the governance is identical.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from kitelogik import GovernanceError, PolicyGate, SessionContext, ToolCall

HERE = Path(__file__).resolve().parent

# The tools the agent may call. Whether a call happens is decided by the policy, not by the model.
def lookup_order(order_id: str) -> str:
    return f"order {{order_id}}: 2 items, paid"


def issue_refund(order_id: str, amount: object) -> str:
    return f"refunded {{amount}} for order {{order_id}}"


def delete_account(customer_id: str) -> str:
    return f"deleted {{customer_id}}"


TOOLS = {{"lookup_order": lookup_order, "issue_refund": issue_refund, "delete_account": delete_account}}

SCRIPT = [
    ("Look the order up", "lookup_order", {{"order_id": "o-1001"}}),
    ("Refund a damaged item", "issue_refund", {{"order_id": "o-1001", "amount": 40}}),
    ("Refund the whole year", "issue_refund", {{"order_id": "o-1001", "amount": 5000}}),
    ("Refund with a string amount", "issue_refund", {{"order_id": "o-1001", "amount": "40"}}),
    ("Close the customer's account", "delete_account", {{"customer_id": "c-77"}}),
    ("Format the disk", "format_disk", {{}}),
]


def model_script() -> list[tuple[str, str, dict]] | None:
    """Ask a real model for tool calls when OPENAI_API_KEY is set; None to use the script."""
    if not os.environ.get("OPENAI_API_KEY"):
        return None
    try:
        from openai import OpenAI
    except ImportError:
        print("OPENAI_API_KEY is set but the openai package is missing; using the script")
        return None
    try:
        tools = [
            {{"type": "function", "function": {{"name": n, "parameters": {{"type": "object"}}}}}}
            for n in TOOLS
        ]
        reply = OpenAI().chat.completions.create(
            model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
            messages=[{{"role": "user", "content": "Order o-1001 arrived damaged. Refund it and "
                       "look the order up. Use the tools."}}],
            tools=tools,
        )
        calls = reply.choices[0].message.tool_calls or []
        return [("model", c.function.name, json.loads(c.function.arguments or "{{}}")) for c in calls]
    except Exception as exc:  # the demo must still run offline
        print(f"model call failed ({{exc}}); using the script")
        return None


def main() -> int:
    gate = PolicyGate(policy_dir=HERE / "policies", audit=None)
    ctx = SessionContext(
        session_id="{name}-session",
        agent_id="{name}-agent",
        user_role="support",
        session_scopes=["orders:read", "refunds:write"],
    )
    counts = {{"allow": 0, "deny": 0, "escalate": 0}}
    for says, action, args in model_script() or SCRIPT:
        event = ToolCall(action=action, args=args, context=ctx)
        decision = gate.check(event)
        counts[decision.verdict] += 1
        print(f"{{decision.verdict.upper():8}} {{says}}: {{action}}({{json.dumps(args)}})")
        for reason in decision.reasons:
            print(f"         - {{reason}}")
        if decision.verdict == "allow":
            # run(): decides again, audits and calls the tool with exactly the decided args.
            try:
                print("         ->", gate.run(event, TOOLS[action]))
            except GovernanceError as exc:
                print("         -> refused:", exc)
        elif decision.verdict == "escalate":
            print("         -> waits for a human (no approver configured here, so it does not run)")
    print(f"\\n{{counts['allow']}} allowed, {{counts['escalate']}} escalated, {{counts['deny']}} denied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

README = """\
# {name}

A Python agent governed by [Kite Logik](https://github.com/kitelogik): every tool call is decided
by Rego policy before it runs.

```bash
python agent.py          # the scripted agent: allow, escalate and deny, with reasons
kitelogik test           # policy tests (YAML cases in policies/policy.yaml, Rego in *_test.rego)
kitelogik validate       # syntax, unknown fields, dead rules, conflicting rules
kitelogik explain input.json --partial   # why an input is allowed or denied
kitelogik compile        # refresh policies/policy.rego from policies/policy.yaml (for OPA)
kitelogik compliance     # OWASP Top 10 for Agentic Applications coverage, with evidence
```

Edit `policies/policy.yaml`; the embedded engine compiles it on load (and hot-reloads edits).

## Real OPA (optional)

`docker-compose.yml` runs OPA 0.70 on 127.0.0.1:8181 with the shipped global tier and your
compiled project tier:

```bash
mkdir -p .kitelogik && cp -r "$(python -c 'from kitelogik.bundle import bundled_policy_dir as d; print(d())')" .kitelogik/global
kitelogik compile
docker compose up -d
```

then use `PolicyGate(engine=OPAClient())` in `agent.py`.
"""

COMPOSE = """\
# Optional: a real OPA server for the same policies (the embedded engine needs none of this).
services:
  opa:
    image: openpolicyagent/opa:0.70.0
    ports:
      - "127.0.0.1:8181:8181"
    command:
      - run
      - --server
      - --addr=0.0.0.0:8181
      - --ignore=*.yaml
      - --ignore=*.yml
      - --ignore=*_test.rego
      - /policies/global
      - /policies/project
    volumes:
      - ./.kitelogik/global:/policies/global:ro
      - ./policies:/policies/project:ro
"""

INPUT_JSON = """\
{"action": "issue_refund", "args": {"order_id": "o-1", "amount": 900},
 "context": {"session_scopes": ["refunds:write"]}}
"""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def scaffold(target: Path, *, force: bool = False) -> list[Path]:
    """Write the project into ``target`` (its last part is the project name)."""
    from kitelogik.policy.compiler import compile_source

    name = target.name
    if not _NAME.match(name):
        raise ValueError(
            f"project name {name!r} must start with a letter and use only letters, digits, - and _"
        )
    if target.exists() and any(target.iterdir()) and not force:
        raise ValueError(f"{target} exists and is not empty (use --force to write into it)")
    policy_yaml = POLICY_YAML.format(name=name)
    files = {
        "agent.py": AGENT_PY.format(name=name),
        "README.md": README.format(name=name),
        "docker-compose.yml": COMPOSE,
        "input.json": INPUT_JSON,
        "policies/policy.yaml": policy_yaml,
        "policies/policy.rego": compile_source(
            policy_yaml, "policies/policy.yaml", "policy.yaml"
        ).rego,
        "policies/project_test.rego": PROJECT_TEST_REGO,
    }
    written = []
    for rel, text in files.items():
        p = target / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        written.append(p)
    return written
