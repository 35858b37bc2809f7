"""Test support for Kite Logik and its plugins (install ``kitelogik-core[testing]``).

Never imported by ``kitelogik`` itself.

* :mod:`kitelogik.testing.conformance`: :class:`AdapterConformance`, the kit every
  ``kitelogik-<framework>`` plugin subclasses (needs pytest).
* :mod:`kitelogik.testing.scenarios`: the scenarios as data, and the kit's tools.
* :mod:`kitelogik.testing.fakes`: real in-memory ``AuditSink`` / ``Approver`` implementations,
  a side-effect log, a failing engine, and the kit policy (:data:`KIT_POLICY_DIR`).
* :mod:`kitelogik.testing.scripted`: a scripted model on the OpenAI wire.
* :mod:`kitelogik.testing.packaging`: :class:`PluginPackaging`, the packaging checks every plugin
  shares (range declared once and enforced at import, entry point, ``py.typed``).
* :mod:`kitelogik.testing.services`: real services (PostgreSQL) for tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
    from kitelogik.testing.fakes import (
        KIT_POLICY_DIR,
        FailingEngine,
        RecordingAudit,
        ScriptedApprover,
        SideEffectLog,
        kit_engine,
    )
    from kitelogik.testing.packaging import PluginPackaging
    from kitelogik.testing.scenarios import SCENARIOS, Call, Scenario, ToolSpec, Turn, make_tools
    from kitelogik.testing.scripted import ScriptedOpenAI

_LAZY = {
    "AdapterConformance": "kitelogik.testing.conformance",
    "Harness": "kitelogik.testing.conformance",
    "Transcript": "kitelogik.testing.conformance",
    "SCENARIOS": "kitelogik.testing.scenarios",
    "Call": "kitelogik.testing.scenarios",
    "Scenario": "kitelogik.testing.scenarios",
    "ToolSpec": "kitelogik.testing.scenarios",
    "Turn": "kitelogik.testing.scenarios",
    "make_tools": "kitelogik.testing.scenarios",
    "KIT_POLICY_DIR": "kitelogik.testing.fakes",
    "FailingEngine": "kitelogik.testing.fakes",
    "RecordingAudit": "kitelogik.testing.fakes",
    "ScriptedApprover": "kitelogik.testing.fakes",
    "SideEffectLog": "kitelogik.testing.fakes",
    "kit_engine": "kitelogik.testing.fakes",
    "ScriptedOpenAI": "kitelogik.testing.scripted",
    "PluginPackaging": "kitelogik.testing.packaging",
}

__all__ = [
    "KIT_POLICY_DIR",
    "SCENARIOS",
    "AdapterConformance",
    "Call",
    "FailingEngine",
    "Harness",
    "PluginPackaging",
    "RecordingAudit",
    "Scenario",
    "ScriptedApprover",
    "ScriptedOpenAI",
    "SideEffectLog",
    "ToolSpec",
    "Transcript",
    "Turn",
    "kit_engine",
    "make_tools",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kitelogik.testing' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
