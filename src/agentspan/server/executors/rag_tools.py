"""``index_tool`` and ``search_tool`` calls (tool types ``rag_index``, ``rag_search``):
the model stores text in, and searches, the server's semantic memory
(``memory_index.py``), with no worker.

Durability: an index call stores its document under the model's ``docId`` (chunk ids
``<docId>#<n>``), replacing whatever that document held before, in one transaction; so a
call lost with its server and run again (same idempotency key) leaves the document once,
and a search has no effect at all. Both are therefore simply run again after a lost lease
(``reruns_lost_leases``). The embedding call's tokens and cost go back with the result
(``ToolReply.usage``) and are added to the run's usage with an ``llm_call`` event
(``purpose: embedding``).
"""

from __future__ import annotations

from typing import Any

from agentspan.protocol.spec import RagIndexTool, RagSearchTool, ToolConfig
from agentspan.server.errors import DomainError, EmbeddingFailed
from agentspan.server.executors.base import ExecutorContext
from agentspan.server.executors.memory_index import (
    MAX_BATCH,
    MAX_ID_LENGTH,
    MemoryIndexes,
    NewEntry,
    entry_view,
)
from agentspan.server.executors.tools import ToolCall, ToolCallError, ToolExecutor, ToolReply


def chunks(text: str, size: int | None, overlap: int | None) -> list[str]:
    """``text`` cut into pieces of ``size`` characters, each starting ``size - overlap``
    after the previous one (the whole text when ``size`` is None or not exceeded)."""
    if size is None or len(text) <= size:
        return [text]
    step = size - (overlap or 0)
    if step <= 0:
        raise ToolCallError(
            f"chunkOverlap ({overlap}) must be smaller than chunkSize ({size})", retryable=False
        )
    pieces = []
    for start in range(0, len(text), step):
        pieces.append(text[start : start + size])
        if start + size >= len(text):
            break
    return pieces


class _RagExecutor(ToolExecutor):
    lease_seconds = 60.0
    concurrency = 8
    reruns_lost_leases = True  # idempotent by docId (index) or read-only (search)

    def __init__(self) -> None:
        self._indexes: MemoryIndexes | None = None

    def indexes(self, ctx: ExecutorContext) -> MemoryIndexes:
        if self._indexes is None or self._indexes.ctx is not ctx:
            self._indexes = MemoryIndexes(ctx)
        return self._indexes

    async def tool_of(self, call: ToolCall, ctx: ExecutorContext) -> ToolConfig:
        row = await ctx.store.get_execution(call.execution_id)
        if row is None:
            raise ToolCallError(f"execution {call.execution_id} is gone", retryable=False)
        for tool in (await ctx.spec_of(row)).tools:
            if tool.name == call.name:
                return tool
        raise ToolCallError(f"the agent has no tool {call.name!r}", retryable=False)


class RagIndexExecutor(_RagExecutor):
    kind = "rag_index"

    async def call(self, call: ToolCall, ctx: ExecutorContext) -> Any:
        tool = await self.tool_of(call, ctx)
        if not isinstance(tool, RagIndexTool):
            raise ToolCallError(f"tool {call.name!r} is not an index tool", retryable=False)
        config = tool.config
        text, doc_id, metadata = call.args.get("text"), call.args.get("docId"), call.args.get("metadata")
        if not isinstance(text, str) or not text.strip():
            raise ToolCallError("give the text to index as 'text' (a non-empty string)", retryable=False)
        if not isinstance(doc_id, str) or not 1 <= len(doc_id) <= MAX_ID_LENGTH - 8:
            raise ToolCallError(
                f"give 'docId' (a string of 1 to {MAX_ID_LENGTH - 8} characters)", retryable=False
            )
        if metadata is not None and not isinstance(metadata, dict):
            raise ToolCallError("'metadata' must be an object", retryable=False)
        pieces = chunks(text, config.chunk_size, config.chunk_overlap)
        if len(pieces) > MAX_BATCH:
            raise ToolCallError(
                f"the text makes {len(pieces)} chunks of {config.chunk_size} characters; at most {MAX_BATCH}",
                retryable=False,
            )
        single = len(pieces) == 1
        items = [
            NewEntry(
                content=piece,
                metadata={**(metadata or {}), "docId": doc_id, "chunk": n},
                id=doc_id if single else f"{doc_id}#{n}",
            )
            for n, piece in enumerate(pieces)
        ]
        try:
            rows, usage = await self.indexes(ctx).add(
                config.namespace,
                config.index,
                items,
                model=config.model_string(),
                dimensions=config.dimensions,
                doc_id=doc_id,
            )
        except EmbeddingFailed as exc:
            raise ToolCallError(exc.detail, retryable=exc.retryable) from None
        except DomainError as exc:
            raise ToolCallError(exc.detail, retryable=False) from None
        output = {
            "docId": doc_id,
            "namespace": config.namespace,
            "index": config.index,
            "chunks": len(rows),
            "ids": [r.id for r in rows],
            "embeddingModel": rows[0].embedding_model,
        }
        return ToolReply(output=output, usage=usage)


class RagSearchExecutor(_RagExecutor):
    kind = "rag_search"

    async def call(self, call: ToolCall, ctx: ExecutorContext) -> Any:
        tool = await self.tool_of(call, ctx)
        if not isinstance(tool, RagSearchTool):
            raise ToolCallError(f"tool {call.name!r} is not a search tool", retryable=False)
        config = tool.config
        query = call.args.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolCallError("give the search as 'query' (a non-empty string)", retryable=False)
        try:
            found, usage = await self.indexes(ctx).search(
                config.namespace,
                config.index,
                query,
                config.max_results,
                model=config.model_string(),
                dimensions=config.dimensions,
            )
        except EmbeddingFailed as exc:
            raise ToolCallError(exc.detail, retryable=exc.retryable) from None
        except DomainError as exc:
            raise ToolCallError(exc.detail, retryable=False) from None
        results = [entry_view(f.entry, f.score, f.how) for f in found]
        return ToolReply(output={"query": query, "count": len(results), "results": results}, usage=usage)
