"""Packaging promises shared by every plugin (kitelogik.testing.packaging)."""

from __future__ import annotations

from pathlib import Path

from kitelogik.testing.packaging import PluginPackaging

HERE = Path(__file__).resolve().parent


class TestPydanticAIPackaging(PluginPackaging):
    name = "pydantic-ai"
    distribution = "kitelogik-pydantic-ai"
    module = "kitelogik_pydantic_ai"
    frameworks = ("pydantic-ai-slim",)
    pyproject = HERE.parent / "pyproject.toml"
