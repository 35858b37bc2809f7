"""The supported openai-agents range is declared once, checked at import."""

from __future__ import annotations

import importlib

import pytest
from kitelogik import adapters


def test_the_range_comes_from_the_installed_metadata() -> None:
    requirement = adapters.requirement_for("kitelogik-openai-agents", "openai-agents")
    assert requirement is not None and requirement.startswith("openai-agents")
    installed = adapters.require("kitelogik-openai-agents", "openai-agents")
    assert adapters.satisfies(requirement, installed)


def test_an_unsupported_version_fails_at_import_with_the_fix(monkeypatch) -> None:
    import kitelogik_openai_agents._compat as compat

    real = adapters._version_of
    monkeypatch.setattr(
        adapters, "_version_of", lambda dist: "0.20.9" if dist == "openai-agents" else real(dist)
    )
    with pytest.raises(adapters.UnsupportedFramework) as caught:
        importlib.reload(compat)
    message = str(caught.value)
    assert "0.20.9 is installed" in message and "pip install 'openai-agents" in message
    monkeypatch.undo()
    importlib.reload(compat)
