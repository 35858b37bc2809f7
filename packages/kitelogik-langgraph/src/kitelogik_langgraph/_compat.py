"""The supported LangGraph range is declared once, in this plugin's pyproject.toml; this checks
the installed versions against it at import, with the fix in the message."""

from __future__ import annotations

from kitelogik.adapters import require

LANGGRAPH_VERSION = require("kitelogik-langgraph", "langgraph")
PREBUILT_VERSION = require("kitelogik-langgraph", "langgraph-prebuilt")
