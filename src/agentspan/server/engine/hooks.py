"""Turn hooks: pure functions the engine consults at four points of an agent's turn.

Guardrails (input, output, tool input, tool output) and lifecycle callbacks (before/after
model, before/after tool) plug in here instead of into the loop:

* ``before_model(spec, state, ModelRequest)``: a model call is about to be issued.
  ``Continue`` or ``Block(reason)`` (the run fails with ``finish_reason="blocked"``).
* ``after_model(spec, state, LlmResult)``: the model replied; nothing was acted on yet.
  ``Continue``; ``Replace(LlmResult)`` (the reply to act on instead, e.g. the same
  one with fixed text: a guardrail's "fix"); ``Retry(feedback)`` (the reply is kept in the
  conversation, ``feedback`` is sent as a user message and the model is asked again: a
  guardrail's "retry"); ``Block(reason)`` (the run fails: a guardrail's "raise").
* ``before_tool(spec, state, CallState)``: a tool call is about to be dispatched (its
  arguments parsed, its tool known; before approval, workers or children).
  ``Continue``; ``Replace(dict)`` (new arguments); ``Block(reason)`` (the call is not
  run: the model sees ``reason`` as the call's error).
* ``after_tool(spec, state, CallState)``: a call's outcome was recorded (``result`` or
  ``error`` set) and is not yet shown. ``Continue``; ``Replace(value)`` (the result the
  model sees); ``Block(reason)`` (the model sees ``reason`` as the call's error).

Hooks of one point run in order; a ``Replace`` hands its value to the next hook, and
``Block``/``Retry`` end the point at once. Hooks must not change the state they are given
(they read it; the engine applies their verdict) and must be deterministic, like ``decide``.
A "human" failure mode (wait for a person) is not a verdict yet: it needs a wait kind.

Where hooks come from: ``hooks_for(spec)`` combines the ``HookSource`` functions listed
in ``SOURCES`` (each derives hooks from a spec, e.g. its guardrails); ``decide`` also
takes an explicit ``Hooks`` (tests build their own, so nothing global is changed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import CallState, ExecState, LlmResult


@dataclass(frozen=True, slots=True)
class Continue:
    """Go on as if there were no hook."""


@dataclass(frozen=True, slots=True)
class Replace:
    """Go on with ``value`` instead (what it replaces depends on the point)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Block:
    """Do not go on: the point decides what that means (fail the run, or fail the call)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Retry:
    """``after_model`` only: ask the model again, telling it ``feedback``."""

    feedback: str


Verdict = Continue | Replace | Block | Retry
CONTINUE = Continue()


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """The model call about to be made."""

    purpose: Literal["turn", "plan"]
    number: int
    """Which model call of the execution this is (the first is 1)."""


BeforeModel = Callable[[AgentConfig, ExecState, ModelRequest], Verdict]
AfterModel = Callable[[AgentConfig, ExecState, LlmResult], Verdict]
BeforeTool = Callable[[AgentConfig, ExecState, CallState], Verdict]
AfterTool = Callable[[AgentConfig, ExecState, CallState], Verdict]


@dataclass(frozen=True, slots=True)
class Hooks:
    """The hooks in force for one execution step, per point, in the order they run."""

    before_model: tuple[BeforeModel, ...] = ()
    after_model: tuple[AfterModel, ...] = ()
    before_tool: tuple[BeforeTool, ...] = ()
    after_tool: tuple[AfterTool, ...] = ()

    def __add__(self, other: Hooks) -> Hooks:
        return Hooks(
            self.before_model + other.before_model,
            self.after_model + other.after_model,
            self.before_tool + other.before_tool,
            self.after_tool + other.after_tool,
        )


NO_HOOKS = Hooks()

HookSource = Callable[[AgentConfig], Hooks]
"""Derives an execution's hooks from its spec (e.g. ``guardrails.hooks``)."""

SOURCES: tuple[HookSource, ...] = ()
"""The one place hook sources are registered (guardrails and callbacks add theirs)."""


def hooks_for(spec: AgentConfig, sources: Sequence[HookSource] = SOURCES) -> Hooks:
    """The hooks ``spec`` asks for; ``NO_HOOKS`` (no work per step) when none do."""
    hooks = NO_HOOKS
    for source in sources:
        hooks = hooks + source(spec)
    return hooks


T = TypeVar("T")


def consult(
    hooks: Sequence[Callable[[AgentConfig, ExecState, T], Verdict]],
    spec: AgentConfig,
    state: ExecState,
    data: T,
) -> Verdict:
    """Run one point's hooks in order: the first ``Block``/``Retry`` wins; a ``Replace``
    is passed on (the last one is the result); ``Continue`` if none objected."""
    verdict: Verdict = CONTINUE
    for hook in hooks:
        answer = hook(spec, state, data)
        if isinstance(answer, Block | Retry):
            return answer
        if isinstance(answer, Replace):
            verdict = answer
            data = answer.value
    return verdict
