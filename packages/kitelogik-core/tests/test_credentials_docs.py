"""The examples in docs/credentials.md run as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from kitelogik.anchor.credentials import CredentialBroker

DOC = Path(__file__).resolve().parents[3] / "docs" / "credentials.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_quick_start_example(kl_home: Path) -> None:
    exec(compile(blocks()[0], str(DOC), "exec"), {})
    assert (kl_home / "credential-keys.json").exists()


def test_verify_elsewhere_example(
    kl_home: Path, tmp_path: Path, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = CredentialBroker(store=postgres_dsn)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jwks.json").write_text(json.dumps(broker.jwks()))
    ns: dict = {"dsn": postgres_dsn}
    exec(compile(blocks()[1], str(DOC), "exec"), ns)
    t = broker.issue("s1", ["fs:read"])
    assert ns["verifier"].verify_for(t.token, "s1").token_id == t.token_id
    broker.revoke(t.token_id)
    strict = type(ns["verifier"])("jwks.json", store=broker.store, strict_revocation=True)
    with pytest.raises(PermissionError, match="revoked"):
        strict.verify_for(t.token, "s1")
    broker.close()
