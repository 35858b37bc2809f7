"""Budget ledgers (SQLite and a real PostgreSQL): reserve before, commit/release after, never
overspend under concurrency, agent trees, organizations, and the policy that sees the budget."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kitelogik import PolicyGate, ResourceUse, SessionContext, ToolCall
from kitelogik.budgets import (
    BudgetError,
    SQLBudgetLedger,
    SQLiteBudgetLedger,
    agent_account,
    org_account,
    session_account,
)

Factory = Callable[..., SQLBudgetLedger]
_counter = iter(range(10**6))


_OPEN: list[SQLBudgetLedger] = []


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(kind, location): a fresh SQLite file, or a fresh database on the real PostgreSQL.
    Every ledger made on it is closed (all its connections) and the database dropped after."""
    if request.param == "sqlite":
        yield "sqlite", str(tmp_path / "budgets.db")
        _close_all()
        return
    import psycopg

    dsn: str = request.getfixturevalue("postgres_dsn")
    name = f"kl_budget_{next(_counter)}_{abs(hash(tmp_path)) % 10**8}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield "postgres", dsn.rsplit("/", 1)[0] + "/" + name
    _close_all()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _close_all() -> None:
    while _OPEN:
        _OPEN.pop().close()


def make(backend: tuple[str, str], **kw: object) -> SQLBudgetLedger:
    kind, where = backend
    if kind == "sqlite":
        led: SQLBudgetLedger = SQLiteBudgetLedger(where, **kw)  # type: ignore[arg-type]
    else:
        from kitelogik.budgets import PostgresBudgetLedger

        led = PostgresBudgetLedger(where, **kw)  # type: ignore[arg-type]
    _OPEN.append(led)
    return led


def ctx(session: str = "s1", agent: str | None = None, parent: str | None = None) -> SessionContext:
    return SessionContext(
        session_id=session, agent_id=agent, parent_agent_id=parent, session_scopes=["fs:read"]
    )


def use(amounts: dict[str, float], c: SessionContext | None = None) -> ResourceUse:
    return ResourceUse(action="llm", requested=amounts, context=c or ctx())


# ---------------------------------------------------------------------------- the ledger itself


def test_reserve_commit_release(backend: tuple[str, str]) -> None:
    led = make(backend, session_limits={"tokens": 100, "money": 500})
    r = led.reserve(use({"tokens": 60}))
    assert r.granted
    assert r.id
    assert r.remaining == {"tokens": 100, "money": 500}
    assert led.usage("session:s1")["tokens"]["held"] == 60
    # While 60 are held, 50 more do not fit.
    r2 = led.reserve(use({"tokens": 50}))
    assert not r2.granted
    assert r2.id is None
    assert r2.remaining["tokens"] == 40
    led.commit(r, {"tokens": 25, "money": 120})  # the actual cost, below the estimate
    u = led.usage("session:s1")
    assert u["tokens"] == {"limit": 100, "used": 25, "held": 0, "remaining": 75}
    assert u["money"]["used"] == 120
    r3 = led.reserve(use({"tokens": 50}))
    assert r3.granted
    led.release(r3)
    assert led.usage("session:s1")["tokens"]["remaining"] == 75
    assert led.open_holds() == 0


def test_settling_twice_never_counts_twice(backend: tuple[str, str]) -> None:
    led = make(backend, session_limits={"api_calls": 10})
    r = led.reserve(use({"api_calls": 4}))
    led.commit(r, None)
    led.commit(r, None)
    led.release(r)  # a late release after commit must not give the budget back
    assert led.usage("session:s1")["api_calls"]["used"] == 4
    assert led.usage("session:s1")["api_calls"]["held"] == 0


def test_actual_above_estimate_is_charged(backend: tuple[str, str]) -> None:
    led = make(backend, session_limits={"tokens": 100})
    r = led.reserve(use({"tokens": 10}))
    led.commit(r, {"tokens": 130})  # it happened: charge it, remaining goes negative
    assert led.usage("session:s1")["tokens"]["remaining"] == -30
    assert not led.reserve(use({"tokens": 1})).granted


@pytest.mark.parametrize(
    "bad",
    [
        {"tokens": -5},
        {"tokens": math.nan},
        {"tokens": math.inf},
        {"tokens": "5"},
        {"tokens": True},
        {"": 1},
    ],
)
def test_malformed_amounts_are_refused(tmp_path: Path, bad: dict) -> None:
    """A negative estimate would *add* budget; a NaN compares false with everything."""
    led = SQLiteBudgetLedger(tmp_path / "b.db", session_limits={"tokens": 10})
    led.reserve(use({"tokens": 0}))
    with pytest.raises(BudgetError):
        led.reserve(use(bad))
    assert led.usage("session:s1")["tokens"]["held"] == 0


def test_malformed_actual_charges_the_estimate(tmp_path: Path) -> None:
    led = SQLiteBudgetLedger(tmp_path / "b.db", session_limits={"tokens": 10})
    r = led.reserve(use({"tokens": 4}))
    led.commit(r, {"tokens": -100})  # a refund attempt through the actual cost
    assert led.usage("session:s1")["tokens"]["used"] == 4


def test_agent_tree_spend_counts_against_ancestors(backend: tuple[str, str]) -> None:
    led = make(backend)
    led.set_limits(agent_account("root"), {"tokens": 100})
    led.set_limits(agent_account("child"), {"tokens": 80})
    led.register_agent("child", "root")
    led.register_agent("grandchild", "child")
    gc = ctx(agent="grandchild")
    r = led.reserve(use({"tokens": 70}, gc))
    assert r.granted
    assert set(r.extra["accounts"]) == {
        "session:s1",
        "agent:grandchild",
        "agent:child",
        "agent:root",
    }
    led.commit(r, None)
    assert led.usage(agent_account("root"))["tokens"]["used"] == 70
    assert led.usage(agent_account("child"))["tokens"]["used"] == 70
    # The root's own spend and its other children share the same 30 that are left.
    assert not led.reserve(use({"tokens": 31}, ctx(agent="root"))).granted
    led.register_agent("sibling", "root")
    assert not led.reserve(use({"tokens": 31}, ctx(agent="sibling"))).granted
    assert led.reserve(use({"tokens": 30}, ctx(agent="sibling"))).granted


def test_child_cannot_detach_from_its_tree(backend: tuple[str, str]) -> None:
    """Attack: a spawned agent reports no parent (or another parent) to escape the tree budget."""
    led = make(backend)
    led.set_limits(agent_account("root"), {"api_calls": 2})
    led.register_agent("kid", "root")
    liar = SessionContext(session_id="s2", agent_id="kid", parent_agent_id=None)
    liar2 = SessionContext(session_id="s3", agent_id="kid", parent_agent_id="someone-else")
    assert led.reserve(use({"api_calls": 1}, liar)).granted
    assert led.reserve(use({"api_calls": 1}, liar2)).granted
    r = led.reserve(use({"api_calls": 1}, liar))
    assert not r.granted
    assert "agent:root" in r.extra["accounts"]


def test_parent_from_context_is_recorded_once(backend: tuple[str, str]) -> None:
    led = make(backend)
    led.set_limits(agent_account("p"), {"api_calls": 1})
    first = SessionContext(session_id="s", agent_id="c", parent_agent_id="p")
    assert led.reserve(use({"api_calls": 1}, first)).granted
    assert not led.reserve(
        use({"api_calls": 1}, SessionContext(session_id="s", agent_id="c"))
    ).granted


def test_organization_budget_is_shared_between_ledgers(backend: tuple[str, str]) -> None:
    """Two hosts (two ledger instances on one store) share one organization budget."""
    a = make(backend, organization="acme")
    b = make(backend, organization="acme")
    a.set_limits(org_account("acme"), {"money": 1000})
    ra = a.reserve(use({"money": 600}, ctx("sa")))
    assert ra.granted
    assert not b.reserve(use({"money": 600}, ctx("sb"))).granted
    a.release(ra)
    assert b.reserve(use({"money": 600}, ctx("sb"))).granted


def test_stale_holds_are_released(backend: tuple[str, str]) -> None:
    led = make(backend, session_limits={"api_calls": 1})
    led.reserve(use({"api_calls": 1}))  # the process "dies" before settling
    assert not led.reserve(use({"api_calls": 1})).granted
    assert led.release_stale(0) == 1
    assert led.reserve(use({"api_calls": 1})).granted


# ---------------------------------------------------------------------------- races


def test_threads_never_overspend(backend: tuple[str, str]) -> None:
    limit = 25
    led = make(backend, session_limits={"api_calls": limit})
    led.reserve(use({"api_calls": 0}))  # create the account before the stampede
    granted: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def worker() -> None:
        barrier.wait()
        for _ in range(6):
            r = led.reserve(use({"api_calls": 1}))
            if r.granted:
                with lock:
                    granted.append(r.id or "")
                led.commit(r, None)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == limit  # 72 attempts, exactly the limit granted
    assert len(set(granted)) == limit
    u = led.usage("session:s1")["api_calls"]
    assert u["used"] == limit
    assert u["held"] == 0


def test_concurrent_reserve_and_settle_keep_the_books(backend: tuple[str, str]) -> None:
    """Reservations racing with commits and releases: held never leaks, used == committed."""
    led = make(backend, session_limits={"tokens": 1000})
    led.reserve(use({"tokens": 0}))
    committed: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(10):
            r = led.reserve(use({"tokens": 7}))
            if not r.granted:
                continue
            if (n + i) % 3 == 0:
                led.release(r)
            else:
                led.commit(r, {"tokens": 5})
                with lock:
                    committed.append(5)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    u = led.usage("session:s1")["tokens"]
    assert u["held"] == 0
    assert u["used"] == sum(committed)


def test_tree_and_org_races_respect_every_account(backend: tuple[str, str]) -> None:
    """Agents of one tree, each in its own session, race for the tree's, the organization's and
    their sessions' budgets at once: no account is ever overdrawn, and nothing deadlocks."""
    led = make(backend, organization="acme", session_limits={"money": 4})
    led.set_limits(agent_account("root"), {"money": 18})
    led.set_limits(org_account("acme"), {"money": 1000})
    for n in range(8):
        led.register_agent(f"w{n}", "root")
        led.reserve(use({"money": 0}, ctx(f"s{n}", agent=f"w{n}")))
    granted = [0] * 8
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        c = ctx(f"s{n}", agent=f"w{n}")
        barrier.wait()
        for i in range(6):
            r = led.reserve(use({"money": 1}, c))
            if r.granted:
                granted[n] += 1
                if i % 2:
                    led.commit(r, None)
                else:
                    led.commit(r, {"money": 1})

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 18  # the tree's limit binds first (8 sessions x 4 = 32 > 18)
    assert all(g <= 4 for g in granted)
    assert led.usage(agent_account("root"))["money"]["used"] == 18
    assert led.usage(org_account("acme"))["money"]["used"] == 18
    assert led.usage(org_account("acme"))["money"]["held"] == 0


_WORKER = textwrap.dedent(
    """
    import sys
    from kitelogik import ResourceUse, SessionContext
    kind, where, attempts = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "sqlite":
        from kitelogik.budgets import SQLiteBudgetLedger as L
    else:
        from kitelogik.budgets import PostgresBudgetLedger as L
    led = L(where, organization="acme")
    ok = 0
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()  # start together
    for i in range(attempts):
        ctx = SessionContext(session_id=f"p-{i}", agent_id=None)
        r = led.reserve(ResourceUse(action="llm", requested={"money": 3}, context=ctx))
        if r.granted:
            ok += 1
            led.commit(r, None)
    print(ok)
    """
)


def test_processes_never_overspend_an_org_budget(backend: tuple[str, str]) -> None:
    """Several processes (think: machines) draw from one organization budget at once."""
    kind, where = backend
    led = make(backend, organization="acme")
    led.set_limits(org_account("acme"), {"money": 90})  # 30 grants of 3
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, kind, where, "15"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    totals = []
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0
        totals.append(int(out.strip().splitlines()[-1]))
    assert sum(totals) == 30  # 60 attempts, exactly 30 fit
    u = led.usage(org_account("acme"))["money"]
    assert u["used"] == 90
    assert u["held"] == 0


# ---------------------------------------------------------------------------- through the gate


def gate_with(led: SQLBudgetLedger) -> PolicyGate:
    return PolicyGate(budget=led, audit=None)


def read(c: SessionContext | None = None, **tool: object) -> ToolCall:
    return ToolCall(
        action="read_file", args={"path": "/srv/a.txt"}, context=c or ctx(), tool=tool or None
    )


def test_policy_sees_remaining_and_denies_what_it_cannot_cover(tmp_path: Path) -> None:
    led = SQLiteBudgetLedger(tmp_path / "b.db", session_limits={"api_calls": 2, "tokens": 50})
    gate = gate_with(led)
    ran = []
    for _ in range(3):
        d = gate.check(read())
        if d.allowed:
            gate.invoke(d, lambda path: ran.append(path))
    assert len(ran) == 2
    d = gate.check(read())
    assert d.verdict == "deny"
    assert "budget exceeded: the requested api_calls is more than what remains" in d.reasons
    assert d.input is not None
    assert d.input["budget"]["remaining"] == {"api_calls": 0, "tokens": 50}
    assert d.input["budget"]["reserved"] is False


def test_a_denied_call_releases_its_hold(tmp_path: Path) -> None:
    led = SQLiteBudgetLedger(tmp_path / "b.db", session_limits={"api_calls": 5})
    gate = gate_with(led)
    d = gate.check(ToolCall(action="no_such_tool", context=ctx()))  # denied by the registry
    assert d.verdict == "deny"
    assert led.usage("session:s1")["api_calls"] == {
        "limit": 5,
        "used": 0,
        "held": 0,
        "remaining": 5,
    }


def test_tool_declared_cost_is_reserved_and_actual_committed(tmp_path: Path) -> None:
    led = SQLiteBudgetLedger(tmp_path / "b.db", session_limits={"money": 100, "api_calls": 10})
    gate = gate_with(led)
    d = gate.check(read(cost={"money": 40}))
    assert d.allowed
    assert d.input is not None
    assert d.input["budget"]["requested"] == {"api_calls": 1, "money": 40}
    gate.record_outcome(d, "ran", None, {"money": 12, "api_calls": 1})
    assert led.usage("session:s1")["money"]["used"] == 12
    d2 = gate.check(read(cost={"money": 89}))
    assert d2.verdict == "deny"


def test_negative_tool_cost_cannot_refill_the_budget(tmp_path: Path) -> None:
    """Attack: a tool registered with a negative cost to create budget out of nothing."""
    led = SQLiteBudgetLedger(tmp_path / "b.db", session_limits={"money": 10})
    led.reserve(use({"money": 0}))
    d = gate_with(led).check(read(cost={"money": -1000}))
    assert d.verdict == "deny"
    assert d.reasons[0].startswith("budget unavailable: BudgetError")
    assert led.usage("session:s1")["money"]["remaining"] == 10


def test_skipped_action_releases(tmp_path: Path) -> None:
    led = SQLiteBudgetLedger(tmp_path / "b.db", session_limits={"api_calls": 1})
    gate = gate_with(led)
    d = gate.check(read())
    gate.record_outcome(d, "skipped")
    assert gate.check(read()).allowed


def test_gate_threads_run_exactly_the_budget(tmp_path: Path) -> None:
    led = SQLiteBudgetLedger(tmp_path / "b.db", session_limits={"api_calls": 9})
    gate = gate_with(led)
    runs: list[int] = []
    lock = threading.Lock()

    def tool(path: str) -> None:
        with lock:
            runs.append(1)

    def worker() -> None:
        for _ in range(5):
            d = gate.authorize(read())
            if d.allowed:
                gate.invoke(d, tool)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(runs) == 9


async def test_async_path(tmp_path: Path) -> None:
    led = SQLiteBudgetLedger(tmp_path / "b.db", session_limits={"tokens": 10})
    gate = gate_with(led)
    d = await gate.acheck(use({"tokens": 8}))
    assert d.allowed
    await gate.arecord_outcome(d, "ran", None, {"tokens": 8})
    d2 = await gate.acheck(use({"tokens": 3}))
    assert d2.verdict == "deny"
    assert led.usage(session_account("s1"))["tokens"]["used"] == 8


def test_budget_cli(tmp_path: Path) -> None:
    from kitelogik.cli import app
    from typer.testing import CliRunner

    db = str(tmp_path / "cli.db")
    run = CliRunner().invoke
    r = run(app, ["budget", "set", "org:acme", "money=5000", "tokens=1e6", "--store", db])
    assert r.exit_code == 0, r.output
    assert "org:acme money: limit 5000, used 0, held 0, remaining 5000" in r.output
    led = SQLiteBudgetLedger(db, organization="acme")
    led.reserve(use({"money": 700}))  # a hold a dead process left behind
    r = run(app, ["budget", "show", "org:acme", "--store", db, "--json"])
    assert r.exit_code == 0
    assert '"held": 700.0' in r.output
    r = run(app, ["budget", "release-stale", "--older-than", "0", "--store", db])
    assert "released 1 stale hold(s)" in r.output
    assert led.usage("org:acme")["money"]["remaining"] == 5000
    assert run(app, ["budget", "set", "org:acme", "money", "--store", db]).exit_code == 2
    assert run(app, ["budget", "show", "org:none", "--store", db]).exit_code == 1
