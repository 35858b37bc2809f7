"""The supported OpenAI Agents SDK range is declared once, in this plugin's pyproject.toml; this
checks the installed version against it at import, with the fix in the message."""

from __future__ import annotations

from kitelogik.adapters import require

AGENTS_VERSION = require("kitelogik-openai-agents", "openai-agents")
