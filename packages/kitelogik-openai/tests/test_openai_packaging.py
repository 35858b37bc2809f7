"""Packaging promises shared by every plugin (kitelogik.testing.packaging), and the example."""

from __future__ import annotations

from pathlib import Path

from kitelogik.testing.packaging import PluginPackaging, run_example

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parents[2] / "examples" / "openai" / "agent.py"


class TestOpenaiPackaging(PluginPackaging):
    name = "openai"
    distribution = "kitelogik-openai"
    module = "kitelogik_openai"
    frameworks = ("openai",)
    pyproject = HERE.parent / "pyproject.toml"


def test_example_runs_offline(tmp_path: Path) -> None:
    out = run_example(EXAMPLE, tmp_path)
    assert "[kitelogik] DENIED read_file: path '/etc/passwd' is under the protected location" in out
    assert "reviewer sees refund" in out
    assert out.count(">> refund of 25.00 for A-1001 executed") == 1
    assert "has been refunded" in out
    assert (tmp_path / "home" / "audit.db").is_file()
