"""OpenTelemetry helpers of the Agentspan Python API (``agentspan.agents.tracing``).

``is_tracing_enabled()`` says whether OpenTelemetry is importable. The ``trace_*``
context managers open a span on this process's tracer (name ``agentspan.agents``) and
yield it, or yield ``None`` without OpenTelemetry, so code written for the reference
runs either way. Where the spans go is this process's OpenTelemetry setup; the server's
own spans (``invoke_agent``, ``chat``, ``execute_tool``) come from the server when it
traces (docs/operations.md), and a worker's tool spans continue them automatically.

OpenTelemetry is imported only when a span is opened, so importing this module costs
nothing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

__all__ = [
    "TRACER_NAME",
    "TRACER_VERSION",
    "is_tracing_enabled",
    "record_token_usage",
    "trace_agent_run",
    "trace_compile",
    "trace_handoff",
    "trace_llm_call",
    "trace_tool_call",
]

TRACER_NAME = "agentspan.agents"
TRACER_VERSION = "1.0.0"
_MAX_ARGS = 1000


def is_tracing_enabled() -> bool:
    """True when OpenTelemetry's API is importable in this process."""
    try:
        return importlib.util.find_spec("opentelemetry.trace") is not None
    except ModuleNotFoundError:
        return False


@contextlib.contextmanager
def _span(name: str, attributes: dict[str, Any]) -> Iterator[Any]:
    if not is_tracing_enabled():
        yield None
        return
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    tracer = trace.get_tracer(TRACER_NAME, TRACER_VERSION)
    with tracer.start_as_current_span(name, attributes=attributes, record_exception=True) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        span.set_status(Status(StatusCode.OK))


def trace_agent_run(
    agent_name: str, prompt: str, model: str = "", session_id: str = ""
) -> AbstractContextManager[Any]:
    """Span ``agent.run`` around running an agent (the prompt's length, never its text)."""
    attrs = {
        "agent.name": agent_name,
        "agent.model": model,
        "agent.prompt_length": len(prompt or ""),
        "agent.session_id": session_id,
    }
    return _span("agent.run", attrs)


def trace_compile(agent_name: str, strategy: str = "") -> AbstractContextManager[Any]:
    """Span ``agent.compile`` around turning an agent into its definition."""
    return _span("agent.compile", {"agent.name": agent_name, "agent.strategy": strategy})


def trace_llm_call(
    agent_name: str, model: str, prompt_tokens: int = 0, completion_tokens: int = 0
) -> AbstractContextManager[Any]:
    """Span ``agent.llm_call`` for a model call, with its token counts."""
    attrs = {
        "agent.name": agent_name,
        "llm.model": model,
        "llm.prompt_tokens": prompt_tokens,
        "llm.completion_tokens": completion_tokens,
        "llm.total_tokens": prompt_tokens + completion_tokens,
    }
    return _span("agent.llm_call", attrs)


def trace_tool_call(agent_name: str, tool_name: str, args: Any = None) -> AbstractContextManager[Any]:
    """Span ``agent.tool_call``; ``args`` are recorded as JSON cut to 1000 characters."""
    attrs: dict[str, Any] = {"agent.name": agent_name, "tool.name": tool_name}
    if args is not None:
        try:
            text = json.dumps(args, default=str)
        except (TypeError, ValueError):
            text = str(args)
        attrs["tool.args"] = text[:_MAX_ARGS]
    return _span("agent.tool_call", attrs)


def trace_handoff(source_agent: str, target_agent: str) -> AbstractContextManager[Any]:
    """Span ``agent.handoff`` when one agent hands the conversation to another."""
    return _span("agent.handoff", {"handoff.source": source_agent, "handoff.target": target_agent})


def record_token_usage(span: Any, prompt_tokens: int, completion_tokens: int, total_tokens: int) -> None:
    """Put token counts on ``span`` (a no-op for ``None``, as yielded without OpenTelemetry)."""
    if span is None:
        return
    span.set_attribute("llm.prompt_tokens", prompt_tokens)
    span.set_attribute("llm.completion_tokens", completion_tokens)
    span.set_attribute("llm.total_tokens", total_tokens)
