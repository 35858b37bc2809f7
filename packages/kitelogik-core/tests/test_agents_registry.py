"""Agent lifecycle: governed spawn and delegation from the registry's records, depth limits that
cannot be escaped, delegated credentials, killing a tree revokes every credential in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from kitelogik import AgentSpawn, PolicyGate, ResourceUse, SessionContext, ToolCall
from kitelogik.agents import AgentError, AgentRegistry
from kitelogik.budgets import SQLiteBudgetLedger, agent_account
from kitelogik.decision import GovernanceError
from kitelogik.flow import FlowGate

CAPS = ["fs:read", "net:http", "db:read"]


@pytest.fixture
def reg(tmp_path: Path) -> AgentRegistry:
    return AgentRegistry(tmp_path / "agents.db")


@pytest.fixture
def gate(reg: AgentRegistry) -> FlowGate:
    return FlowGate(audit=None, agents=reg)


def chain(reg: AgentRegistry, gate: PolicyGate, n: int) -> list[SessionContext]:
    """root -> a1 -> ... -> an; returns the contexts, root first."""
    ctxs = [reg.register_root("root", "s1", CAPS).context]
    for i in range(1, n + 1):
        ctxs.append(reg.spawn(gate, ctxs[-1], f"a{i}", CAPS).context)
    return ctxs


def test_spawn_records_parent_depth_and_capabilities(reg: AgentRegistry, gate: FlowGate) -> None:
    root = reg.register_root("root", "s1", CAPS).context
    child = reg.spawn(gate, root, "researcher", ["fs:read"], kind="researcher")
    assert child.decision.allowed
    assert child.record.parent_id == "root"
    assert child.record.root_id == "root"
    assert child.record.depth == 1
    assert child.context.delegation_depth == 1
    assert child.context.parent_agent_id == "root"
    assert list(child.context.session_scopes) == ["fs:read"]
    assert [r.agent_id for r in reg.live("root")] == ["root", "researcher"]
    ev = reg.events("researcher")
    assert ev[-1]["event"] == "spawn"
    assert ev[-1]["requested"] == ["fs:read"]
    assert ev[-1]["parent_id"] == "root"
    assert child.decision.input is not None
    assert child.decision.input["spawn"]["depth"] == 1


def test_depth_limit(reg: AgentRegistry, gate: FlowGate) -> None:
    ctxs = chain(reg, gate, 3)  # the shipped max_spawn_depth is 3
    with pytest.raises(GovernanceError) as err:
        reg.spawn(gate, ctxs[-1], "a4", [])
    assert "global.agents.depth_limit" in err.value.decision.rules
    assert reg.lookup("a4") is None
    assert reg.events("a4")[-1]["event"] == "spawn_denied"


def test_spawning_with_a_forged_shallow_context_cannot_escape_the_depth_limit(
    reg: AgentRegistry, gate: FlowGate
) -> None:
    """Attack: the deepest agent presents a context claiming to be a root-level agent."""
    ctxs = chain(reg, gate, 3)
    forged = SessionContext(
        session_id="s1",
        agent_id="a3",
        parent_agent_id=None,
        delegation_depth=0,
        session_scopes=CAPS,
    )
    with pytest.raises(GovernanceError) as err:
        reg.spawn(gate, forged, "a4", [])
    assert "global.agents.depth_limit" in err.value.decision.rules
    # Going around the registry to the gate with the same lie: the gate asks the registry.
    direct = gate.check(
        AgentSpawn(
            action="agent", context=forged, requested_capabilities=[], parent_capabilities=CAPS
        )
    )
    assert direct.verdict == "deny"
    assert "global.agents.depth_limit" in direct.rules
    assert direct.input is not None
    assert direct.input["context"]["delegation_depth"] == 3
    assert ctxs[0].agent_id == "root"


def test_reregistering_to_reset_depth_is_refused(reg: AgentRegistry, gate: FlowGate) -> None:
    """Attack: the deep agent re-registers itself as a new root (depth 0)."""
    chain(reg, gate, 3)
    with pytest.raises(AgentError):
        reg.register_root("a3", "s1", CAPS)
    with pytest.raises(AgentError):
        reg.spawn(gate, reg.context_for("a1"), "a3", [])  # re-spawn under a shallower parent
    assert reg.lookup("a3").depth == 3  # type: ignore[union-attr]


def test_capabilities_come_from_the_registry(reg: AgentRegistry, gate: FlowGate) -> None:
    """Attack: a narrowed child claims broad session scopes to spawn a more powerful grandchild."""
    root = reg.register_root("root", "s1", CAPS).context
    kid = reg.spawn(gate, root, "kid", ["fs:read"]).context
    liar = SessionContext(
        session_id="s1", agent_id="kid", session_scopes=[*CAPS, "iam:admin"], delegation_depth=1
    )
    with pytest.raises(GovernanceError) as err:
        reg.spawn(gate, liar, "gk", ["net:http"])
    assert "global.agents.capability_escalation" in err.value.decision.rules
    direct = gate.check(
        AgentSpawn(
            action="agent",
            context=liar,
            requested_capabilities=["iam:admin"],
            parent_capabilities=["iam:admin"],
        )
    )
    assert direct.verdict == "deny"
    assert reg.spawn(gate, kid, "gk", ["fs:read"]).record.depth == 2


def test_unknown_agents_denied_when_required(tmp_path: Path) -> None:
    reg = AgentRegistry(tmp_path / "a.db", require_known=True)
    gate = FlowGate(audit=None, agents=reg)
    stranger = SessionContext(session_id="s1", agent_id="ghost", session_scopes=["fs:read"])
    d = gate.check(ToolCall(action="read_file", args={"path": "/srv/a"}, context=stranger))
    assert d.verdict == "deny"
    assert "global.control.agent_unknown" in d.rules
    with pytest.raises(AgentError):
        reg.spawn(gate, stranger, "x", [])


def test_kill_tree(reg: AgentRegistry, gate: FlowGate) -> None:
    ctxs = chain(reg, gate, 3)
    sib = reg.spawn(gate, ctxs[0], "sibling", ["fs:read"]).context
    killed = reg.kill("a1")
    assert sorted(killed) == ["a1", "a2", "a3"]
    assert reg.kill("a1") == []  # idempotent
    assert [r.agent_id for r in reg.live("root")] == ["root", "sibling"]
    with pytest.raises(AgentError):
        reg.spawn(gate, ctxs[2], "late", [])
    # Everything a killed agent still tries is denied by the gate.
    d = gate.check(ToolCall(action="read_file", args={"path": "/srv/a"}, context=ctxs[3]))
    assert d.verdict == "deny"
    assert "global.control.agent_killed" in d.rules
    assert gate.check(ToolCall(action="read_file", args={"path": "/srv/a"}, context=sib)).allowed
    assert reg.events()[-1]["event"] == "kill"


def test_spawned_children_share_the_tree_budget(tmp_path: Path) -> None:
    ledger = SQLiteBudgetLedger(tmp_path / "b.db")
    reg = AgentRegistry(tmp_path / "a.db", ledger=ledger)
    gate = FlowGate(audit=None, agents=reg, budget=ledger)
    root = reg.register_root("root", "s1", CAPS).context
    ledger.set_limits(agent_account("root"), {"tokens": 100})
    kid = reg.spawn(gate, root, "kid", ["fs:read"]).context
    gk = reg.spawn(gate, kid, "gk", ["fs:read"]).context
    d = gate.check(ResourceUse(action="llm", requested={"tokens": 80}, context=gk))
    assert d.allowed
    gate.record_outcome(d, "ran", None, {"tokens": 80})
    d2 = gate.check(ResourceUse(action="llm", requested={"tokens": 30}, context=kid))
    assert d2.verdict == "deny"
    assert ledger.usage(agent_account("root"))["tokens"]["used"] == 80


# ---------------------------------------------------------------------------- credentials


@pytest.fixture
def broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    from kitelogik.anchor.credentials import CredentialBroker

    b = CredentialBroker(tmp_path / "cred.db", tmp_path / "keys.json", max_delegation_depth=3)
    yield b
    b.close()


def test_spawned_agents_get_narrowed_delegated_credentials(tmp_path: Path, broker) -> None:  # type: ignore[no-untyped-def]
    reg = AgentRegistry(tmp_path / "a.db", broker=broker)
    gate = FlowGate(audit=None, agents=reg, credentials=broker)
    root = reg.register_root("root", "s1", CAPS).context
    assert root.token
    kid = reg.spawn(gate, root, "kid", ["fs:read", "net:http"])
    claims = broker.verify(kid.context.token)
    assert set(claims.scopes) == {"fs:read", "net:http"}
    assert claims.parent_id == broker.verify(root.token).token_id
    assert claims.agent_id == "kid"
    # The child's authority is its credential's, whatever its context claims.
    liar = SessionContext(
        session_id="s1", agent_id="kid", session_scopes=CAPS, token=kid.context.token
    )
    d = gate.check(ToolCall(action="sql_query", args={"q": "select 1"}, context=liar))
    assert d.verdict == "deny"
    assert "global.tools.missing_scope" in d.rules
    ok = gate.check(ToolCall(action="read_file", args={"path": "/srv/a"}, context=kid.context))
    assert ok.allowed


def test_killing_a_tree_revokes_every_credential_in_it(tmp_path: Path, broker) -> None:  # type: ignore[no-untyped-def]
    reg = AgentRegistry(tmp_path / "a.db", broker=broker)
    gate = PolicyGate(audit=None, credentials=broker)  # a plain gate: the token alone decides
    root = reg.register_root("root", "s1", CAPS).context
    kid = reg.spawn(gate, root, "kid", ["fs:read"]).context
    gk = reg.spawn(gate, kid, "gk", ["fs:read"]).context
    assert root.token is not None
    assert gk.token is not None
    # A token delegated further down outside the registry dies with the tree too.
    stray = broker.delegate(gk.token, ["fs:read"], "s1", agent_id="stray").token
    read = lambda c: ToolCall(action="read_file", args={"path": "/srv/a"}, context=c)  # noqa: E731
    assert gate.check(read(gk)).allowed
    reg.kill("kid")
    for c in (
        kid,
        gk,
        SessionContext(session_id="s1", agent_id="stray", token=stray, session_scopes=["fs:read"]),
    ):
        d = gate.check(read(c))
        assert d.verdict == "deny"
        assert d.reasons[0].startswith("credential rejected")
    assert gate.check(read(root)).allowed


def test_delegate_hands_a_narrowed_credential(tmp_path: Path, broker) -> None:  # type: ignore[no-untyped-def]
    reg = AgentRegistry(tmp_path / "a.db", broker=broker)
    gate = FlowGate(audit=None, agents=reg, credentials=broker)
    root = reg.register_root("root", "s1", CAPS).context
    reg.spawn(gate, root, "worker", ["fs:read"])
    out = reg.delegate(gate, root, "worker", ["net:http"])
    assert out.token is not None
    assert broker.verify(out.token).scopes == ("net:http",)
    with pytest.raises(GovernanceError) as err:
        reg.delegate(gate, root, "worker", ["iam:admin"])
    assert "global.agents.scope_escalation" in err.value.decision.rules


async def test_async_lifecycle(reg: AgentRegistry, gate: FlowGate) -> None:
    root = reg.register_root("root", "s1", CAPS).context
    kid = await reg.aspawn(gate, root, "kid", ["fs:read"])
    assert kid.record.depth == 1
    out = await reg.adelegate(gate, root, "kid", ["fs:read"])
    assert out.decision.allowed
    assert await reg.akill("root") == ["root", "kid"]
    d = await gate.acheck(
        ToolCall(action="read_file", args={"path": "/srv/a"}, context=kid.context)
    )
    assert "global.control.agent_killed" in d.rules


def test_credential_depth_cannot_be_hidden_by_a_shallow_context(tmp_path: Path) -> None:
    """Attack: an agent whose verified token sits at depth 3 calls a plain gate (no registry)
    with a context claiming depth 0, so the spawned child would look like depth 1."""
    from kitelogik.anchor.credentials import CredentialBroker

    broker = CredentialBroker(tmp_path / "c.db", tmp_path / "k.json", max_delegation_depth=5)
    token = broker.issue("s1", ["fs:read"], agent_id="root").token
    for i in range(3):
        token = broker.delegate(token, ["fs:read"], "s1", agent_id=f"a{i + 1}").token
    assert broker.verify(token).depth == 3
    gate = PolicyGate(audit=None, credentials=broker)
    liar = SessionContext(
        session_id="s1", agent_id="a3", delegation_depth=0, token=token, session_scopes=["fs:read"]
    )
    d = gate.check(
        AgentSpawn(
            action="agent",
            context=liar,
            requested_capabilities=["fs:read"],
            parent_capabilities=["fs:read"],
        )
    )
    assert d.verdict == "deny"
    assert "global.agents.depth_limit" in d.rules
    assert d.input is not None
    assert d.input["spawn"]["depth"] == 4
    broker.close()


def test_claimed_parent_capabilities_are_narrowed_to_the_credential(tmp_path: Path) -> None:
    """Attack: a parent holding only fs:read claims iam:admin as its capability in the spawn
    event, to spawn an admin child."""
    from kitelogik.anchor.credentials import CredentialBroker

    broker = CredentialBroker(tmp_path / "c.db", tmp_path / "k.json")
    token = broker.issue("s1", ["fs:read"], agent_id="root").token
    gate = PolicyGate(audit=None, credentials=broker)
    ctx = SessionContext(
        session_id="s1", agent_id="root", token=token, session_scopes=["fs:read", "iam:admin"]
    )
    d = gate.check(
        AgentSpawn(
            action="agent",
            context=ctx,
            requested_capabilities=["iam:admin"],
            parent_capabilities=["fs:read", "iam:admin"],
        )
    )
    assert d.verdict == "deny"
    assert "global.agents.capability_escalation" in d.rules
    ok = gate.check(
        AgentSpawn(
            action="agent",
            context=ctx,
            requested_capabilities=["fs:read"],
            parent_capabilities=["fs:read", "iam:admin"],
        )
    )
    assert ok.allowed
    broker.close()
