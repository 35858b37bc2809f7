"""The supported CrewAI range is declared once, in this plugin's pyproject.toml; this checks the
installed version against it at import, with the fix in the message."""

from __future__ import annotations

from kitelogik.adapters import require

CREWAI_VERSION = require("kitelogik-crewai", "crewai")
