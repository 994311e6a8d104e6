"""``CallbackHandler``: lifecycle hooks around an agent, its model calls and its tool calls.

Subclass it and override any of the six hooks; give the agent ``callbacks=[...]`` (and/or
the older ``before_model_callback=`` style functions). Each hook the agent uses is a
worker task ``<agent>_<position>`` served by the process that started the run (or
``serve(agent)``); the server waits for its answer, records it (a ``callback`` event) and
never asks it again, even after a crash.

Hooks are called with keyword arguments only (accept ``**kwargs``):

========================  ===========================================================
``on_agent_start``        ``agent_name``, ``prompt``
``on_agent_end``          ``agent_name``, ``output``
``on_model_start``        ``agent_name``, ``messages`` (the conversation sent)
``on_model_end``          ``agent_name``, ``llm_result`` (the reply's text), ``tool_calls``
``on_tool_start``         ``agent_name``, ``tool_name``, ``arguments``, ``call_id``
``on_tool_end``           ``agent_name``, ``tool_name``, ``arguments``, ``call_id``, and
                          ``result`` or ``error``
========================  ===========================================================

Returning ``None`` (or ``{}``) changes nothing. The first non-empty dict returned at a
position (the legacy function first, then handlers in list order) is used and the rest
are skipped: ``{"response": ...}`` from ``on_agent_start`` / ``on_model_start`` skips the
agent / the model call with that answer, from ``on_model_end`` / ``on_agent_end`` replaces
the reply / the output; ``{"result": ...}`` from ``on_tool_start`` skips the tool with that
result, from ``on_tool_end`` replaces its result. A hook that raises is logged, reported in
the ``callback`` event, and skipped: it never breaks the run.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from agentspan._core.tool import ToolContext

__all__ = ["POSITION_METHODS", "CallbackHandler", "callback_worker"]

log = logging.getLogger("agentspan.agents")

POSITION_METHODS: dict[str, str] = {
    "before_agent": "on_agent_start",
    "after_agent": "on_agent_end",
    "before_model": "on_model_start",
    "after_model": "on_model_end",
    "before_tool": "on_tool_start",
    "after_tool": "on_tool_end",
}
"""Server position → the ``CallbackHandler`` method that serves it."""

_ARGUMENTS = ("agent_name", "prompt", "output", "messages", "llm_result", "tool_calls")
_TOOL_ARGUMENTS = ("tool_name", "arguments", "call_id", "result", "error")


class CallbackHandler:
    """Base class of lifecycle hooks: every method is a no-op returning ``None``."""

    def on_agent_start(self, **kwargs: Any) -> dict[str, Any] | None:
        """Before the agent starts (``prompt``)."""
        return None

    def on_agent_end(self, **kwargs: Any) -> dict[str, Any] | None:
        """After the agent completed (``output``)."""
        return None

    def on_model_start(self, **kwargs: Any) -> dict[str, Any] | None:
        """Before each model call (``messages``)."""
        return None

    def on_model_end(self, **kwargs: Any) -> dict[str, Any] | None:
        """After each model call (``llm_result``, ``tool_calls``)."""
        return None

    def on_tool_start(self, **kwargs: Any) -> dict[str, Any] | None:
        """Before each tool call (``tool_name``, ``arguments``)."""
        return None

    def on_tool_end(self, **kwargs: Any) -> dict[str, Any] | None:
        """After each tool call (``tool_name``, ``arguments``, ``result`` or ``error``)."""
        return None


def overrides(handler: Any, method: str) -> bool:
    """Whether ``handler`` implements ``method`` itself rather than the base no-op."""
    for klass in type(handler).__mro__:
        if method in vars(klass):
            return klass is not CallbackHandler and klass is not object
    return False


def _accepted(func: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments ``func`` takes (all of them if it has ``**kwargs``)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return kwargs
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in kwargs.items() if k in names}


def _names_context(func: Callable[..., Any]) -> bool:
    try:
        return "context" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def callback_worker(
    position: str, handlers: list[Any], legacy: Callable[..., Any] | None = None
) -> Callable[..., dict[str, Any]]:
    """The worker function of one position: calls the legacy function, then each handler
    that implements the position's method, until one returns a non-empty dict.

    Answers ``{"override": dict, "errors": [..]}`` (``errors``: hooks that raised)."""
    method = POSITION_METHODS[position]
    chain: list[tuple[str, Callable[..., Any]]] = []
    if legacy is not None:
        chain.append((getattr(legacy, "__qualname__", repr(legacy)), legacy))
    for handler in handlers:
        if overrides(handler, method):
            chain.append((f"{type(handler).__name__}.{method}", getattr(handler, method)))

    def run_callback(
        position: str = position,
        agent_name: str = "",
        prompt: str | None = None,
        output: Any = None,
        messages: list[Any] | None = None,
        llm_result: str | None = None,
        tool_calls: list[Any] | None = None,
        tool_name: str | None = None,
        arguments: dict[str, Any] | None = None,
        call_id: str | None = None,
        result: Any = None,
        error: str | None = None,
        context: ToolContext | None = None,
    ) -> dict[str, Any]:
        given = locals()
        names = _ARGUMENTS + (_TOOL_ARGUMENTS if "tool" in position else ())
        kwargs = {k: given[k] for k in names if given[k] is not None}
        errors: list[str] = []
        for label, func in chain:
            try:
                # The run's state, for hooks that name a ``context`` parameter (the Google
                # ADK adapter's); changes are sent back with the answer.
                extra = {"context": context} if context is not None and _names_context(func) else {}
                answer = func(**_accepted(func, kwargs), **extra)
            except Exception as exc:  # noqa: BLE001 - documented: a failing hook is skipped
                log.exception("callback %s at %s failed", label, position)
                errors.append(f"{label}: {type(exc).__name__}: {exc}")
                continue
            if isinstance(answer, dict) and answer:
                return {"override": answer, "errors": errors}
        return {"override": {}, "errors": errors}

    return run_callback
