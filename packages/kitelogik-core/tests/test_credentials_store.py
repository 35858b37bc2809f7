"""The same store tests against SQLite and a real PostgreSQL server, and the broker on both."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kitelogik.anchor.credentials import (
    CredentialBroker,
    CredentialStore,
    DelegationError,
    SQLiteCredentialStore,
    TokenRecord,
    TokenVerifier,
)
from kitelogik.protocols import CredentialError

_tables = itertools.count()
NOW = 1_800_000_000


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """A factory of stores that share one database (as processes on many machines would)."""
    opened: list[CredentialStore] = []
    table = f"kl_credentials_t{next(_tables)}"
    if request.param == "sqlite":
        path = tmp_path / "creds.db"

        def make() -> CredentialStore:
            s = SQLiteCredentialStore(path, table=table)
            opened.append(s)
            return s
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        from kitelogik.anchor.credentials import PostgresCredentialStore

        def make() -> CredentialStore:
            s = PostgresCredentialStore(dsn, table=table)
            opened.append(s)
            return s

    yield make
    for s in opened:
        s.close()


def rec(
    jti: str,
    parent: TokenRecord | None = None,
    *,
    exp: int = NOW + 600,
    scopes: tuple[str, ...] = ("fs:read",),
) -> TokenRecord:
    chain = (*parent.chain, parent.jti) if parent else ()
    return TokenRecord(
        jti=jti,
        session_id="s1",
        scopes=scopes,
        issued_at=NOW,
        expires_at=exp,
        kid="k1",
        depth=len(chain),
        parent_id=parent.jti if parent else None,
        chain=chain,
        agent_id="a1",
        metadata={"purpose": "test", "n": 1},
    )


def test_store_round_trip(make_store) -> None:
    store = make_store()
    assert isinstance(store, CredentialStore)
    r = rec("t1")
    store.insert(r, now=NOW)
    assert store.get("t1") == r
    assert store.get("missing") is None
    with pytest.raises(Exception):
        store.insert(r, now=NOW)


def test_store_tree_revocation_cascades(make_store) -> None:
    store = make_store()
    root = rec("root")
    child = rec("child", root)
    grand = rec("grand", child)
    other = rec("other")
    for r in (root, child, grand, other):
        store.insert(r, now=NOW)
    assert store.children("root") == ["child"]
    assert store.revoke("child", cascade=True, reason="compromised", at=NOW + 1) == [
        "child",
        "grand",
    ]
    assert store.revoke("child", cascade=True, reason="again", at=NOW + 2) == []
    assert store.revoke("root", cascade=False, reason="", at=NOW + 3) == ["root"]
    got = store.get("grand")
    assert got is not None
    assert got.revoked_at == NOW + 1
    assert got.revoked_reason == "compromised"
    assert store.revoked(NOW) == {"root": False, "child": True, "grand": True}
    assert store.status(["root", "grand", "other", "nope"]) == {
        "root": (True, False),
        "grand": (True, True),
        "other": (False, False),
    }
    with pytest.raises(LookupError):
        store.revoke("nope", cascade=True, reason="", at=NOW)


def test_store_revoked_list_skips_expired_tokens_and_purge(make_store) -> None:
    store = make_store()
    store.insert(rec("old", exp=NOW + 10), now=NOW)
    store.insert(rec("new", exp=NOW + 1000), now=NOW)
    store.revoke("old", cascade=True, reason="", at=NOW)
    store.revoke("new", cascade=True, reason="", at=NOW)
    assert store.revoked(NOW + 11) == {"new": True}
    assert store.purge(NOW + 11) == 1
    assert store.get("old") is None


def test_store_insert_child_rechecks_the_parent(make_store) -> None:
    store = make_store()
    parent = rec("p", exp=NOW + 100)
    store.insert(parent, now=NOW)
    with pytest.raises(DelegationError, match="unknown"):
        store.insert(rec("c0", rec("ghost")), now=NOW)
    with pytest.raises(DelegationError, match="expired"):
        store.insert(rec("c1", parent), now=NOW + 100)
    store.revoke("p", cascade=True, reason="", at=NOW)
    with pytest.raises(DelegationError, match="revoked"):
        store.insert(rec("c2", parent), now=NOW)
    assert store.children("p") == []


def test_store_shared_between_instances(make_store) -> None:
    a, b = make_store(), make_store()
    a.insert(rec("t"), now=NOW)
    assert b.get("t") is not None
    b.revoke("t", cascade=True, reason="", at=NOW)
    assert a.status(["t"]) == {"t": (True, True)}


def test_store_concurrent_delegate_and_revoke(make_store) -> None:
    """Children inserted while their root is being revoked: each ends up either refused at
    insert or revoked (through the store cascade or, at worst, the ancestor chain)."""
    store = make_store()
    root = rec("root", exp=NOW + 10_000)
    store.insert(root, now=NOW)
    inserted: list[TokenRecord] = []
    start = threading.Barrier(5)

    def spawn(n: int) -> None:
        start.wait()
        for i in range(20):
            r = rec(f"c{n}-{i}", root)
            try:
                store.insert(r, now=NOW)
            except DelegationError:
                continue
            inserted.append(r)

    threads = [threading.Thread(target=spawn, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    start.wait()
    store.revoke("root", cascade=True, reason="", at=NOW)
    for t in threads:
        t.join()
    revoked = store.revoked(NOW)
    assert revoked["root"] is True
    for r in inserted:
        assert r.jti in revoked or any(revoked.get(a) for a in r.chain)


# ------------------------------------------------------------------ the broker on both stores


def test_broker_on_both_stores_with_a_verifier_elsewhere(make_store, tmp_path: Path) -> None:
    clock = Clock()
    broker = CredentialBroker(
        store=make_store(),
        keys=tmp_path / "keys.json",
        clock=clock,
        revocation_staleness_seconds=5.0,
    )
    root = broker.issue(
        "s1", ["fs:read", "db:read"], 600, agent_id="planner", metadata={"ticket": "T-1"}
    )
    child = broker.delegate(root.token_id, ["db:read"], "s2", agent_id="worker")
    grand = broker.delegate(child.token, ["db:read"], "s3")
    # a verifier with only the public JWKS and its own connection to the shared store
    remote = TokenVerifier(
        broker.jwks(), store=make_store(), clock=clock, revocation_staleness_seconds=5.0
    )
    strict = TokenVerifier(broker.jwks(), store=make_store(), clock=clock, strict_revocation=True)
    cred = remote.verify_for(grand.token, "s3")
    assert cred.scopes == ("db:read",)
    assert cred.depth == 2
    assert cred.parent_id == child.token_id
    assert strict.verify_for(child.token, "s2").agent_id == "worker"
    info = broker.introspect(root.token_id)
    assert info["active"] is True
    assert info["metadata"] == {"ticket": "T-1"}
    assert info["children"] == [child.token_id]
    broker.revoke(root.token_id, reason="session ended")
    with pytest.raises(CredentialError, match="revoked"):
        strict.verify_for(grand.token, "s3")
    remote.verify_for(grand.token, "s3")  # inside the documented staleness bound
    clock.now += 5.0
    with pytest.raises(CredentialError, match="revoked"):
        remote.verify_for(grand.token, "s3")
    assert broker.introspect(grand.token_id)["revoked_reason"] == "session ended"
    with pytest.raises(DelegationError, match="revoked"):
        broker.delegate(child.token_id, ["db:read"], "s4")
    keep = broker.issue("s1", ["fs:read"], 86_400)
    clock.now += 600 + 3600
    assert broker.purge_expired(older_than_seconds=3000) == 3
    assert broker.introspect(root.token_id)["reason"] == "unknown token"
    assert broker.introspect(keep.token_id)["active"] is True
    broker.close()


async def test_async_verification_on_both_stores(make_store, tmp_path: Path) -> None:
    broker = CredentialBroker(
        store=make_store(), keys=tmp_path / "keys.json", strict_revocation=True
    )
    t = broker.issue("s1", ["fs:read"])
    cred = await broker.averify_for(t.token, "s1")
    assert cred.token_id == t.token_id
    broker.revoke(t.token_id)
    with pytest.raises(CredentialError, match="revoked"):
        await broker.averify_for(t.token, "s1")
    with pytest.raises(CredentialError, match="session"):
        await broker.averify_for(broker.issue("s9", []).token, "s1")
    broker.close()


async def test_async_refresh_of_the_revocation_list(make_store, tmp_path: Path) -> None:
    clock = Clock()
    broker = CredentialBroker(store=make_store(), keys=tmp_path / "keys.json", clock=clock)
    verifier = TokenVerifier(
        broker.jwks(), store=make_store(), clock=clock, revocation_staleness_seconds=1.0
    )
    t = broker.issue("s1", ["fs:read"])
    assert (await verifier.averify_for(t.token, "s1")).token_id == t.token_id
    broker.revoke(t.token_id)
    await verifier.averify_for(t.token, "s1")  # within the bound: not yet seen here
    clock.now += 1.0
    with pytest.raises(CredentialError, match="revoked"):
        await verifier.averify_for(t.token, "s1")
    broker.close()
