"""Semantic memory kept by the server: entries per ``(namespace, index)``.

One row per entry: its id (unique in its index), text, metadata (JSON text), the
``doc_id`` an ``index_tool`` call stored it for (all chunks of one document share it, so
re-indexing a document replaces its chunks), and optionally an embedding: float32 bytes
(``protocol/relevance.py::pack_vector``) with the model that made it and its dimensions.
Ranking happens in the service (cosine or BM25 over the index's rows), so the SQL is the
same on both dialects and needs no vector extension; the service bounds how many rows an
index may hold, which bounds a search's read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agentspan.server.store.sql import Row, Runner, sql


@dataclass(frozen=True, slots=True)
class MemoryEntryRow:
    namespace: str
    index_name: str
    id: str
    content: str
    metadata: str
    """JSON text of an object."""
    doc_id: str | None
    embedding: bytes | None
    embedding_model: str | None
    dimensions: int | None
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, row: Row) -> MemoryEntryRow:
        ns, index, id_, content, metadata, doc_id, embedding, model, dims, created, updated = row
        return cls(
            str(ns),
            str(index),
            str(id_),
            str(content),
            str(metadata),
            None if doc_id is None else str(doc_id),
            None if embedding is None else bytes(embedding),
            None if model is None else str(model),
            None if dims is None else int(dims),
            float(created),
            float(updated),
        )


class MemoryEntriesTx(Protocol):
    async def put_memory_entry(self, row: MemoryEntryRow) -> bool:
        """Insert, or replace the content, metadata, document and embedding of the entry
        with this id (its ``created_at`` kept); True when it was new."""
        ...

    async def delete_memory_document(self, namespace: str, index_name: str, doc_id: str) -> int:
        """Remove every entry stored for ``doc_id``; how many there were."""
        ...

    async def delete_memory_entry(self, namespace: str, index_name: str, entry_id: str) -> bool:
        """False when there was none with this id."""
        ...

    async def clear_memory_index(self, namespace: str, index_name: str) -> int:
        """Remove every entry of the index; how many there were."""
        ...


class MemoryEntriesReads(Protocol):
    async def count_memory_entries(self, namespace: str, index_name: str) -> int: ...

    async def get_memory_entry(
        self, namespace: str, index_name: str, entry_id: str
    ) -> MemoryEntryRow | None: ...

    async def list_memory_entries(
        self, namespace: str, index_name: str, limit: int, after: tuple[float, str] | None = None
    ) -> list[MemoryEntryRow]:
        """Oldest first (``created_at``, then id), after the ``(created_at, id)`` cursor."""
        ...


_COLUMNS = (
    "namespace, index_name, id, content, metadata, doc_id, embedding, embedding_model, "
    "dimensions, created_at, updated_at"
)
_KEY = "namespace = :namespace AND index_name = :index_name"
EXISTS = sql(f"SELECT 1 FROM memory_entries WHERE {_KEY} AND id = :id")
UPSERT = sql(
    f"INSERT INTO memory_entries ({_COLUMNS}) VALUES (:namespace, :index_name, :id, :content, "
    ":metadata, :doc_id, :embedding, :embedding_model, :dimensions, :created_at, :updated_at) "
    "ON CONFLICT (namespace, index_name, id) DO UPDATE SET content = excluded.content, "
    "metadata = excluded.metadata, doc_id = excluded.doc_id, embedding = excluded.embedding, "
    "embedding_model = excluded.embedding_model, dimensions = excluded.dimensions, "
    "updated_at = excluded.updated_at"
)
DELETE_DOC = sql(f"DELETE FROM memory_entries WHERE {_KEY} AND doc_id = :doc_id")
DELETE_ONE = sql(f"DELETE FROM memory_entries WHERE {_KEY} AND id = :id")
CLEAR = sql(f"DELETE FROM memory_entries WHERE {_KEY}")
COUNT = sql(f"SELECT COUNT(*) FROM memory_entries WHERE {_KEY}")
GET = sql(f"SELECT {_COLUMNS} FROM memory_entries WHERE {_KEY} AND id = :id")
LIST = sql(f"SELECT {_COLUMNS} FROM memory_entries WHERE {_KEY} ORDER BY created_at, id LIMIT :limit")
LIST_AFTER = sql(
    f"SELECT {_COLUMNS} FROM memory_entries WHERE {_KEY} "
    "AND (created_at > :after_at OR (created_at = :after_at AND id > :after_id)) "
    "ORDER BY created_at, id LIMIT :limit"
)


class MemoryEntriesTxSql(Runner):
    __slots__ = ()

    async def put_memory_entry(self, row: MemoryEntryRow) -> bool:
        # The upsert is the guard against two writers; this read only says "new or not".
        new = await self._row(EXISTS, row.namespace, row.index_name, row.id) is None
        await self._run(
            UPSERT,
            row.namespace,
            row.index_name,
            row.id,
            row.content,
            row.metadata,
            row.doc_id,
            row.embedding,
            row.embedding_model,
            row.dimensions,
            row.created_at,
            row.updated_at,
        )
        return new

    async def delete_memory_document(self, namespace: str, index_name: str, doc_id: str) -> int:
        return await self._run(DELETE_DOC, namespace, index_name, doc_id)

    async def delete_memory_entry(self, namespace: str, index_name: str, entry_id: str) -> bool:
        return await self._run(DELETE_ONE, namespace, index_name, entry_id) > 0

    async def clear_memory_index(self, namespace: str, index_name: str) -> int:
        return await self._run(CLEAR, namespace, index_name)


class MemoryEntriesReadsSql(Runner):
    __slots__ = ()

    async def count_memory_entries(self, namespace: str, index_name: str) -> int:
        row = await self._row(COUNT, namespace, index_name)
        return int(row[0]) if row is not None else 0

    async def get_memory_entry(self, namespace: str, index_name: str, entry_id: str) -> MemoryEntryRow | None:
        row = await self._row(GET, namespace, index_name, entry_id)
        return MemoryEntryRow.of(row) if row is not None else None

    async def list_memory_entries(
        self, namespace: str, index_name: str, limit: int, after: tuple[float, str] | None = None
    ) -> list[MemoryEntryRow]:
        if after is None:
            rows = await self._rows(LIST, namespace, index_name, limit)
        else:
            rows = await self._rows(LIST_AFTER, namespace, index_name, after[0], after[1], limit)
        return [MemoryEntryRow.of(r) for r in rows]
