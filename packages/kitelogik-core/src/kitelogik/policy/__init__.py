"""Policy authoring: the YAML policy format compiled to Rego, validation, tests, explanations,
formatting and OWASP Agentic Top 10 compliance probes (see ``docs/policies.md``)."""

from __future__ import annotations

from pathlib import Path

from kitelogik.policy.compiler import (
    GENERATED_MARKER,
    CompiledPolicy,
    compile_file,
    compile_source,
    compiled_path,
    is_policy_file,
)
from kitelogik.policy.yamlload import Loc, PolicyError

__all__ = [
    "GENERATED_MARKER",
    "SCHEMA_PATH",
    "CompiledPolicy",
    "Loc",
    "PolicyError",
    "compile_file",
    "compile_source",
    "compiled_path",
    "is_policy_file",
]

#: The JSON Schema of the YAML policy format (for editors: point yaml-language-server at it).
SCHEMA_PATH = Path(__file__).with_name("policy.schema.json")
