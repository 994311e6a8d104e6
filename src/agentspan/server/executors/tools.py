"""What a server-side tool executor (HTTP, MCP, a sandbox, ...) builds on.

Subclass ``ToolExecutor``, give it a ``kind`` and implement ``call``; register an
instance (``Services.start(executors=[...])``). The tool then gets what worker tools
get: the pool's lease, fencing and store-error retries; the engine's retries with
backoff and its ``tool_call``/``tool_result`` events; the per-call ``idempotency_key``
(the same on every attempt, to pass on to the remote side); and the tool's
``timeout_seconds``, enforced here.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from agentspan.server.engine.model import ExecState, Input, LlmResult, ToolFailed, ToolSucceeded
from agentspan.server.executors.base import ExecutorContext, Job


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One attempt of one tool call, as a server-side executor sees it."""

    name: str
    args: dict[str, Any]
    execution_id: str
    agent_name: str
    session_id: str
    state: dict[str, Any]
    """The execution's tool state (``ToolContext.state`` of worker tools); read-only here."""
    idempotency_key: str
    """The same on every attempt of this call."""
    attempt: int
    timeout_seconds: float | None


@dataclass(frozen=True, slots=True)
class ToolReply:
    """A result with tool-state updates or usage (return a plain value when there are none)."""

    output: Any
    state_updates: dict[str, Any] = field(default_factory=dict)
    usage: LlmResult | None = None
    """A model call the tool made (an embedding): added to the run's tokens and cost."""


class ToolCallError(Exception):
    """The tool failed; ``retryable=False`` stops the engine from trying it again."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class ToolExecutor:
    """Base of server-side tool executors: turns a ``call`` into the engine's answer."""

    kind: str
    lease_seconds: float = 30.0
    concurrency: int = 16
    reruns_lost_leases = False  # a tool may have had effects: the engine decides

    async def call(self, call: ToolCall, ctx: ExecutorContext) -> Any:
        raise NotImplementedError

    async def run(self, job: Job, ctx: ExecutorContext) -> Input | None:
        task = job.task
        body = json.loads(task.input)
        context = body.get("context", {})
        call = ToolCall(
            name=task.name,
            args=body.get("args", {}),
            execution_id=task.execution_id,
            agent_name=context.get("agentName", ""),
            session_id=context.get("sessionId", ""),
            state=context.get("state", {}),
            idempotency_key=task.idempotency_key,
            attempt=task.attempt,
            timeout_seconds=task.timeout_seconds,
        )
        try:
            async with asyncio.timeout(task.timeout_seconds):
                output = await self.call(call, ctx)
        except TimeoutError:
            error = f"tool '{task.name}' timed out after {task.timeout_seconds}s"
            return ToolFailed(call_id=task.call_id, error=error, retryable=True)
        except ToolCallError as exc:
            return ToolFailed(call_id=task.call_id, error=str(exc), retryable=exc.retryable)
        except Exception as exc:  # noqa: BLE001 - the tool's own failure, retried by policy
            return ToolFailed(call_id=task.call_id, error=f"{type(exc).__name__}: {exc}", retryable=True)
        if isinstance(output, ToolReply):
            return ToolSucceeded(
                call_id=task.call_id,
                output=output.output,
                state_updates=output.state_updates or None,
                usage=output.usage,
            )
        return ToolSucceeded(call_id=task.call_id, output=output)

    def recorded(self, job: Job, result: Input, state: ExecState | None) -> None:
        """Nothing to keep once the result is recorded."""
