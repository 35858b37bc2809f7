"""Packaging: range declared once and enforced at import, entry point, py.typed; the Dify plugin
package (manifest, provider and strategy YAML, icon) loads through the SDK's own registration;
importing kitelogik_dify (and `kitelogik doctor`) never gevent-patches a process; the example."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kitelogik.testing.packaging import PluginPackaging

HERE = Path(__file__).resolve().parent
DIFYPKG = HERE.parent / "difypkg"
EXAMPLES = sorted((HERE.parents[2] / "examples" / "dify").glob("*.py"))


class TestDifyPackaging(PluginPackaging):
    name = "dify"
    distribution = "kitelogik-dify"
    module = "kitelogik_dify"
    frameworks = ("dify-plugin",)
    pyproject = HERE.parent / "pyproject.toml"


def _python(code: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, **kw
    )


def test_import_and_doctor_never_patch_the_process() -> None:
    """`import kitelogik_dify`, the conformance kit and plugin discovery (what `kitelogik doctor`
    does in any environment) leave dify_plugin and gevent unimported."""
    code = (
        "import sys, kitelogik, kitelogik.testing.conformance, kitelogik_dify\n"
        "from kitelogik import adapters\n"
        "found = {p.name: p for p in adapters.installed_plugins()}\n"
        "assert found['dify'].supported, found['dify']\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dify_plugin', 'gevent'))\n"
        "assert not bad, bad\n"
        "print('clean')\n"
    )
    done = _python(code)
    assert done.returncode == 0 and "clean" in done.stdout, done.stderr[-2000:]


def test_dify_plugin_package_loads_through_the_sdk() -> None:
    """The manifest, provider YAML, strategy YAML and icon, as the plugin daemon's runtime reads
    them (dify_plugin's PluginRegistration, run from the package directory)."""
    code = (
        "from dify_plugin import DifyPluginEnv\n"
        "from dify_plugin.core.plugin_registration import PluginRegistration\n"
        "from kitelogik_dify import GovernedFunctionCalling\n"
        "r = PluginRegistration(DifyPluginEnv())\n"
        "assert r.configuration.name == 'kitelogik_governed_agent'\n"
        "assert r.configuration.plugins.agent_strategies == ['provider/kitelogik.yaml']\n"
        "cls = r.get_agent_strategy_cls('kitelogik', 'governed_function_calling')\n"
        "assert cls is GovernedFunctionCalling, cls\n"
        "provider, strategies = r.agent_strategies_mapping['kitelogik']\n"
        "names = [p.name for p in strategies['governed_function_calling'][0].parameters]\n"
        "assert names[:5] == ['model', 'tools', 'instruction', 'query', 'maximum_iterations']\n"
        "assert [f.filename for f in r.files] == ['icon.svg']\n"
        "print('loaded')\n"
    )
    done = _python(code, cwd=DIFYPKG)
    assert done.returncode == 0 and "loaded" in done.stdout, done.stderr[-3000:]
    assert (DIFYPKG / "requirements.txt").read_text().count("kitelogik-dify") == 1


def test_example_runs_offline(tmp_path: Path) -> None:
    assert EXAMPLES
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["KITELOGIK_HOME"] = str(tmp_path)
    for path in EXAMPLES:
        done = subprocess.run(
            [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        assert "run log: read_file -> deny" in done.stdout
        assert "[kitelogik] DENIED read_file" in done.stdout
        assert "emails sent: ['ada@example.com']" in done.stdout
