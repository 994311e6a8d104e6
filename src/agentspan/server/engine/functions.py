"""Local decision functions (router, ``stop_when``, gates, handoff conditions): the user's
Python functions, run as worker tasks whose answers come back as tool results."""

from __future__ import annotations

from typing import Any

from agentspan.protocol.spec import DEFAULT_TOOL_RETRY_DELAY_SECONDS
from agentspan.server.engine.model import Decision, RunTool, ToolFailed, ToolSucceeded

FN_ATTEMPTS = 3
"""Runs of a local decision function before its default answer is used."""


def call_fn(d: Decision, purpose: str, task_name: str, args: dict[str, Any]) -> None:
    """Run one of the user's local decision functions (router, stop_when, gate, handoff
    condition) as a worker task; its answer comes back as a tool result for ``pending_fn``."""
    s = d.state
    s.fn_counter += 1
    s.pending_fn = f"fn.{purpose}.{s.fn_counter}"
    s.pending_fn_call = {"name": task_name, "args": args, "attempt": 1}
    d.commands.append(RunTool(call_id=s.pending_fn, name=task_name, args=args))


def retry_fn(d: Decision, inp: ToolSucceeded | ToolFailed) -> bool:
    """Run a failed (or lost) decision function again, with backoff; False once spent."""
    s = d.state
    call = s.pending_fn_call
    if not isinstance(inp, ToolFailed) or call is None or s.pending_fn is None:
        return False
    if not inp.lease_lost and (not inp.retryable or call["attempt"] >= FN_ATTEMPTS):
        return False
    call["attempt"] += 1
    delay = (
        0.0 if inp.lease_lost else min(DEFAULT_TOOL_RETRY_DELAY_SECONDS * 2 ** (call["attempt"] - 2), 30.0)
    )
    d.commands.append(
        RunTool(
            call_id=s.pending_fn,
            name=call["name"],
            args=call["args"],
            delay_seconds=delay,
            attempt=call["attempt"],
        )
    )
    return True


def fn_answer(inp: ToolSucceeded | ToolFailed, key: str, default: Any) -> Any:
    """The value a local function returned under ``key`` (``default`` if it failed)."""
    if isinstance(inp, ToolFailed) or not isinstance(inp.output, dict):
        return default
    return inp.output.get(key, default)
