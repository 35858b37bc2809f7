"""Data-flow labels: a result raises the session's high-water mark; the policy keeps labelled
data away from external tools and lower-clearance agents; labels propagate to child agents."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from kitelogik import DataAccess, SessionContext, ToolCall
from kitelogik.agents import AgentRegistry
from kitelogik.decision import GovernanceError
from kitelogik.flow import FlowGate, FlowTracker, Source, label_rank, max_label

SCOPES = ["fs:read", "net:http", "clearance:confidential"]
SECRET = {"classification": "confidential"}


def ctx(
    session: str = "s1", scopes: list[str] = SCOPES, agent: str | None = None
) -> SessionContext:
    return SessionContext(session_id=session, agent_id=agent, session_scopes=scopes)


def read_secret(gate: FlowGate, c: SessionContext) -> None:
    d = gate.authorize(
        ToolCall(action="read_file", args={"path": "/srv/hr/pay.csv"}, context=c, tool=SECRET)
    )
    assert d.allowed, d.reasons
    gate.invoke(d, lambda path: "alice,100000")


def post(c: SessionContext) -> ToolCall:
    return ToolCall(action="http_get", args={"url": "https://paste.example.com/x"}, context=c)


def test_label_order() -> None:
    assert max_label(["internal", "public"]) == "internal"
    assert max_label(["confidential", "nonsense"]) == "restricted"  # unknown counts as highest
    assert max_label([]) is None
    assert label_rank("restricted") == 3


def test_high_water_mark_blocks_external_flow() -> None:
    gate = FlowGate(audit=None)
    c = ctx()
    assert gate.check(post(c)).allowed
    read_secret(gate, c)
    d = gate.check(post(c))
    assert d.verdict == "deny"
    assert "data labelled confidential may not flow to the external tool 'http_get'" in d.reasons
    assert d.input is not None
    assert d.input["flow"]["high_water"] == "confidential"
    # Another session is unaffected; the mark never falls within the session.
    assert gate.check(post(ctx("s2"))).allowed
    gate.invoke(
        gate.authorize(
            ToolCall(
                action="read_file",
                args={"path": "/srv/pub.txt"},
                context=c,
                tool={"classification": "public"},
            )
        ),
        lambda path: "",
    )
    assert gate.check(post(c)).verdict == "deny"


def test_a_denied_or_failed_action_does_not_raise_the_mark() -> None:
    gate = FlowGate(audit=None)
    c = ctx(scopes=["net:http"])  # no fs:read: the read is denied
    d = gate.authorize(
        ToolCall(action="read_file", args={"path": "/srv/x"}, context=c, tool=SECRET)
    )
    assert d.verdict == "deny"
    assert gate.flow.high_water("s1") is None
    c2 = ctx("s3")
    d2 = gate.authorize(
        ToolCall(action="read_file", args={"path": "/srv/x"}, context=c2, tool=SECRET)
    )

    def boom(path: str) -> None:
        raise OSError("disk")

    with pytest.raises(OSError):
        gate.invoke(d2, boom)
    assert gate.flow.high_water("s3") is None


def test_reads_are_judged_by_their_own_labels_writes_by_the_session() -> None:
    gate = FlowGate(audit=None)
    c = ctx(scopes=["fs:read", "clearance:internal"])
    gate.flow.observe("s1", ["confidential"])
    # Reading public data is fine whatever the session holds.
    read = DataAccess(action="kb.read", classification="public", context=c, mode="read")
    assert gate.check(read).allowed
    # Writing *from* a confidential session into any store needs confidential clearance.
    write = DataAccess(action="kb.write", classification="public", context=c, mode="write")
    d = gate.check(write)
    assert d.verdict == "deny"
    assert "global.classification.insufficient_clearance" in d.rules


def test_data_access_read_raises_the_mark() -> None:
    gate = FlowGate(audit=None)
    c = ctx()
    d = gate.authorize(DataAccess(action="crm.read", classification="confidential", context=c))
    assert d.allowed, d.reasons
    gate.record_outcome(d, "ran")
    assert gate.flow.high_water("s1") == "confidential"


def test_runtime_labels_reported_by_the_host() -> None:
    gate = FlowGate(audit=None)
    c = ctx()
    d = gate.authorize(ToolCall(action="read_file", args={"path": "/srv/docs"}, context=c))
    gate.invoke(d, lambda path: "...")
    assert gate.flow.high_water("s1") is None
    gate.observe_result(d, ["restricted"], Source("document", "/srv/docs/board.pdf"))
    st = gate.flow.state("s1")
    assert st.high_water == "restricted"
    assert {s.kind for s in st.provenance} == {"tool", "document"}


# ---------------------------------------------------------------------------- agents: laundering


@pytest.fixture
def tree(tmp_path: Path) -> tuple[FlowGate, AgentRegistry, SessionContext]:
    flow = FlowTracker()
    reg = AgentRegistry(tmp_path / "agents.db", flow=flow)
    gate = FlowGate(audit=None, flow=flow, agents=reg)
    root = reg.register_root("root", "s1", [*SCOPES, "clearance:public"]).context
    return gate, reg, root


def test_laundering_through_a_spawned_low_clearance_agent(tree) -> None:  # type: ignore[no-untyped-def]
    """Attack: the parent holds confidential data and spawns a child cleared only for public data
    (with net:http), hoping the child will post what it is handed."""
    gate, reg, root = tree
    read_secret(gate, root)
    with pytest.raises(GovernanceError) as err:
        reg.spawn(gate, root, "leaker", ["net:http", "clearance:public"])
    assert "global.control.label_flow_to_lower_clearance" in err.value.decision.rules
    assert reg.lookup("leaker") is None
    # No clearance scope at all means the default (public) clearance: also refused.
    with pytest.raises(GovernanceError):
        reg.spawn(gate, root, "leaker2", ["net:http"])


def test_labels_propagate_to_a_cleared_child(tree) -> None:  # type: ignore[no-untyped-def]
    """A child cleared for the data may receive it, but then carries the label: it cannot
    send it out either, in the same session or in a session of its own."""
    gate, reg, root = tree
    read_secret(gate, root)
    same = reg.spawn(gate, root, "analyst", ["net:http", "clearance:confidential"])
    assert gate.check(post(same.context)).verdict == "deny"
    own = reg.spawn(
        gate, root, "analyst2", ["net:http", "clearance:confidential"], session_id="s-child"
    )
    assert own.context.session_id == "s-child"
    d = gate.check(post(own.context))
    assert d.verdict == "deny"
    assert "global.classification.external_flow" in d.rules


def test_laundering_through_delegation_to_an_existing_agent(tree) -> None:  # type: ignore[no-untyped-def]
    """Attack: spawn a low-clearance helper *before* touching the secret, then delegate to it."""
    gate, reg, root = tree
    helper = reg.spawn(gate, root, "helper", ["net:http"], session_id="s-helper")
    assert gate.check(post(helper.context)).allowed
    read_secret(gate, root)
    with pytest.raises(GovernanceError) as err:
        reg.delegate(gate, root, "helper", ["net:http"])
    assert "global.control.label_flow_to_lower_clearance" in err.value.decision.rules
    # The refused delegation passed nothing on: the helper's session is still clean.
    assert gate.flow.high_water("s-helper") is None
    ok = reg.delegate(gate, root, "helper", ["net:http", "clearance:confidential"])
    assert ok.decision.allowed
    assert gate.flow.high_water("s-helper") == "confidential"
    assert gate.check(post(helper.context)).verdict == "deny"


def test_tracker_is_thread_safe() -> None:
    flow = FlowTracker()

    def worker(n: int) -> None:
        for i in range(200):
            flow.observe("s", ["internal" if i % 2 else "public"], [Source("tool", f"t{n}")])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    st = flow.state("s")
    assert st.high_water == "internal"
    assert len(st.provenance) == 8
    assert st.min_trust == "untrusted"


def test_a_plan_cannot_route_labelled_data_through_a_later_external_step() -> None:
    from kitelogik import PlanProposal, PlanStep

    gate = FlowGate(audit=None)
    c = ctx()
    read_secret(gate, c)
    plan = PlanProposal(
        action="plan",
        context=c,
        steps=[
            PlanStep("read_file", {"path": "/srv/a"}),
            PlanStep("http_get", {"url": "https://paste.example.com/x"}),
        ],
    )
    d = gate.check(plan)
    assert d.verdict == "deny"
    assert any(
        r.startswith("plan step 1 (http_get): data labelled confidential") for r in d.reasons
    )


async def test_async_path_tracks_labels() -> None:
    gate = FlowGate(audit=None)
    c = ctx("s-async")
    d = await gate.aauthorize(
        ToolCall(
            action="read_file",
            args={"path": "/srv/x"},
            context=c,
            tool={"classification": "restricted"},
        )
    )

    async def read(path: str) -> str:
        return "x"

    await gate.ainvoke(d, read)
    assert gate.flow.high_water("s-async") == "restricted"
    assert (await gate.acheck(post(c))).verdict == "deny"


def test_labels_shared_across_processes(tmp_path: Path) -> None:
    """A child agent in another process writes to the same flow file; the parent's gate sees
    the label (and so does a fresh process)."""
    import subprocess
    import sys

    db = tmp_path / "flow.db"
    code = (
        "import sys\n"
        "from kitelogik.flow import FlowTracker, Source\n"
        "FlowTracker(sys.argv[1]).observe('s1', ['restricted'], [Source('document', 'x.pdf')])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db)], check=True)
    gate = FlowGate(audit=None, flow=FlowTracker(db))
    d = gate.check(post(ctx()))
    assert d.verdict == "deny"
    assert d.input is not None
    assert d.input["flow"]["high_water"] == "restricted"
    assert d.input["flow"]["provenance"][0]["name"] == "x.pdf"
    gate.flow.clear("s1")
    assert gate.check(post(ctx())).allowed


def test_a_broken_flow_store_fails_closed(tmp_path: Path) -> None:
    flow = FlowTracker(tmp_path / "flow.db")
    gate = FlowGate(audit=None, flow=flow)
    d = gate.authorize(ToolCall(action="read_file", args={"path": "/srv/a"}, context=ctx()))
    flow.close()  # the store goes away between decision and outcome
    assert gate.invoke(d, lambda path: "ran") == "ran"  # settling never raises
    after = gate.check(post(ctx()))
    assert after.verdict == "deny"  # and nothing is allowed without the session's labels
    assert after.reasons[0].startswith("internal error")


def test_flowgate_documents_match_the_input_schema(tmp_path: Path) -> None:
    import json

    import jsonschema

    schema = json.loads(
        (Path(__file__).resolve().parents[3] / "policies" / "input.schema.json").read_text()
    )
    reg = AgentRegistry(tmp_path / "a.db")
    gate = FlowGate(audit=None, agents=reg)
    root = reg.register_root("root", "s1", SCOPES).context
    read_secret(gate, root)
    for c in (root, ctx(agent="stranger")):
        d = gate.check(post(c))
        assert d.input is not None
        jsonschema.validate(json.loads(json.dumps(d.input)), schema)
        assert "flow" in d.input
        assert "agent" in d.input


def test_writing_into_a_classified_store_does_not_raise_the_mark() -> None:
    gate = FlowGate(audit=None)
    c = ctx()
    d = gate.authorize(
        DataAccess(action="vault.write", classification="confidential", context=c, mode="write")
    )
    assert d.allowed, d.reasons
    gate.record_outcome(d, "ran")
    assert gate.flow.high_water("s1") is None
