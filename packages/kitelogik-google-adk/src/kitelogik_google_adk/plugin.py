"""Policy before every tool call, agent transfer and sub-agent of a Google ADK runner.

ADK's native hooks used here (one ``BasePlugin`` covers every agent a runner runs):

* ``before_tool_callback``: each call is decided before the tool runs. A returned dict skips the
  tool and *is* its function response, so a denial is ``{"error": "[kitelogik] DENIED ..."}``.
  On allow the call's arguments are set to exactly the decided ones and the call is opened
  (:func:`kitelogik.adapters.begin_allowed`): the tool runs in the same context, so a
  ``@governed`` body reuses the decision; ``after_tool_callback`` / ``on_tool_error_callback``
  audit the outcome once;
* ``transfer_to_agent`` is governed as ``agent.delegate`` (action: the target agent), an
  ``AgentTool`` as ``agent.spawn`` (action: the agent's name);
* ``before_agent_callback``: an agent that starts without a governed transfer or tool call
  (e.g. a step of a ``SequentialAgent`` / ``ParallelAgent``) is decided as ``agent.spawn``; a
  denial skips it (a returned ``Content`` is its reply). The invocation's root agent, and the
  target of an allowed transfer, start without a second decision;
* escalation: with an approver on the gate, the callback waits for it; without one (or
  ``escalation="interrupt"``) ADK's tool confirmation pauses the run
  (``tool_context.request_confirmation`` with the approval request as payload). Resume with
  :meth:`KitelogikPlugin.resume_message` (one ``adk_request_confirmation`` function response per
  answer): ADK re-runs the call, and only an answer bound to the decision's digest runs it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, Literal

from google.adk.plugins.base_plugin import BasePlugin
from google.adk.tools.agent_tool import AgentTool
from google.genai import types
from kitelogik import adapters
from kitelogik.adapters import ContextSource, OpenCall
from kitelogik.canonical import thaw
from kitelogik.decision import Decision
from kitelogik.events import GovernanceEvent, SessionContext
from kitelogik.gate import PolicyGate
from kitelogik.protocols import ApprovalResult

__all__ = ["KitelogikPlugin"]

FRAMEWORK = "google-adk"
TRANSFER = "transfer_to_agent"
CONFIRMATION = "adk_request_confirmation"
Escalation = Literal["auto", "approver", "interrupt"]
#: Escalations kept for a resume, and calls open between before- and after-tool callbacks. A
#: forgotten escalation is decided again on resume and refused: the bound costs approvals only.
MAX_PENDING = 10_000


def _fingerprint(event: GovernanceEvent) -> str:
    return json.dumps(
        [event.event_type, event.action, thaw(event.args)], sort_keys=True, default=repr
    )


def _invocation_id(ctx: Any) -> str:
    inv = getattr(ctx, "_invocation_context", None)
    return str(getattr(inv, "invocation_id", "") or getattr(ctx, "invocation_id", "") or "")


class KitelogikPlugin(BasePlugin):
    """Kite Logik for Google ADK: ``InMemoryRunner(agent=root, plugins=[KitelogikPlugin(gate)])``
    (or ``App(..., plugins=[...])``).

    * allow: the tool runs with exactly the decided arguments; its outcome is audited;
    * deny: the tool is skipped and the model receives ``{"error": "[kitelogik] DENIED <what>:
      <reason> (decision <id>)"}`` as its function response;
    * escalate: ``approver`` waits for the gate's approver inside the callback; ``interrupt``
      pauses the run with ADK's tool confirmation (see the module docstring); ``auto`` (default)
      uses the approver when the gate has one, else interrupts.

    ``tools`` holds facts about tools for the policy (``{"send_email": {"external": True}}``),
    from the host, never the model. ``govern_agents=False`` leaves agent starts to the tool-level
    decisions only."""

    def __init__(
        self,
        gate: PolicyGate | None = None,
        *,
        context: ContextSource = None,
        escalation: Escalation = "auto",
        tools: Mapping[str, Mapping[str, Any]] | None = None,
        govern_agents: bool = True,
        name: str = "kitelogik",
    ) -> None:
        super().__init__(name=name)
        if gate is None:
            from kitelogik.governed import _default_gate

            gate = _default_gate()
        if escalation not in ("auto", "approver", "interrupt"):
            raise ValueError(f"escalation must be auto, approver or interrupt, not {escalation!r}")
        self.gate = gate
        self.context = (
            context.with_framework(FRAMEWORK)
            if isinstance(context, SessionContext) and context.framework != FRAMEWORK
            else context
        )
        self.escalation: Escalation = escalation
        self.tool_facts = {k: dict(v) for k, v in (tools or {}).items()}
        self.govern_agents = govern_agents
        self._pending: dict[tuple[str, str], tuple[str, Decision]] = {}
        self._open: dict[tuple[str, str], OpenCall] = {}
        #: (invocation id, agent name) allowed to start: the root and allowed transfer targets.
        self._started: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ helpers

    @property
    def interrupts(self) -> bool:
        if self.escalation == "auto":
            return self.gate.approver is None
        return self.escalation == "interrupt"

    def event(self, tool: Any, args: Mapping[str, Any]) -> GovernanceEvent:
        name = tool.name
        if name == TRANSFER:
            target = str(args.get("agent_name") or "")
            return adapters.delegation_event(
                target, args, context=self.context, framework=FRAMEWORK
            )
        if isinstance(tool, AgentTool):
            return adapters.spawn_event(name, args, context=self.context, framework=FRAMEWORK)
        return adapters.tool_call_event(
            name, args, context=self.context, framework=FRAMEWORK, tool=self.tool_facts.get(name)
        )

    @staticmethod
    def _deny(decision: Decision) -> dict[str, Any]:
        return {"error": adapters.denial_message(decision)}

    def pending(self) -> int:
        """Escalated calls waiting for a resume."""
        with self._lock:
            return len(self._pending)

    @staticmethod
    def confirmation(answer: ApprovalResult | Mapping[str, Any]) -> dict[str, Any]:
        """The ``response`` of the ``adk_request_confirmation`` function response that resumes a
        paused call: ``{"confirmed": ..., "payload": approval_answer(answer)}``. Only the payload
        (bound to the decision's digest) can allow the call; ``confirmed`` alone never does."""
        result = answer if isinstance(answer, ApprovalResult) else adapters._as_result(answer)
        return {"confirmed": bool(result.approved), "payload": adapters.approval_answer(result)}

    @staticmethod
    def approval_requests(events: Any) -> dict[str, dict[str, Any]]:
        """The approval requests a paused run ended with, by ``adk_request_confirmation`` call id
        (what to show a human; answer each with :meth:`confirmation`)."""
        out: dict[str, dict[str, Any]] = {}
        for ev in events:
            content = getattr(ev, "content", None)
            for part in getattr(content, "parts", None) or []:
                fc = part.function_call
                if fc is None or fc.name != CONFIRMATION or not fc.id:
                    continue
                conf = (fc.args or {}).get("toolConfirmation") or {}
                payload = conf.get("payload") if isinstance(conf, Mapping) else None
                if isinstance(payload, Mapping) and payload.get("kitelogik") == "approval_request":
                    out[fc.id] = dict(payload)
        return out

    @classmethod
    def resume_message(cls, answers: Mapping[str, Any]) -> types.Content:
        """The message that resumes a paused run: one ``adk_request_confirmation`` function
        response per answered request id (answers: :class:`ApprovalResult` or
        :func:`kitelogik.adapters.approval_answer` mappings)."""
        return types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        id=rid, name=CONFIRMATION, response=cls.confirmation(answer)
                    )
                )
                for rid, answer in answers.items()
            ],
        )

    # ------------------------------------------------------------------ tools

    async def _decide(self, event: GovernanceEvent, tool_context: Any) -> Decision | dict[str, Any]:
        key = (event.context.session_id, str(tool_context.function_call_id or ""))
        confirmation = getattr(tool_context, "tool_confirmation", None)
        if confirmation is not None:
            with self._lock:
                item = self._pending.pop(key, None)
            if item is None or item[0] != _fingerprint(event):
                # Confirmed in ADK, but not a call kitelogik paused (or its arguments changed):
                # decide afresh; an escalation is not approved by a bare confirmation.
                decision = await self.gate.acheck(event)
            else:
                decision = item[1]
            if decision.verdict == "escalate":
                decision = await adapters.aresolve_approval(
                    self.gate, decision, getattr(confirmation, "payload", None)
                )
            return decision
        if not self.interrupts:
            return await self.gate.aauthorize(event)
        decision = await self.gate.acheck(event)
        if decision.verdict != "escalate":
            return decision
        with self._lock:
            self._pending[key] = (_fingerprint(event), decision)
            while len(self._pending) > MAX_PENDING:
                del self._pending[next(iter(self._pending))]
        tool_context.request_confirmation(
            hint=f"kitelogik: approve {decision.action}? ({decision.reason})",
            payload=adapters.approval_request(decision, call_id=key[1]),
        )
        tool_context.actions.skip_summarization = True
        return {"error": f"{adapters.PREFIX} {decision.action} is waiting for human approval"}

    async def before_tool_callback(
        self, *, tool: Any, tool_args: dict[str, Any], tool_context: Any
    ) -> dict[str, Any] | None:
        try:
            event = self.event(tool, tool_args)
            decided = await self._decide(event, tool_context)
            if isinstance(decided, dict):
                return decided
            if not decided.allowed:
                return self._deny(decided)
            # Exactly the decided arguments reach the tool (ADK calls it with this dict).
            tool_args.clear()
            tool_args.update(thaw(decided.args))
            opened = adapters.begin_allowed(self.gate, decided)
            inv = _invocation_id(tool_context)
            with self._lock:
                self._open[(inv, str(tool_context.function_call_id or ""))] = opened
                while len(self._open) > MAX_PENDING:
                    del self._open[next(iter(self._open))]
                if decided.event_type == "agent.delegate":
                    self._started.add((inv, decided.action))
            return None
        except Exception as exc:  # noqa: BLE001 - every internal error is a deny
            return {"error": adapters.error_message(tool.name, f"{type(exc).__name__}: {exc}")}

    def _close(self, tool_context: Any) -> OpenCall | None:
        with self._lock:
            return self._open.pop(
                (_invocation_id(tool_context), str(tool_context.function_call_id or "")), None
            )

    async def after_tool_callback(
        self, *, tool: Any, tool_args: dict[str, Any], tool_context: Any, result: Any
    ) -> dict[str, Any] | None:
        opened = self._close(tool_context)
        if opened is not None:
            failed = isinstance(result, Mapping) and "error" in result and len(result) == 1
            await opened.afinish("failed" if failed else "ran")
        return None

    async def on_tool_error_callback(
        self, *, tool: Any, tool_args: dict[str, Any], tool_context: Any, error: BaseException
    ) -> dict[str, Any] | None:
        opened = self._close(tool_context)
        if opened is not None:
            await opened.afinish("failed", f"{type(error).__name__}: {error}")
        return None

    # ------------------------------------------------------------------ agents

    async def before_run_callback(self, *, invocation_context: Any) -> None:
        agent = getattr(invocation_context, "agent", None)
        if agent is not None:
            with self._lock:
                self._started.add((str(invocation_context.invocation_id), agent.name))
        return None

    async def after_run_callback(self, *, invocation_context: Any) -> None:
        inv = str(invocation_context.invocation_id)
        with self._lock:
            self._started = {k for k in self._started if k[0] != inv}
            for key in [k for k in self._open if k[0] == inv]:
                self._open.pop(key)  # a call whose tool never finished: nothing ran to audit
        return None

    async def before_agent_callback(self, *, agent: Any, callback_context: Any) -> Any:
        if not self.govern_agents:
            return None
        inv = _invocation_id(callback_context)
        with self._lock:
            if (inv, agent.name) in self._started:
                return None
        try:
            event = adapters.spawn_event(
                agent.name,
                {"agent": agent.name},
                context=self.context,
                framework=FRAMEWORK,
            )
            decision = await self.gate.aauthorize(event)
            if decision.allowed:
                await self.gate.arecord_outcome(decision, "ran")
                with self._lock:
                    self._started.add((inv, agent.name))
                return None
            text = adapters.denial_message(decision)
        except Exception as exc:  # noqa: BLE001 - every internal error is a deny
            text = adapters.error_message(agent.name, f"{type(exc).__name__}: {exc}")
        return types.Content(role="model", parts=[types.Part(text=text)])
