"""What a strategy is to the engine: how it starts, what it does when a child finishes,
when resumed or stopped, which decision-function results it handles, and which other
inputs it takes. ``decide`` dispatches through one ``Strategy`` per spec."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.callbacks import on_callback_result
from agentspan.server.engine.functions import retry_fn
from agentspan.server.engine.guardrails import on_guardrail_result
from agentspan.server.engine.model import (
    ChildFinished,
    EventDraft,
    FnPurpose,
    PendingFn,
    Rejected,
    RunTool,
    Start,
    ToolFailed,
    ToolSucceeded,
)
from agentspan.server.engine.recall import on_recall_result
from agentspan.server.engine.steps import InputHandler, Step
from agentspan.server.engine.tool_calls import on_retry_wait_over

FnHandler = Callable[[AgentConfig, Step, PendingFn, ToolSucceeded | ToolFailed], None]

_SHARED_ANSWERS: dict[str, FnHandler] = {
    "guardrail": on_guardrail_result,
    "callback": on_callback_result,
    "recall": on_recall_result,
}
"""Decision functions answered the same way in every strategy."""
"""Acts on a decision function's final answer (retries are already spent or not needed)."""


@dataclass(frozen=True, slots=True)
class Strategy:
    """One strategy's answers to the inputs whose meaning depends on it."""

    name: str
    start: Callable[[AgentConfig, Step, Start], None]
    """After ``steps.begin`` recorded the request, seed and deadline."""
    child_finished: Callable[[AgentConfig, Step, ChildFinished], None]
    resume: Callable[[AgentConfig, Step], None]
    """Resumed with a step held back while paused (``llm_due``): take it now."""
    stop: Callable[[AgentConfig, Step], None]
    """A graceful stop was asked for: end now, or mark it for the next step."""
    fn_results: Mapping[FnPurpose, FnHandler] = field(default_factory=dict)
    inputs: Mapping[type[Any], InputHandler] = field(default_factory=dict)
    """Further inputs it takes (model and tool results, selections); the shared ones
    (cancel, pause, timeouts, ...) are taken by every strategy."""


_FAILURE_ENDS_RUN = frozenset({"graph"})
"""Purposes whose failure the handler reports itself (it ends the run), rather than a
default answer being used; their retries are recorded (``tool_retry``)."""


def on_fn_result(spec: AgentConfig, d: Step, inp: ToolSucceeded | ToolFailed, strategy: Strategy) -> None:
    """A decision function answered (or failed): run it again, or act on the answer."""
    s = d.state
    fn = s.pending[inp.call_id]
    if fn.purpose == "retry_wait":  # a durable pause is over (or its task failed: go on anyway)
        if not retry_fn(d, fn, inp):
            del s.pending[inp.call_id]
            on_retry_wait_over(spec, d, fn)
        return
    if fn.purpose in ("guardrail", "callback", "recall"):  # the same in every strategy
        if not retry_fn(d, fn, inp):
            del s.pending[inp.call_id]
            _SHARED_ANSWERS[fn.purpose](spec, d, fn, inp)
        return
    handler = strategy.fn_results.get(fn.purpose)
    if handler is None:
        raise Rejected("invalid_state", f"a {strategy.name} run has no use for a {fn.purpose} answer")
    if retry_fn(d, fn, inp):
        if fn.purpose in _FAILURE_ENDS_RUN and isinstance(inp, ToolFailed):
            _note_retry(d, fn, inp)
        return
    del s.pending[inp.call_id]
    if isinstance(inp, ToolFailed) and fn.purpose not in _FAILURE_ENDS_RUN:
        d.events.append(
            EventDraft("error_ignored", {"content": f"{fn.purpose} function failed: {inp.error}"})
        )
    handler(spec, d, fn, inp)


def _note_retry(d: Step, fn: PendingFn, inp: ToolFailed) -> None:
    """A ``tool_retry`` event for a function whose work is a step of the run (a graph's
    superstep), so its history shows the attempt that was lost or failed."""
    lost = inp.lease_lost
    issued = d.commands[-1]  # the RunTool ``retry_fn`` just issued
    data: dict[str, Any] = {"attempt": fn.attempt}
    if lost:
        data["reason"] = "lease_expired"
    data["delaySeconds"] = issued.delay_seconds if isinstance(issued, RunTool) and not lost else 0
    content = "the worker was lost (lease expired); running it again" if lost else inp.error
    d.events.append(
        EventDraft(
            "tool_retry", {"tool_name": fn.task, "call_id": fn.call_id, "content": content, "data": data}
        )
    )


def refuse(spec: AgentConfig, kind: str) -> Rejected:
    """The input a strategy does not take."""
    if kind == "selection":
        return Rejected("not_waiting", "the execution is not waiting for an agent to be chosen")
    return Rejected("invalid_state", f"a {spec.strategy} team does not take '{kind}' input")
