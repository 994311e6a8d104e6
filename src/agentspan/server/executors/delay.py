"""Durable waits: a ``delay`` task is written with ``available_at`` in the future, so it
is claimed only once its time has come (by whichever replica is up then), and its
answer is just "the time has come". The engine uses it where it must pause without
holding anything, e.g. before an agent tool's retry (``tool_calls._retry_agent_tool``)."""

from __future__ import annotations

from typing import Any

from agentspan.server.engine.functions import DELAY
from agentspan.server.executors.base import ExecutorContext
from agentspan.server.executors.tools import ToolCall, ToolExecutor


class DelayExecutor(ToolExecutor):
    kind = DELAY
    lease_seconds = 30.0
    concurrency = 100
    reruns_lost_leases = True  # answering has no effect outside the database

    async def call(self, call: ToolCall, ctx: ExecutorContext) -> Any:
        return {"waited": True}
