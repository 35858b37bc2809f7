"""Every Python example in docs/approvals.md runs, in order, in a fresh directory."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "approvals.md"


def blocks() -> list[str]:
    found = re.findall(r"^( *)```python\n(.*?)^\1```", DOC.read_text(), flags=re.S | re.M)
    return [textwrap.dedent(body) for _, body in found]


def test_the_docs_have_examples():
    assert len(blocks()) >= 3


def test_approvals_doc_examples_run(tmp_path, monkeypatch, kl_home, capsys):
    monkeypatch.chdir(tmp_path)
    for i, code in enumerate(blocks()):
        try:
            exec(compile(code, f"{DOC.name}[python block {i}]", "exec"), {"__name__": "__doc__"})
        except Exception as exc:  # name the block that failed
            pytest.fail(f"python block {i} of {DOC.name} failed: {exc!r}")
    out = capsys.readouterr().out
    assert "refunded 180.0 to c-1042" in out
    assert (tmp_path / "approvals.db").exists()
