"""``RecallExecutor``: searches an agent's server-kept semantic memory for its run's
prompt (the ``memory_recall`` decision function of ``engine/recall.py``), and
``with_recalled``, which puts what was recalled into the spec a model call is built from.

A recall reads the store and may embed the query; it has no other effect, so a recall
lost with its server is simply made again (``reruns_lost_leases``).
"""

from __future__ import annotations

from typing import Any

from agentspan.protocol.spec import AgentConfig, MemorySpec
from agentspan.server.errors import DomainError, EmbeddingFailed
from agentspan.server.executors.base import ExecutorContext
from agentspan.server.executors.memory_index import MemoryIndexes
from agentspan.server.executors.tools import ToolCall, ToolCallError, ToolExecutor, ToolReply


class RecallExecutor(ToolExecutor):
    kind = "memory_recall"
    lease_seconds = 60.0
    concurrency = 8
    reruns_lost_leases = True  # a search has no effect outside the database

    def __init__(self) -> None:
        self._indexes: MemoryIndexes | None = None

    async def call(self, call: ToolCall, ctx: ExecutorContext) -> Any:
        if self._indexes is None or self._indexes.ctx is not ctx:
            self._indexes = MemoryIndexes(ctx)
        args = call.args
        dimensions = args.get("dimensions")
        try:
            found, usage = await self._indexes.search(
                str(args.get("namespace") or ""),
                str(args.get("index") or "default"),
                str(args.get("query") or ""),
                int(args.get("maxResults") or 5),
                model=str(args.get("embeddingModel") or "") or None,
                dimensions=int(dimensions) if isinstance(dimensions, int) else None,
            )
        except EmbeddingFailed as exc:
            raise ToolCallError(exc.detail, retryable=exc.retryable) from None
        except DomainError as exc:
            raise ToolCallError(exc.detail, retryable=False) from None
        entries = [
            {"id": f.entry.id, "content": f.entry.content, "score": round(f.score, 6), "rankedBy": f.how}
            for f in found
        ]
        return ToolReply(output={"entries": entries}, usage=usage)


def with_recalled(spec: AgentConfig, recalled: str | None) -> AgentConfig:
    """``spec`` with the run's recalled memory as a system message of its memory (which
    joins the instructions of every model call, ``prompts.instructions_of``)."""
    if not recalled:
        return spec
    memory = spec.memory or MemorySpec(kind="semantic")
    messages = [*(memory.messages or []), {"role": "system", "content": recalled}]
    return spec.model_copy(update={"memory": memory.model_copy(update={"messages": messages})})
