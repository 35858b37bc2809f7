"""Packaging promises shared by every plugin (kitelogik.testing.packaging)."""

from __future__ import annotations

from pathlib import Path

from kitelogik.testing.packaging import PluginPackaging

HERE = Path(__file__).resolve().parent


class TestOpenAIAgentsPackaging(PluginPackaging):
    name = "openai-agents"
    distribution = "kitelogik-openai-agents"
    module = "kitelogik_openai_agents"
    frameworks = ("openai-agents",)
    pyproject = HERE.parent / "pyproject.toml"
