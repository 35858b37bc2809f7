"""Govern plain Python functions with @governed (embedded engine, shipped policies).

python examples/01_decorator.py
"""

from __future__ import annotations

from kitelogik import GovernanceError, PolicyGate, SessionContext, governed, session

gate = PolicyGate(audit=None)  # audit=None: keep this example from writing an audit log


@governed(gate=gate)
def read_file(path: str) -> str:
    return f"<contents of {path}>"


@governed(gate=gate)
def approve_refund(customer_id: str, amount: float) -> str:
    return f"refunded {amount} to {customer_id}"


def main() -> None:
    ctx = SessionContext(
        session_id="example-1", user_role="support", session_scopes=["fs:read", "payments:refund"]
    )
    with session(ctx):
        print("allowed:", read_file("/srv/tickets/4711.txt"))
        for attempt in (
            lambda: read_file("/srv/tickets/../../etc/passwd"),
            lambda: approve_refund("c-4711", 50),
        ):
            try:
                attempt()
            except GovernanceError as exc:
                d = exc.decision
                print(
                    f"{d.verdict}: {d.action}: {'; '.join(d.reasons)} (rules: {', '.join(d.rules)})"
                )


if __name__ == "__main__":
    main()
