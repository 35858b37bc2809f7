"""The supported pydantic-ai-slim range is declared once, checked at import."""

from __future__ import annotations

import importlib

import pytest
from kitelogik import adapters


def test_the_range_comes_from_the_installed_metadata() -> None:
    requirement = adapters.requirement_for("kitelogik-pydantic-ai", "pydantic-ai-slim")
    assert requirement is not None and requirement.startswith("pydantic-ai-slim")
    installed = adapters.require("kitelogik-pydantic-ai", "pydantic-ai-slim")
    assert adapters.satisfies(requirement, installed)


def test_an_unsupported_version_fails_at_import_with_the_fix(monkeypatch) -> None:
    import kitelogik_pydantic_ai._compat as compat

    real = adapters._version_of
    monkeypatch.setattr(
        adapters, "_version_of", lambda dist: "2.16.0" if dist == "pydantic-ai-slim" else real(dist)
    )
    with pytest.raises(adapters.UnsupportedFramework) as caught:
        importlib.reload(compat)
    message = str(caught.value)
    assert "2.16.0 is installed" in message and "pip install 'pydantic-ai-slim" in message
    monkeypatch.undo()
    importlib.reload(compat)
