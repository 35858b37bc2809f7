"""The embedded Rego engine (regorus), the zero-setup default.

Two evaluation modes, one engine object per thread in both (regorus objects are bound to the
thread that made them; using one from another thread raises a pyo3 ``PanicException``, which is
not an ``Exception``):

* ``strict=False`` (default): the compiled regorus VM (RVM), the fastest path measured (about
  5x faster than the interpreter on the 60-rule benchmark policy). Like OPA's default mode it
  turns a builtin error into *undefined*: a deny rule that needs a builtin to succeed then does
  not fire, so ``deny if net.cidr_contains(cidr, input.ip)`` is dodged by a malformed ``ip``.
  Policies must guard builtin arguments (``is_string``, ``regex.match`` before parsing...); the
  shipped policies and the YAML compiler's output do, and the differential suite checks the
  shipped policies against OPA run with ``strict-builtin-errors``. Policies the compiler rejects
  (``with``, some partial-object rules) fall back to the interpreter.
* ``strict=True``: the regorus interpreter, where a builtin error aborts the evaluation, so the
  call is denied -- OPA's ``strict-builtin-errors`` behaviour. Slower; choose it for policies
  you do not control.

Hot reload: at most every ``reload_interval`` seconds a call compares the files' mtimes and
sizes; on a change the set is recompiled. A bad edit keeps the last good policy and is reported
through :attr:`RegoEngine.error` and the log, never as an allow.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regorus as _regorus

from kitelogik.bundle import (
    PolicyLoadError,
    PolicySet,
    bundled_policy_dir,
    defines_main,
    load_policy_set,
    snapshot,
)
from kitelogik.engines.base import DECISION_PATH, EngineError, EngineResult

__all__ = ["RegoEngine", "engine_error_text", "resolve_policy_dirs"]

log = logging.getLogger("kitelogik.engine")

# The regorus wheel ships no type stubs.
regorus: Any = _regorus

_UNDEFINED = '"<undefined>"'


def engine_error_text(exc: BaseException) -> str:
    """regorus errors carry a Rust backtrace after the useful part; keep only the useful part."""
    text = str(exc).split("Stack backtrace:", 1)[0].split("\nCaused by:", 1)[0].strip()
    return text or type(exc).__name__


def resolve_policy_dirs(policy_dir: str | os.PathLike[str] | None) -> list[str]:
    """The tiers to load: a directory defining ``kitelogik.main`` alone; otherwise the bundled
    global tier plus the project directory (``./policies`` when none is given and it exists)."""
    bundled = bundled_policy_dir().resolve()
    if policy_dir is None:
        local = Path("policies")
        if local.is_dir() and local.resolve() != bundled:
            policy_dir = local
        else:
            return [str(bundled)]
    project = Path(policy_dir)
    if project.is_dir() and defines_main(project):
        return [str(project)]
    return [str(bundled), str(project)]


# regorus objects may only be dropped by the thread that made them; when a thread ends, Python
# may free its thread-local storage from another thread. Such objects are parked here instead
# (a bounded leak of about 0.6 MiB per thread that ever evaluated: prefer thread pools).
_GRAVEYARD: list[Any] = []


class _ThreadBound:
    __slots__ = ("kind", "owner", "version", "vm")

    def __init__(self, kind: str, vm: Any, version: int) -> None:
        self.kind, self.vm, self.version = kind, vm, version
        self.owner = threading.get_ident()

    def __del__(self) -> None:
        if threading.get_ident() != self.owner:
            _GRAVEYARD.append(self.vm)


@dataclass(frozen=True, slots=True)
class _Compiled:
    version: int
    policy: PolicySet
    program: bytes | None  # serialized RVM program; None means use the interpreter


class RegoEngine:
    """Evaluates ``data.kitelogik.main.decision`` in process with regorus.

    ``policy_dir`` follows the tier rules of :func:`resolve_policy_dirs`; ``policy_dirs`` gives
    the exact list of directories instead (global first). Construction never raises for a bad
    or missing directory: the error is logged, kept in :attr:`error`, and every evaluation
    fails (so every decision is a deny naming it).
    """

    name = "rego"

    def __init__(
        self,
        policy_dir: str | os.PathLike[str] | None = None,
        *,
        policy_dirs: Sequence[str | os.PathLike[str]] | None = None,
        reload_interval: float | None = 1.0,
        entrypoint: str = DECISION_PATH,
        strict: bool = False,
    ) -> None:
        self.strict = strict
        self._entrypoint = entrypoint
        self._reload_interval = reload_interval
        self._lock = threading.Lock()
        self._local = threading.local()
        self._compiled: _Compiled | None = None
        self._next_check = 0.0
        self._snapshot: tuple[tuple[str, int, int], ...] = ()
        self.error: str | None = None
        try:
            dirs = (
                [str(d) for d in policy_dirs]
                if policy_dirs is not None
                else resolve_policy_dirs(policy_dir)
            )
        except PolicyLoadError as exc:
            dirs = []
            self.error = str(exc)
        self.dirs: tuple[str, ...] = tuple(dirs)
        if dirs:
            self._reload(initial=True)
        else:
            log.error("policy engine has no policies: %s", self.error)

    # -- loading ---------------------------------------------------------------------------

    @property
    def policy_version(self) -> str:
        c = self._compiled
        return c.policy.version if c else "none"

    @property
    def policy_set(self) -> PolicySet | None:
        c = self._compiled
        return c.policy if c else None

    def _reload(self, *, initial: bool = False) -> None:
        snap = snapshot(self.dirs)
        try:
            policy = load_policy_set(self.dirs)
            program = self._compile(policy)
        except PolicyLoadError as exc:
            self._keep_last_good(str(exc), snap, initial)
            return
        except Exception as exc:  # noqa: BLE001 - regorus reports policy errors as RuntimeError
            self._keep_last_good(engine_error_text(exc), snap, initial)
            return
        version = (self._compiled.version + 1) if self._compiled else 1
        self._compiled = _Compiled(version, policy, program)
        self._snapshot = snap
        if self.error is not None and not initial:
            log.warning("policies reloaded; the previous policy error is resolved")
        self.error = None

    def _keep_last_good(self, message: str, snap: tuple, initial: bool) -> None:
        self.error = message
        self._snapshot = snap  # do not retry the same broken files on every call
        if self._compiled is not None:
            log.error("policy reload failed, keeping the last good policy set: %s", message)
        else:
            log.error("policies failed to load, every decision will deny: %s", message)

    def _compile(self, policy: PolicySet) -> bytes | None:
        from kitelogik.lint import check_builtins

        check_builtins(policy)
        if self.strict:
            self._new_interpreter(policy)  # parses and type-checks every module now
            return None
        try:
            program = regorus.Program.compile_from_modules(
                policy.data_json, list(policy.modules), [self._entrypoint]
            )
            return bytes(program.serialize_binary())
        except Exception as exc:  # noqa: BLE001 - any compiler refusal means: use the interpreter
            # Validate with the interpreter: if it also fails, this is a real policy error.
            self._new_interpreter(policy)
            log.info(
                "policy uses features the compiled VM lacks (%s); using the interpreter",
                engine_error_text(exc).splitlines()[-1][:200],
            )
            return None

    @staticmethod
    def _new_interpreter(policy: PolicySet) -> Any:
        engine = regorus.Engine()
        engine.add_data_json(policy.data_json)
        for name, src in policy.modules:
            engine.add_policy(name, src)
        return engine

    def maybe_reload(self) -> None:
        """Recompile if a policy file changed (rate-limited by ``reload_interval``)."""
        if self._reload_interval is None or not self.dirs:
            return
        now = time.monotonic()
        if now < self._next_check:
            return
        with self._lock:
            if now < self._next_check:
                return
            self._next_check = now + self._reload_interval
            if snapshot(self.dirs) != self._snapshot:
                self._reload()

    def reload(self) -> None:
        """Reload now, whatever the interval (used by tests and ``kitelogik`` commands)."""
        with self._lock:
            self._reload()

    # -- evaluation ------------------------------------------------------------------------

    def _thread_vm(self, compiled: _Compiled) -> _ThreadBound:
        bound: _ThreadBound | None = getattr(self._local, "bound", None)
        if bound is None or bound.version != compiled.version:
            if compiled.program is not None:
                program, _ = regorus.Program.deserialize_binary(compiled.program)
                vm = regorus.Rvm()
                vm.load_program(program)
                vm.set_data_json(compiled.policy.data_json)
                bound = _ThreadBound("rvm", vm, compiled.version)
            else:
                bound = _ThreadBound(
                    "interp", self._new_interpreter(compiled.policy), compiled.version
                )
            self._local.bound = bound
        return bound

    def evaluate(self, input_json: str) -> EngineResult:
        self.maybe_reload()
        compiled = self._compiled
        if compiled is None:
            raise EngineError(f"no policy loaded: {self.error}")
        try:
            bound = self._thread_vm(compiled)
            vm = bound.vm
            vm.set_input_json(input_json)
            if bound.kind == "rvm":
                out = vm.execute()
                if out == _UNDEFINED:
                    return EngineResult(None)
                return EngineResult(json.loads(out))
            out = vm.eval_rule_as_json(self._entrypoint)
            if out is None or out == _UNDEFINED:
                return EngineResult(None)
            return EngineResult(json.loads(out))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - pyo3 PanicException is a BaseException
            raise EngineError(f"policy evaluation failed: {engine_error_text(exc)}") from None

    async def aevaluate(self, input_json: str) -> EngineResult:
        # Tens of microseconds of CPU under the GIL: a thread hop would cost more than it saves.
        return self.evaluate(input_json)

    def eval_rule(self, rule: str, input_doc: Any | None = None) -> Any:
        """Evaluate any rule with the interpreter (for tests, ``eval`` and ``explain``)."""
        compiled = self._compiled
        if compiled is None:
            raise EngineError(f"no policy loaded: {self.error}")
        engine = self._new_interpreter(compiled.policy)
        for name, src in compiled.policy.test_modules:
            engine.add_policy(name, src)
        if input_doc is not None:
            engine.set_input_json(json.dumps(input_doc))
        out = engine.eval_rule_as_json(rule)
        return json.loads(out) if out is not None and out != _UNDEFINED else None

    def __repr__(self) -> str:
        mode = "strict" if self.strict else "rvm"
        return f"RegoEngine(dirs={list(self.dirs)!r}, version={self.policy_version!r}, {mode})"
