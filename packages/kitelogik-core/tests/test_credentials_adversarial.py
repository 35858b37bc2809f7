"""Attacks on session credentials. Each test is an attack an agent (or whoever holds its token)
could try; every one must end in a refusal with a precise reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import threading
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kitelogik.anchor.credentials import (
    CredentialBroker,
    DelegationError,
    KeyRing,
    SQLiteCredentialStore,
    TokenVerifier,
)
from kitelogik.protocols import CredentialError, CredentialVerifier


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def broker(tmp_path: Path, clock: Clock) -> CredentialBroker:
    b = CredentialBroker(
        store=SQLiteCredentialStore(tmp_path / "creds.db"),
        keys=tmp_path / "keys.json",
        clock=clock,
    )
    yield b
    b.close()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict, dict, str]:
    h, p, s = token.split(".")
    return json.loads(unb64(h)), json.loads(unb64(p)), s


def assemble(header: dict, payload: dict, sig: str) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.{sig}"


def reason(broker: CredentialVerifier, token: str | None, session: str = "s1") -> str:
    with pytest.raises(CredentialError) as info:
        broker.verify_for(token, session)
    return str(info.value)


# ------------------------------------------------------------------ scope escalation


def test_delegation_superset_is_refused_naming_the_extra_scopes(broker: CredentialBroker) -> None:
    parent = broker.issue("s1", ["fs:read", "db:read"], ttl_seconds=600)
    with pytest.raises(DelegationError) as info:
        broker.delegate(parent.token_id, ["fs:read", "fs:write", "admin"], "s2")
    msg = str(info.value)
    assert "'admin'" in msg
    assert "'fs:write'" in msg
    assert "'fs:read'" not in msg.split("exceed", 1)[1]
    assert broker.introspect(parent.token_id)["children"] == []


@pytest.mark.parametrize(
    "trick",
    [
        "FS:READ",
        "Fs:read",
        "fs:Read",
        "fs:read ",
        " fs:read",
        "fs:read\n",
        "\uff46\uff53:read",
        "fs:rea\u0501",
    ],
)
def test_delegation_case_and_lookalike_tricks_are_refused(
    broker: CredentialBroker, trick: str
) -> None:
    parent = broker.issue("s1", ["fs:read"])
    with pytest.raises(DelegationError):
        broker.delegate(parent.token_id, [trick], "s2")


@pytest.mark.parametrize(
    "bad", [["*"], ["fs:*"], ["fs:read*"], ["%"], ["fs:read", "?"], ["[a-z]*"], ["fs:read|admin"]]
)
def test_wildcard_scopes_are_refused_at_issue_and_delegation(
    broker: CredentialBroker, bad: list[str]
) -> None:
    with pytest.raises(ValueError, match=r"wildcard|characters"):
        broker.issue("s1", bad)
    parent = broker.issue("s1", ["fs:read"])
    with pytest.raises(DelegationError):
        broker.delegate(parent.token_id, bad, "s2")


def test_a_wildcard_in_a_parent_grants_nothing_by_pattern(broker: CredentialBroker) -> None:
    # Even a token whose scopes look like a pattern cannot be minted.
    with pytest.raises(ValueError):
        broker.issue("s1", ["fs:*"])


@pytest.mark.parametrize(
    "bad", [[""], ["fs:read", ""], ["fs:read", "fs:read"], "fs:read", [None], [1], ["a" * 200]]
)
def test_empty_duplicate_and_malformed_scopes_are_refused(
    broker: CredentialBroker, bad: object
) -> None:
    parent = broker.issue("s1", ["fs:read"])
    with pytest.raises(DelegationError):
        broker.delegate(parent.token_id, bad, "s2")  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError)):
        broker.issue("s1", bad)  # type: ignore[arg-type]


def test_grandchild_cannot_regain_a_scope_its_parent_dropped(broker: CredentialBroker) -> None:
    root = broker.issue("s1", ["fs:read", "db:read"])
    child = broker.delegate(root.token_id, ["fs:read"], "s2")
    with pytest.raises(DelegationError, match="'db:read'"):
        broker.delegate(child.token_id, ["fs:read", "db:read"], "s3")
    # delegating by the token string goes through verification and the same subset rule
    with pytest.raises(DelegationError, match="'db:read'"):
        broker.delegate(child.token, ["db:read"], "s3")


def test_delegation_depth_limit(broker: CredentialBroker) -> None:
    t = broker.issue("s1", ["fs:read"])
    t = broker.delegate(t.token_id, ["fs:read"], "s1")
    t = broker.delegate(t.token_id, ["fs:read"], "s1")
    assert t.depth == 2
    with pytest.raises(DelegationError, match="depth"):
        broker.delegate(t.token_id, ["fs:read"], "s1")


def test_depth_claim_cannot_be_lowered_without_the_key(broker: CredentialBroker) -> None:
    root = broker.issue("s1", ["fs:read"])
    child = broker.delegate(root.token_id, ["fs:read"], "s1")
    h, p, s = parts(child.token)
    p["dep"], p["chn"], p["par"] = 0, [], None
    assert "signature" in reason(broker, assemble(h, p, s))


# ------------------------------------------------------------------ replay


def test_replay_after_revoke_is_refused_even_from_the_cache(broker: CredentialBroker) -> None:
    t = broker.issue("s1", ["fs:read"])
    assert broker.verify_for(t.token, "s1").token_id == t.token_id  # now cached
    broker.revoke(t.token_id)
    assert "revoked" in reason(broker, t.token)
    assert "revoked" in reason(broker, t.token)


def test_replay_after_expiry_is_refused_even_from_the_cache(
    broker: CredentialBroker, clock: Clock
) -> None:
    t = broker.issue("s1", ["fs:read"], ttl_seconds=60)
    broker.verify_for(t.token, "s1")
    clock.now += 60 + broker.clock_skew_seconds - 1
    broker.verify_for(t.token, "s1")  # inside the documented skew tolerance
    clock.now += 1
    assert "expired" in reason(broker, t.token)


def test_token_issued_in_the_future_is_refused(tmp_path: Path, clock: Clock) -> None:
    keys = tmp_path / "keys.json"
    future = CredentialBroker(
        store=SQLiteCredentialStore(tmp_path / "a.db"), keys=keys, clock=Clock(clock.now + 3600)
    )
    t = future.issue("s1", ["fs:read"])
    present = CredentialBroker(
        store=SQLiteCredentialStore(tmp_path / "b.db"), keys=keys, clock=clock
    )
    assert "future" in reason(present, t.token)


# ------------------------------------------------------------------ forgery


def test_forged_signature_is_refused(broker: CredentialBroker) -> None:
    t = broker.issue("s1", ["fs:read"])
    h, p, s = parts(t.token)
    p["scp"] = ["fs:read", "admin"]
    assert "signature" in reason(broker, assemble(h, p, s))
    # flipping one signature byte
    sig = bytearray(unb64(s))
    sig[0] ^= 1
    assert "signature" in reason(broker, assemble(*parts(t.token)[:2], b64(bytes(sig))))


def test_token_signed_by_another_key_with_the_real_kid_is_refused(
    broker: CredentialBroker,
) -> None:
    t = broker.issue("s1", ["fs:read"])
    h, p, _ = parts(t.token)
    attacker = Ed25519PrivateKey.generate()
    pub = attacker.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    p["scp"] = ["admin"]
    forged = jwt.encode(p, attacker, algorithm="EdDSA", headers={"kid": h["kid"]})
    assert "signature" in reason(broker, forged)
    # embedding the attacker's key in the header changes nothing (and is itself refused)
    forged = jwt.encode(
        p,
        attacker,
        algorithm="EdDSA",
        headers={"kid": h["kid"], "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(pub)}},
    )
    assert "header" in reason(broker, forged)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(broker: CredentialBroker, alg: str) -> None:
    t = broker.issue("s1", ["fs:read"])
    h, p, _ = parts(t.token)
    h["alg"] = alg
    for sig in ("", parts(t.token)[2]):
        msg = reason(broker, assemble(h, p, sig))
        assert "alg" in msg
        assert "EdDSA" in msg


def test_algorithm_confusion_hs256_with_the_public_key_as_secret(
    broker: CredentialBroker,
) -> None:
    t = broker.issue("s1", ["fs:read"])
    h, p, _ = parts(t.token)
    p["scp"] = ["admin"]
    jwk = broker.jwks()["keys"][0]
    raw = unb64(jwk["x"])
    pem = KeyRing.public_pem(raw)
    for secret in (raw, pem, jwk["x"].encode(), json.dumps(jwk).encode()):
        for alg, digest in (("HS256", hashlib.sha256), ("HS512", hashlib.sha512)):
            hh = {**h, "alg": alg}
            signing_input = f"{b64(json.dumps(hh).encode())}.{b64(json.dumps(p).encode())}"
            sig = hmac.new(secret, signing_input.encode(), digest).digest()
            msg = reason(broker, f"{signing_input}.{b64(sig)}")
            assert f"'{alg}'" in msg
            assert "EdDSA" in msg


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256", "Ed25519", "eddsa", ""])
def test_other_algorithms_are_refused(broker: CredentialBroker, alg: str) -> None:
    t = broker.issue("s1", ["fs:read"])
    h, p, s = parts(t.token)
    assert "EdDSA" in reason(broker, assemble({**h, "alg": alg}, p, s))


@pytest.mark.parametrize("token", [None, ""])
def test_missing_token(broker: CredentialBroker, token: str | None) -> None:
    assert "missing" in reason(broker, token)


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "a.b",
        "a.b.c.d",
        "....",
        "e30.e30.",
        "!!.!!.!!",
        "eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.AAAA",
        "a" * 20000,
    ],
)
def test_malformed_tokens(broker: CredentialBroker, token: str) -> None:
    assert "malformed" in reason(broker, token)


def test_non_string_token_is_malformed(broker: CredentialBroker) -> None:
    assert "malformed" in reason(broker, 12345)  # type: ignore[arg-type]


def test_unknown_kid_is_refused(broker: CredentialBroker) -> None:
    t = broker.issue("s1", ["fs:read"])
    h, p, s = parts(t.token)
    assert "unknown signing key" in reason(broker, assemble({**h, "kid": "nope"}, p, s))
    h.pop("kid")
    assert "kid" in reason(broker, assemble(h, p, s))


def test_wrong_issuer_is_refused(tmp_path: Path, clock: Clock) -> None:
    keys = tmp_path / "keys.json"
    other = CredentialBroker(
        store=SQLiteCredentialStore(tmp_path / "a.db"),
        keys=keys,
        clock=clock,
        issuer="someone-else",
    )
    mine = CredentialBroker(store=SQLiteCredentialStore(tmp_path / "b.db"), keys=keys, clock=clock)
    assert "issuer" in reason(mine, other.issue("s1", ["fs:read"]).token)


# ------------------------------------------------------------------ session binding


def test_token_for_another_session_is_refused(broker: CredentialBroker) -> None:
    t = broker.issue("s1", ["fs:read"])
    broker.verify_for(t.token, "s1")  # cached for s1
    msg = reason(broker, t.token, "s2")
    assert "session" in msg
    assert "'s1'" in msg
    assert "'s2'" in msg


# ------------------------------------------------------------------ lifetime and revocation


def test_child_never_outlives_its_parent(broker: CredentialBroker, clock: Clock) -> None:
    parent = broker.issue("s1", ["fs:read"], ttl_seconds=100)
    child = broker.delegate(parent.token_id, ["fs:read"], "s2", ttl_seconds=10_000)
    assert child.expires_at <= parent.expires_at
    clock.now += 100 + broker.clock_skew_seconds
    assert "expired" in reason(broker, child.token, "s2")
    with pytest.raises(DelegationError, match="expired"):
        broker.delegate(parent.token_id, ["fs:read"], "s3")


def test_revoked_parent_cannot_delegate(broker: CredentialBroker) -> None:
    parent = broker.issue("s1", ["fs:read"])
    broker.revoke(parent.token_id)
    with pytest.raises(DelegationError, match="revoked"):
        broker.delegate(parent.token_id, ["fs:read"], "s2")
    with pytest.raises(DelegationError, match="revoked"):
        broker.delegate(parent.token, ["fs:read"], "s2")


def test_revoking_a_root_reaches_grandchildren(broker: CredentialBroker) -> None:
    root = broker.issue("s1", ["fs:read", "db:read"])
    child = broker.delegate(root.token_id, ["fs:read", "db:read"], "s2")
    grand = broker.delegate(child.token_id, ["fs:read"], "s3")
    sibling = broker.issue("s1", ["fs:read"])
    for t, s in ((root, "s1"), (child, "s2"), (grand, "s3")):
        broker.verify_for(t.token, s)
    revoked = broker.revoke(root.token_id)
    assert set(revoked) == {root.token_id, child.token_id, grand.token_id}
    for t, s in ((root, "s1"), (child, "s2"), (grand, "s3")):
        assert "revoked" in reason(broker, t.token, s)
    broker.verify_for(sibling.token, "s1")
    assert broker.introspect(grand.token_id)["active"] is False


def test_revocation_reaches_a_grandchild_the_store_cascade_missed(
    broker: CredentialBroker,
) -> None:
    # A grandchild delegated while its ancestor's revocation was in flight (so the store's
    # cascade did not list it) is still refused: verification checks every ancestor's id.
    root = broker.issue("s1", ["fs:read"])
    child = broker.delegate(root.token_id, ["fs:read"], "s1")
    grand = broker.delegate(child.token_id, ["fs:read"], "s1")
    broker.revoke(root.token_id, cascade=True)
    with sqlite3.connect(broker.store.path) as conn:  # simulate the row the cascade missed
        conn.execute("UPDATE kl_credentials SET revoked_at = NULL WHERE jti = ?", (grand.token_id,))
    assert broker.store.get(grand.token_id).revoked_at is None
    fresh = TokenVerifier(broker.jwks(), store=broker.store, clock=broker.clock)
    assert "revoked" in reason(fresh, grand.token)
    strict = TokenVerifier(
        broker.jwks(), store=broker.store, clock=broker.clock, strict_revocation=True
    )
    assert "revoked" in reason(strict, grand.token)


def test_non_cascading_revoke_leaves_children(broker: CredentialBroker) -> None:
    root = broker.issue("s1", ["fs:read"])
    child = broker.delegate(root.token_id, ["fs:read"], "s2")
    assert broker.revoke(root.token_id, cascade=False) == [root.token_id]
    assert "revoked" in reason(broker, root.token)
    assert broker.verify_for(child.token, "s2").parent_id == root.token_id


def test_concurrent_revoke_and_use(broker: CredentialBroker) -> None:
    root = broker.issue("s1", ["fs:read"])
    child = broker.delegate(root.token_id, ["fs:read"], "s1")
    tokens = [root.token, child.token]
    revoked = threading.Event()
    stop = threading.Event()
    late_allows: list[str] = []
    wrong_reasons: list[str] = []
    counts = {"ok": 0, "denied": 0}
    lock = threading.Lock()

    def use() -> None:
        i = 0
        while not stop.is_set():
            after = revoked.is_set()
            tok = tokens[i % 2]
            i += 1
            try:
                broker.verify_for(tok, "s1")
            except CredentialError as exc:
                if "revoked" not in str(exc):
                    wrong_reasons.append(str(exc))
                with lock:
                    counts["denied"] += 1
            else:
                with lock:
                    counts["ok"] += 1
                if after:
                    late_allows.append(tok)

    threads = [threading.Thread(target=use) for _ in range(6)]
    for t in threads:
        t.start()
    while True:
        with lock:
            if counts["ok"] > 200:
                break
    broker.revoke(root.token_id)
    revoked.set()
    while True:
        with lock:
            if counts["denied"] > 200:
                break
    stop.set()
    for t in threads:
        t.join()
    assert late_allows == []
    assert wrong_reasons == []


def test_revocation_in_another_broker_is_seen_within_the_staleness_bound(
    tmp_path: Path, clock: Clock
) -> None:
    db, keys = tmp_path / "shared.db", tmp_path / "keys.json"
    a = CredentialBroker(
        store=SQLiteCredentialStore(db), keys=keys, clock=clock, revocation_staleness_seconds=2.0
    )
    b = CredentialBroker(
        store=SQLiteCredentialStore(db), keys=keys, clock=clock, revocation_staleness_seconds=2.0
    )
    strict = CredentialBroker(
        store=SQLiteCredentialStore(db), keys=keys, clock=clock, strict_revocation=True
    )
    t = a.issue("s1", ["fs:read"])
    b.verify_for(t.token, "s1")
    strict.verify_for(t.token, "s1")
    a.revoke(t.token_id)
    assert "revoked" in reason(strict, t.token)  # strict: checked in the store every time
    clock.now += 2.0
    assert "revoked" in reason(b, t.token)  # the bound has passed: b refreshed


def test_strict_verifier_refuses_a_validly_signed_token_missing_from_its_store(
    tmp_path: Path, clock: Clock
) -> None:
    keys = tmp_path / "keys.json"
    a = CredentialBroker(store=SQLiteCredentialStore(tmp_path / "a.db"), keys=keys, clock=clock)
    b = CredentialBroker(
        store=SQLiteCredentialStore(tmp_path / "b.db"),
        keys=keys,
        clock=clock,
        strict_revocation=True,
    )
    assert "not known" in reason(b, a.issue("s1", ["fs:read"]).token)


def test_broken_store_fails_closed(tmp_path: Path, clock: Clock) -> None:
    store = SQLiteCredentialStore(tmp_path / "c.db")
    b = CredentialBroker(
        store=store, keys=tmp_path / "keys.json", clock=clock, strict_revocation=True
    )
    t = b.issue("s1", ["fs:read"])
    store.close()
    (tmp_path / "c.db").unlink()
    (tmp_path / "c.db").mkdir()  # the path is no longer a database
    assert "revocation" in reason(b, t.token)


# ------------------------------------------------------------------ key rotation


def test_token_signed_by_a_rotated_out_key_after_the_grace_period(
    broker: CredentialBroker, clock: Clock
) -> None:
    old = broker.issue("s1", ["fs:read"], ttl_seconds=86_000)
    old_kid = parts(old.token)[0]["kid"]
    broker.verify_for(old.token, "s1")
    new_kid = broker.rotate_keys(grace_seconds=300)
    assert new_kid != old_kid
    new = broker.issue("s1", ["fs:read"], ttl_seconds=86_000)
    assert parts(new.token)[0]["kid"] == new_kid
    clock.now += 299
    broker.verify_for(old.token, "s1")  # inside the grace period
    assert {k["kid"] for k in broker.jwks()["keys"]} == {old_kid, new_kid}
    clock.now += 1
    msg = reason(broker, old.token)  # cached, still refused
    assert "retired" in msg
    assert old_kid in msg
    assert {k["kid"] for k in broker.jwks()["keys"]} == {new_kid}
    broker.verify_for(new.token, "s1")
    # a verifier in another place built from the old JWKS document does not know the new key,
    # and one built from the new document does not accept the old key
    fresh = TokenVerifier(broker.jwks(), clock=clock)
    assert "unknown signing key" in reason(fresh, old.token)


@pytest.mark.parametrize("metadata", [{"x": object()}, {"x": float("nan")}, {"x": "a" * 20000}])
def test_bad_metadata_is_refused_before_anything_is_signed(
    broker: CredentialBroker, metadata: dict
) -> None:
    with pytest.raises(ValueError, match="metadata"):
        broker.issue("s1", ["fs:read"], metadata=metadata)
    parent = broker.issue("s1", ["fs:read"])
    with pytest.raises(DelegationError, match="metadata"):
        broker.delegate(parent.token_id, ["fs:read"], "s2", metadata=metadata)
    assert broker.introspect(parent.token_id)["children"] == []


@pytest.mark.parametrize("session", ["", None, "x" * 300, "a\x00b"])
def test_bad_session_ids_are_refused(broker: CredentialBroker, session: object) -> None:
    with pytest.raises(ValueError, match="session_id"):
        broker.issue(session, ["fs:read"])  # type: ignore[arg-type]
