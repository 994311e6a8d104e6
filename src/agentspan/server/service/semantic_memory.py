"""``MemoryService``: the REST side of the server's semantic memory (``/api/memory``):
add, search, list, get, delete and clear the entries of a namespace's index, over
``executors/memory_index.py`` (which the RAG tools and the recall at start use too)."""

from __future__ import annotations

import base64
import json

from agentspan.protocol.api import (
    AddMemoryRequest,
    ClearedMemory,
    MemoryEntries,
    MemoryEntryOut,
    SearchMemoryRequest,
)
from agentspan.server.errors import ValidationFailed
from agentspan.server.executors.memory_index import MemoryIndexes, NewEntry, check_name, entry_view
from agentspan.server.service.principal import Principal

MAX_PAGE = 200


class MemoryService:
    def __init__(self, indexes: MemoryIndexes) -> None:
        self.indexes = indexes

    def _check_model(self, model: str | None) -> None:
        """A malformed or unknown embedding model is the caller's mistake (400), not a
        failed embedding call (502)."""
        problem = self.indexes.ctx.providers.model_problem(model) if model else None
        if problem is not None:
            raise ValidationFailed(f"embeddingModel: {problem}")

    async def add(self, principal: Principal, namespace: str, body: AddMemoryRequest) -> MemoryEntries:
        self._check_model(body.embedding_model)
        items = [NewEntry(content=e.content, metadata=e.metadata, id=e.id) for e in body.entries]
        rows, usage = await self.indexes.add(
            namespace, body.index, items, model=body.embedding_model, dimensions=body.dimensions
        )
        return MemoryEntries(
            entries=[MemoryEntryOut.model_validate(entry_view(r)) for r in rows],
            embedding_model=usage.model if usage else None,
            embedding_tokens=usage.prompt_tokens if usage else None,
        )

    async def search(self, principal: Principal, namespace: str, body: SearchMemoryRequest) -> MemoryEntries:
        self._check_model(body.embedding_model)
        found, usage = await self.indexes.search(
            namespace,
            body.index,
            body.query,
            body.top_k,
            model=body.embedding_model,
            dimensions=body.dimensions,
        )
        return MemoryEntries(
            entries=[MemoryEntryOut.model_validate(entry_view(f.entry, f.score, f.how)) for f in found],
            embedding_model=usage.model if usage else None,
            embedding_tokens=usage.prompt_tokens if usage else None,
        )

    async def list(
        self, principal: Principal, namespace: str, index: str, limit: int, cursor: str | None
    ) -> MemoryEntries:
        check_name("namespace", namespace)
        check_name("index", index)
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationFailed(f"limit must be from 1 to {MAX_PAGE}")
        after = _decode(cursor) if cursor else None
        rows = await self.indexes.ctx.store.list_memory_entries(namespace, index, limit + 1, after)
        page, more = rows[:limit], len(rows) > limit
        return MemoryEntries(
            entries=[MemoryEntryOut.model_validate(entry_view(r)) for r in page],
            next_cursor=_encode(page[-1].created_at, page[-1].id) if more and page else None,
        )

    async def get(self, principal: Principal, namespace: str, index: str, entry_id: str) -> MemoryEntryOut:
        check_name("namespace", namespace)
        check_name("index", index)
        return MemoryEntryOut.model_validate(entry_view(await self.indexes.get(namespace, index, entry_id)))

    async def delete(self, principal: Principal, namespace: str, index: str, entry_id: str) -> None:
        check_name("namespace", namespace)
        check_name("index", index)
        await self.indexes.delete(namespace, index, entry_id)

    async def clear(self, principal: Principal, namespace: str, index: str) -> ClearedMemory:
        return ClearedMemory(deleted=await self.indexes.clear(namespace, index))


def _encode(created_at: float, entry_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at, entry_id]).encode()).decode()


def _decode(cursor: str) -> tuple[float, str]:
    try:
        at, entry_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return float(at), str(entry_id)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(f"cursor {cursor[:40]!r} is not one this server gave") from exc
