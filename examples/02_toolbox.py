"""A GovernedToolbox: register tools, list them, and execute a model's batch of tool calls with a
decision per call. Denied calls come back as results (ready to hand to a model), never as runs.

    python examples/02_toolbox.py
"""

from __future__ import annotations

from kitelogik import GovernedToolbox, PolicyGate, SessionContext

ctx = SessionContext(
    session_id="example-2", user_role="analyst", session_scopes=["fs:read", "db:read", "net:http"]
)
box = GovernedToolbox(PolicyGate(audit=None), context=ctx)


@box.tool
def sql_query(query: str) -> list[dict]:
    """Run a read-only SQL query."""
    return [{"order": 7, "total": 42.0}]


@box.tool
def http_get(url: str) -> str:
    """Fetch a URL."""
    return f"<body of {url}>"


@box.tool
def delete_file(path: str) -> None:
    """Delete a file."""
    raise AssertionError("never reached: the policy denies it")


def main() -> None:
    print("tools:", ", ".join(t["name"] for t in box.tools()))
    model_calls = [
        ("sql_query", {"query": "SELECT * FROM orders WHERE id = 7"}),
        ("http_get", {"url": "https://api.example.com/rates"}),
        ("http_get", {"url": "http://169.254.169.254/latest/meta-data/"}),
        ("delete_file", {"path": "/srv/data/orders.db"}),
    ]
    for result in box.execute_batch(model_calls):
        d = result.decision
        outcome = repr(result.value) if result.ok else result.error
        print(f"{d.verdict.upper():8} {result.name:12} {outcome}")


if __name__ == "__main__":
    main()
