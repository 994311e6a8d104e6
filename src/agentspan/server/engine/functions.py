"""Local decision functions (router, ``stop_when``, gates, handoff conditions): the user's
Python functions, run as worker tasks whose answers come back as tool results."""

from __future__ import annotations

from typing import Any

from agentspan.protocol.spec import DEFAULT_TOOL_RETRY_DELAY_SECONDS, AgentConfig
from agentspan.protocol.spec.memory import CallbackPosition
from agentspan.server.engine.model import Decision, FnPurpose, PendingFn, RunTool, ToolFailed, ToolSucceeded

FN_ATTEMPTS = 3
"""Runs of a local decision function before its default answer is used."""


def call_fn(
    d: Decision,
    purpose: FnPurpose,
    task_name: str,
    args: dict[str, Any],
    executor: str = "worker",
    delay_seconds: float = 0.0,
) -> str:
    """Run one of the user's local decision functions as a worker task (or, ``executor``,
    a server-side one), due ``delay_seconds`` from now; its answer comes back as a tool
    result for the new ``PendingFn``'s call id, which is returned (see ``on_fn_result``)."""
    s = d.state
    s.fn_counter += 1
    # The purpose in the id is for people reading tasks; the engine routes by the record.
    call_id = f"fn.{purpose}.{s.fn_counter}"
    s.pending[call_id] = PendingFn(
        call_id=call_id, purpose=purpose, task=task_name, args=args, executor=executor
    )
    d.commands.append(
        RunTool(call_id=call_id, name=task_name, args=args, executor=executor, delay_seconds=delay_seconds)
    )
    return call_id


DELAY = "delay"
"""The executor kind of a durable wait: a task that falls due after its delay and answers
at once (``executors/delay.py``), e.g. the pause before an agent tool's retry."""


CONVERSATION = "$conversation"
"""A callback argument the driver fills in when it writes the task: the conversation so far
(the engine only counts messages; the store holds them)."""


def callback_task(spec: AgentConfig, position: CallbackPosition) -> str | None:
    """The worker task of the agent's lifecycle callback at ``position``, if it has one."""
    for callback in spec.callbacks or ():
        if callback.position == position:
            return callback.task_name
    return None


def retry_fn(d: Decision, fn: PendingFn, inp: ToolSucceeded | ToolFailed) -> bool:
    """Run a failed (or lost) decision function again, with backoff; False once spent."""
    if not isinstance(inp, ToolFailed) or not fn.task:
        return False
    if not inp.lease_lost and (not inp.retryable or fn.attempt >= FN_ATTEMPTS):
        return False
    fn.attempt += 1
    delay = 0.0 if inp.lease_lost else min(DEFAULT_TOOL_RETRY_DELAY_SECONDS * 2 ** (fn.attempt - 2), 30.0)
    d.commands.append(
        RunTool(
            call_id=fn.call_id,
            name=fn.task,
            args=fn.args,
            delay_seconds=delay,
            attempt=fn.attempt,
            executor=fn.executor,
        )
    )
    return True


def fn_answer(inp: ToolSucceeded | ToolFailed, key: str, default: Any) -> Any:
    """The value a local function returned under ``key`` (``default`` if it failed)."""
    if isinstance(inp, ToolFailed) or not isinstance(inp.output, dict):
        return default
    return inp.output.get(key, default)
