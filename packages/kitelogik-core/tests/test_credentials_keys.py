"""Keys: generated on first use with 0600, or supplied; rotation; JWKS; verification in another
process with only the public key; the CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kitelogik.anchor.credentials import CredentialBroker, KeyRing, TokenVerifier
from kitelogik.protocols import CredentialError
from typer.testing import CliRunner


def test_keys_are_generated_on_first_use_with_mode_0600(kl_home: Path) -> None:
    broker = CredentialBroker()
    key_file = kl_home / "credential-keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((kl_home / "credentials.db").stat().st_mode) == 0o600
    with sqlite3.connect(kl_home / "credentials.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    t = broker.issue("s1", ["fs:read"])
    broker.close()
    again = CredentialBroker()  # the same key is loaded, not regenerated
    assert again.verify_for(t.token, "s1").token_id == t.token_id
    again.close()


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    KeyRing.load_or_create(tmp_path / "k.json")
    os.chmod(tmp_path / "k.json", 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        KeyRing.load(tmp_path / "k.json")


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    rings: list[KeyRing] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        rings.append(KeyRing.load_or_create(tmp_path / "k.json"))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.signing_key.kid for r in rings}) == 1


@pytest.mark.parametrize("form", ["object", "pem", "seed"])
def test_supplied_private_key(tmp_path: Path, form: str) -> None:
    key = Ed25519PrivateKey.generate()
    supplied = {
        "object": key,
        "pem": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "seed": key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        ),
    }[form]
    broker = CredentialBroker(store=tmp_path / "c.db", keys=supplied)
    assert not (tmp_path / "credential-keys.json").exists()
    t = broker.issue("s1", ["fs:read"])
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = broker.jwks()["keys"][0]
    assert KeyRing.public_pem(pub) == KeyRing.public_pem(
        __import__("base64").urlsafe_b64decode(jwk["x"] + "=")
    )
    assert TokenVerifier(broker.jwks()).verify_for(t.token, "s1").scopes == ("fs:read",)
    broker.close()


def test_jwks_is_public_only_and_rotation_persists(tmp_path: Path) -> None:
    broker = CredentialBroker(home=tmp_path)
    doc = broker.jwks()
    assert set(doc["keys"][0]) == {"kty", "crv", "x", "kid", "alg", "use"}
    secret = json.loads((tmp_path / "credential-keys.json").read_text())["keys"][0]["d"]
    assert secret not in json.dumps(doc)
    old = broker.issue("s1", ["fs:read"])
    new_kid = broker.rotate_keys(grace_seconds=3600)
    reloaded = KeyRing.load(tmp_path / "credential-keys.json")
    assert reloaded.signing_key.kid == new_kid
    assert len(reloaded.verifying_keys()) == 2
    retiring = [k for k in broker.jwks()["keys"] if k["kid"] != new_kid]
    assert retiring[0]["kl_retire_at"] > 0
    # a verifier built from the JWKS honours the grace period
    assert TokenVerifier(broker.jwks()).verify(old.token).token_id == old.token_id
    broker.close()


def test_non_ed25519_keys_in_jwks_are_refused() -> None:
    with pytest.raises(ValueError, match="Ed25519"):
        TokenVerifier({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "x"}]})
    with pytest.raises(ValueError, match="Ed25519"):
        TokenVerifier({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "x"}]})


VERIFY_ELSEWHERE = r"""
import json, sys
from kitelogik.anchor.credentials import TokenVerifier
from kitelogik.protocols import CredentialError
verifier = TokenVerifier(sys.argv[1])
for line in sys.stdin:
    token, session = line.split()
    try:
        print(json.dumps({"ok": verifier.verify_for(token, session).to_input()}))
    except CredentialError as exc:
        print(json.dumps({"refused": str(exc)}))
"""


def test_verification_in_another_process_with_only_the_jwks(tmp_path: Path) -> None:
    broker = CredentialBroker(home=tmp_path / "broker")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(broker.jwks()))
    t = broker.issue("s1", ["fs:read"], agent_id="a1")
    child = broker.delegate(t.token_id, ["fs:read"], "s2")
    forged = t.token[:-2] + ("AA" if not t.token.endswith("AA") else "BB")
    lines = f"{t.token} s1\n{child.token} s2\n{t.token} s2\n{forged} s1\n"
    env = {k: v for k, v in os.environ.items() if k != "KITELOGIK_HOME"}
    out = subprocess.run(
        [sys.executable, "-c", VERIFY_ELSEWHERE, str(jwks)],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    )
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert rows[0]["ok"]["agent_id"] == "a1"
    assert rows[1]["ok"]["parent_id"] == t.token_id
    assert "session" in rows[2]["refused"]
    assert "signature" in rows[3]["refused"] or "malformed" in rows[3]["refused"]
    assert not (tmp_path / ".kitelogik").exists()  # the verifier wrote nothing
    broker.close()


def test_cli_token_commands(tmp_path: Path) -> None:
    from kitelogik.cli import app

    runner = CliRunner()
    home = ["--home", str(tmp_path)]

    def run(*args: str, code: int = 0) -> str:
        res = runner.invoke(app, ["token", *args, *home])
        assert res.exit_code == code, res.output
        return res.stdout

    token = run("issue", "-s", "s1", "--scope", "fs:read", "--scope", "db:read").strip()
    info = json.loads(run("inspect", token))
    assert info["valid"] is True
    root_id = info["claims"]["token_id"]
    assert info["claims"]["scopes"] == ["fs:read", "db:read"]
    res = runner.invoke(app, ["token", "delegate", root_id, "-s", "s2", "--scope", "admin", *home])
    assert res.exit_code == 1
    assert "'admin'" in res.output
    child = json.loads(run("delegate", token, "-s", "s2", "--scope", "db:read", "--json"))
    assert child["depth"] == 1
    assert json.loads(run("inspect", child["token"], "-s", "s1", code=1))["valid"] is False
    assert run("revoke", root_id).split() == [root_id, child["token_id"]]
    refused = json.loads(run("inspect", child["token"], code=1))
    assert "revoked" in refused["reason"]
    assert json.loads(run("inspect", child["token_id"], code=1))["record"]["active"] is False
    jwks = json.loads(run("jwks"))
    kid = run("rotate", "--grace", "60").strip()
    assert kid not in {k["kid"] for k in jwks["keys"]}
    run("jwks", "--out", str(tmp_path / "jwks.json"))
    assert {k["kid"] for k in json.loads((tmp_path / "jwks.json").read_text())["keys"]} == {
        jwks["keys"][0]["kid"],
        kid,
    }
    res = runner.invoke(app, ["token", "revoke", "nope", *home])
    assert res.exit_code == 1
    assert "unknown token id" in res.output
    res = runner.invoke(app, ["token", "issue", "-s", "s1", "--scope", "*", *home])
    assert res.exit_code == 1
    assert "wildcard" in res.output


def test_verifier_rejects_everything_without_keys() -> None:
    with pytest.raises(CredentialError, match="unknown signing key"):
        TokenVerifier().verify_for("eyJhbGciOiJFZERTQSIsImtpZCI6IngifQ.e30.AAAA", "s1")


@pytest.mark.parametrize("form", ["object", "pem", "raw"])
def test_verifier_from_only_the_public_key(tmp_path: Path, form: str) -> None:
    broker = CredentialBroker(home=tmp_path)
    pub = broker.keyring.signing_key.public
    supplied = {
        "object": pub,
        "pem": KeyRing.public_pem(pub).decode(),
        "raw": pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
    }[form]
    verifier = TokenVerifier.from_public_key(supplied, clock_skew_seconds=0)
    t = broker.issue("s1", ["fs:read"])
    assert verifier.verify_for(t.token, "s1").token_id == t.token_id
    with pytest.raises(CredentialError, match="session"):
        verifier.verify_for(t.token, "s2")
    # and not with somebody else's key
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(CredentialError, match="unknown signing key"):
        TokenVerifier.from_public_key(other).verify_for(t.token, "s1")
    with pytest.raises(CredentialError, match="signature"):
        TokenVerifier.from_public_key(other, kid=broker.keyring.signing_key.kid).verify_for(
            t.token, "s1"
        )
    broker.close()


def test_cli_on_postgres(tmp_path: Path, postgres_dsn: str) -> None:
    from kitelogik.cli import app

    runner = CliRunner()
    opts = ["--store", postgres_dsn, "--keys", str(tmp_path / "k.json")]
    res = runner.invoke(app, ["token", "issue", "-s", "s1", "--scope", "fs:read", "--json", *opts])
    assert res.exit_code == 0, res.output
    issued = json.loads(res.stdout)
    res = runner.invoke(app, ["token", "revoke", issued["token_id"], "--reason", "done", *opts])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["token", "inspect", issued["token_id"], *opts])
    assert res.exit_code == 1
    assert json.loads(res.stdout)["record"]["revoked_reason"] == "done"
