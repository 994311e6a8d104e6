"""Guardrails: checks on an agent's input or final answer (and on a tool's arguments or
result). Each describes itself as a typed spec (``to_spec()``); the server runs them.

* ``Guardrail(func)`` / ``@guardrail``: your function ``(content: str) -> GuardrailResult``
  (sync or async), run in your process as a durable worker task named after the guardrail.
  ``Guardrail(name="x")`` with no function is **external**: a worker elsewhere serves ``x``.
* ``RegexGuardrail``: patterns checked by the server (``mode="block"`` fails when one is
  found, ``"allow"`` when none is); no worker.
* ``LLMGuardrail``: a judge model called by the server with the server's keys; its tokens
  and cost are added to the execution's usage.

``on_fail``: ``retry`` (the message goes back to the model, which answers again; after
``max_retries`` the run fails), ``raise`` (the run fails, the guardrail named in
``result.error``), ``fix`` (``fixed_output`` replaces the content), ``human`` (the run
waits for a person to approve, edit or reject; output guardrails only).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, overload

from agentspan.agents._scripted import ScriptedModel
from agentspan.protocol.spec.guardrails import (
    FunctionGuardrailSpec,
    GuardrailSpec,
    LlmGuardrailSpec,
    RegexGuardrailSpec,
)

__all__ = [
    "Guardrail",
    "GuardrailDef",
    "GuardrailResult",
    "LLMGuardrail",
    "OnFail",
    "Position",
    "RegexGuardrail",
    "guardrail",
]

_BLOCK_MESSAGE = "Content matched a blocked pattern."
_ALLOW_MESSAGE = "Content did not match any allowed pattern."


class OnFail(str, Enum):
    RETRY = "retry"
    RAISE = "raise"
    FIX = "fix"
    HUMAN = "human"


class Position(str, Enum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass
class GuardrailResult:
    """A guardrail's verdict. ``message`` is sent to the model on a retry (and shown in
    ``guardrail_fail`` events); ``fixed_output`` replaces the content for ``on_fail="fix"``."""

    passed: bool
    message: str = ""
    fixed_output: str | None = None


@dataclass
class GuardrailDef:
    """What ``@guardrail`` attaches to a function (``_guardrail_def``)."""

    name: str
    description: str
    func: Callable[..., Any]


@overload
def guardrail(func: Callable[..., Any], *, name: str | None = None) -> Callable[..., Any]: ...


@overload
def guardrail(
    func: None = None, *, name: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...


def guardrail(func: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Mark ``func(content) -> GuardrailResult`` as a guardrail (bare or with ``name=``).
    The function stays directly callable; pass it to ``Guardrail(...)`` to set how a
    failure is handled."""

    def decorate(inner: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(inner)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return inner(*args, **kwargs)

        wrapper._guardrail_def = GuardrailDef(  # type: ignore[attr-defined]
            name=name or inner.__name__, description=inspect.getdoc(inner) or "", func=inner
        )
        return wrapper

    return decorate(func) if func is not None else decorate


def _choice(value: Any, enum: type[Enum], what: str) -> str:
    text = value.value if isinstance(value, Enum) else value
    allowed = [m.value for m in enum]
    if text not in allowed:
        raise ValueError(f"Invalid {what} {value!r}; expected one of {allowed}")
    return str(text)


def _result_of(value: Any) -> GuardrailResult:
    """A guardrail function's return value as a verdict (a bool or a dict also do)."""
    if isinstance(value, GuardrailResult):
        return value
    if isinstance(value, bool):
        return GuardrailResult(passed=value)
    if isinstance(value, dict) and isinstance(value.get("passed"), bool):
        return GuardrailResult(
            passed=value["passed"],
            message=str(value.get("message") or ""),
            fixed_output=value.get("fixed_output"),
        )
    raise TypeError(f"a guardrail must return a GuardrailResult, got {type(value).__name__}")


class Guardrail:
    """A guardrail on an agent (``Agent(guardrails=[...])``) or a tool (``@tool(guardrails=[...])``)."""

    def __init__(
        self,
        func: Callable[..., Any] | None = None,
        position: Position | str = "output",
        on_fail: OnFail | str = "retry",
        name: str | None = None,
        max_retries: int = 3,
    ) -> None:
        definition = getattr(func, "_guardrail_def", None)
        if isinstance(definition, GuardrailDef):
            func, name = definition.func, name or definition.name
        self.position = _choice(position, Position, "position")
        self.on_fail = _choice(on_fail, OnFail, "on_fail")
        if self.on_fail == "human" and self.position == "input":
            raise ValueError("on_fail='human' is only supported for output guardrails")
        if func is None and not name and type(self) is Guardrail:
            raise ValueError("Guardrail needs a function, or a name for an external guardrail")
        if not isinstance(max_retries, int) or max_retries < 1:
            raise ValueError(f"max_retries must be >= 1, got {max_retries!r}")
        self.func = func
        self.name: str = name or getattr(func, "__name__", None) or "guardrail"
        self.max_retries = max_retries

    @property
    def external(self) -> bool:
        """No function here: a worker elsewhere serves a task named after the guardrail."""
        return self.func is None

    def check(self, content: str) -> GuardrailResult:
        """Run the guardrail here, now (the server runs it during a run)."""
        if self.func is None:
            raise RuntimeError(f"guardrail {self.name!r} is external: its function runs in another process")
        value = self.func(content)
        if inspect.isawaitable(value):
            value = _await(value)
        return _result_of(value)

    def _common(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "position": self.position,
            "onFail": self.on_fail,
            "maxRetries": self.max_retries,
        }

    def to_spec(self) -> GuardrailSpec:
        kind = "external" if self.external else "custom"
        return FunctionGuardrailSpec.model_validate(
            {**self._common(), "guardrailType": kind, "taskName": self.name}
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, position={self.position!r}, on_fail={self.on_fail!r})"
        )


def _await(value: Awaitable[Any]) -> Any:
    async def wait() -> Any:
        return await value

    return asyncio.run(wait())


class RegexGuardrail(Guardrail):
    """Checked by the server with Python ``re.search`` semantics; no worker needed."""

    def __init__(
        self,
        patterns: str | re.Pattern[str] | list[str | re.Pattern[str]],
        *,
        mode: str = "block",
        position: Position | str = "output",
        on_fail: OnFail | str = "retry",
        name: str | None = None,
        message: str | None = None,
        max_retries: int = 3,
    ) -> None:
        if mode not in ("block", "allow"):
            raise ValueError(f"Invalid mode {mode!r}; expected 'block' or 'allow'")
        items = [patterns] if isinstance(patterns, str | re.Pattern) else list(patterns)
        self.patterns = [p.pattern if isinstance(p, re.Pattern) else str(p) for p in items]
        self._compiled = [re.compile(p) for p in self.patterns]  # a bad pattern fails here
        self.mode = mode
        self.message = message or (_BLOCK_MESSAGE if mode == "block" else _ALLOW_MESSAGE)
        self._custom_message = message
        super().__init__(None, position, on_fail, name or "regex_guardrail", max_retries)

    @property
    def external(self) -> bool:
        return False

    def check(self, content: str) -> GuardrailResult:
        found = any(p.search(content) for p in self._compiled)
        passed = not found if self.mode == "block" else found
        return GuardrailResult(passed=passed, message="" if passed else self.message)

    def to_spec(self) -> GuardrailSpec:
        config = {**self._common(), "guardrailType": "regex", "patterns": self.patterns, "mode": self.mode}
        if self._custom_message:
            config["message"] = self._custom_message
        return RegexGuardrailSpec.model_validate(config)


class LLMGuardrail(Guardrail):
    """A judge model rates the content against ``policy``; the server makes the call."""

    def __init__(
        self,
        model: str | ScriptedModel,
        policy: str,
        *,
        position: Position | str = "output",
        on_fail: OnFail | str = "retry",
        name: str | None = None,
        max_retries: int = 3,
        max_tokens: int | None = None,
    ) -> None:
        # A ScriptedModel judge (for tests) answers with its turns, e.g.
        # '{"passed": false, "reason": "rude"}': the Nth check of the run gets the Nth.
        self.scripted_turns = model.scripted_turns if isinstance(model, ScriptedModel) else None
        self.model = model.to_model_string() if isinstance(model, ScriptedModel) else model
        self.policy = policy
        self.max_tokens = max_tokens
        super().__init__(None, position, on_fail, name or "llm_guardrail", max_retries)

    @property
    def external(self) -> bool:
        return False

    def check(self, content: str) -> GuardrailResult:
        """The judge is called by the server during a run; there is no local judge here,
        so a local check fails closed, as the reference's does without litellm."""
        return GuardrailResult(
            passed=False,
            message=f"LLMGuardrail {self.name!r} is judged by the server during a run; no local judge is available",
        )

    def to_spec(self) -> GuardrailSpec:
        config: dict[str, Any] = {
            **self._common(),
            "guardrailType": "llm",
            "model": self.model,
            "policy": self.policy,
        }
        if self.max_tokens is not None:
            config["maxTokens"] = self.max_tokens
        if self.scripted_turns is not None:
            config["scriptedTurns"] = self.scripted_turns
        return LlmGuardrailSpec.model_validate(config)


def as_guardrail(item: Any) -> Any:
    """``Guardrail(item)`` for a ``@guardrail`` function; anything else as it is."""
    if isinstance(getattr(item, "_guardrail_def", None), GuardrailDef):
        return Guardrail(item)
    return item


def guardrail_worker(rail: Guardrail) -> Callable[..., dict[str, Any]]:
    """The worker function serving ``rail``'s task: ``{content, iteration}`` in, the
    verdict out. An exception in the guardrail is a failed verdict, not a failed task."""

    def run_guardrail(content: Any = "", iteration: int = 0) -> dict[str, Any]:
        text = content if isinstance(content, str) else json.dumps(content, default=str)
        try:
            verdict = rail.check(text)
        except Exception as exc:  # noqa: BLE001 - documented: an error is a failure
            verdict = GuardrailResult(passed=False, message=f"Guardrail error: {type(exc).__name__}: {exc}")
        return {
            "passed": verdict.passed,
            "message": verdict.message,
            "fixed_output": verdict.fixed_output,
            "on_fail": "pass" if verdict.passed else rail.on_fail,
            "guardrail_name": rail.name,
        }

    return run_guardrail
