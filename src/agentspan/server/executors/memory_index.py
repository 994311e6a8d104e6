"""Semantic memory kept by the server: add, search and manage entries of an index.

Used by the REST API (``service/semantic_memory.py``), the RAG tools
(``executors/rag_tools.py``) and the recall at an agent's start (``executors/recall.py``).
An index is ``(namespace, index)``; its entries live in ``store/memory_entries.py``.

Relevance: with an embedding model (the caller's, else ``AGENTSPAN_EMBEDDING_MODEL``) the
texts are embedded through the provider layer when added and the query when searched;
entries embedded by that model rank by cosine similarity (above zero), then entries
without such a vector by BM25. Without a model every entry ranks by BM25 (words shared
with the query). The model call happens before any transaction, and a write is one
transaction (an entry is replaced by id, so writing it again changes nothing).

Bounds: names (``NAME_PATTERN``), ids, content and metadata sizes, results per search,
and entries per index (``AGENTSPAN_MAX_MEMORY_ENTRIES``), since a search reads them all.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agentspan.protocol.errors import ErrorCode, LimitInfo
from agentspan.protocol.relevance import cosine, pack_vector, ranked, unpack_vector
from agentspan.server.engine.model import LlmResult
from agentspan.server.errors import EmbeddingFailed, LimitExceeded, NotFound, ValidationFailed
from agentspan.server.executors.base import ExecutorContext, resolve_model
from agentspan.server.providers import Embedder, ProviderError
from agentspan.server.providers.base import MAX_EMBED_BATCH
from agentspan.server.providers.prices import PriceTable
from agentspan.server.store.base import MemoryEntryRow

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
"""Namespaces and index names: 1-128 letters, digits, ``_ . : -``."""
DEFAULT_INDEX = "default"
MAX_ID_LENGTH = 200
MAX_CONTENT_BYTES = 32 * 1024
MAX_METADATA_BYTES = 8 * 1024
MAX_RESULTS = 50
MAX_QUERY_BYTES = 8 * 1024
MAX_BATCH = 100
"""Entries one add request may carry."""


@dataclass(frozen=True, slots=True)
class NewEntry:
    content: str
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Found:
    entry: MemoryEntryRow
    score: float
    how: str
    """``embedding`` or ``lexical``: what ranked it."""


def check_name(kind: str, value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ValidationFailed(f"{kind} {value[:140]!r}: use 1-128 letters, digits, '_', '.', ':' or '-'")
    return value


def entry_view(row: MemoryEntryRow, score: float | None = None, how: str | None = None) -> dict[str, Any]:
    """An entry as the API and the tools show it (never its vector)."""
    view: dict[str, Any] = {
        "id": row.id,
        "content": row.content,
        "metadata": json.loads(row.metadata),
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }
    if row.doc_id is not None:
        view["docId"] = row.doc_id
    if row.embedding_model is not None:
        view["embeddingModel"] = row.embedding_model
        view["dimensions"] = row.dimensions
    if score is not None:
        view["score"] = round(score, 6)
        view["rankedBy"] = how
    return view


class MemoryIndexes:
    """The server's semantic memory, for one ``ExecutorContext`` (store and providers)."""

    def __init__(self, ctx: ExecutorContext, prices: PriceTable | None = None) -> None:
        self.ctx = ctx
        self.prices = prices or PriceTable.load()

    def model_for(self, requested: str | None) -> str | None:
        return requested or self.ctx.settings.embedding_model

    # -- writing ------------------------------------------------------------------------------

    async def add(
        self,
        namespace: str,
        index: str,
        items: Sequence[NewEntry],
        *,
        model: str | None = None,
        dimensions: int | None = None,
        doc_id: str | None = None,
    ) -> tuple[list[MemoryEntryRow], LlmResult | None]:
        """Store ``items`` (replacing entries with the same ids; with ``doc_id``, every
        earlier entry of that document first). Returns the rows and the embedding call."""
        check_name("namespace", namespace)
        check_name("index", index)
        if not items or len(items) > MAX_BATCH:
            raise ValidationFailed(f"give 1 to {MAX_BATCH} entries")
        for item in items:
            _check_entry(item)
        model = self.model_for(model)
        vectors: list[list[float]] | None = None
        usage: LlmResult | None = None
        if model:
            vectors, usage = await self.embed(model, [i.content for i in items], dimensions)
        now = time.time()
        rows = [
            MemoryEntryRow(
                namespace,
                index,
                item.id or uuid.uuid4().hex[:16],
                item.content,
                json.dumps(item.metadata, separators=(",", ":")),
                doc_id,
                None if vectors is None else pack_vector(vectors[n]),
                model if vectors is not None else None,
                None if vectors is None else len(vectors[n]),
                now,
                now,
            )
            for n, item in enumerate(items)
        ]
        limit = self.ctx.settings.max_memory_entries
        async with self.ctx.store.transaction() as tx:
            if doc_id is not None:
                await tx.delete_memory_document(namespace, index, doc_id)
            held = await tx.count_memory_entries(namespace, index)
            if held + len(rows) > limit:
                raise LimitExceeded(
                    f"memory index {namespace}/{index} holds {held} entries; adding {len(rows)} "
                    f"would pass this server's limit of {limit} (AGENTSPAN_MAX_MEMORY_ENTRIES)",
                    LimitInfo(
                        name="memory_entries",
                        setting="AGENTSPAN_MAX_MEMORY_ENTRIES",
                        max=limit,
                        actual=held + len(rows),
                        path=f"{namespace}/{index}",
                    ),
                )
            for row in rows:
                await tx.put_memory_entry(row)
        return rows, usage

    async def delete(self, namespace: str, index: str, entry_id: str) -> None:
        async with self.ctx.store.transaction() as tx:
            if not await tx.delete_memory_entry(namespace, index, entry_id):
                raise NotFound(
                    f"memory index {namespace}/{index} has no entry {entry_id[:MAX_ID_LENGTH]!r}",
                    ErrorCode.MEMORY_ENTRY_NOT_FOUND,
                )

    async def clear(self, namespace: str, index: str) -> int:
        check_name("namespace", namespace)
        check_name("index", index)
        async with self.ctx.store.transaction() as tx:
            return await tx.clear_memory_index(namespace, index)

    # -- reading ------------------------------------------------------------------------------

    async def get(self, namespace: str, index: str, entry_id: str) -> MemoryEntryRow:
        row = await self.ctx.store.get_memory_entry(namespace, index, entry_id)
        if row is None:
            raise NotFound(
                f"memory index {namespace}/{index} has no entry {entry_id[:MAX_ID_LENGTH]!r}",
                ErrorCode.MEMORY_ENTRY_NOT_FOUND,
            )
        return row

    async def search(
        self,
        namespace: str,
        index: str,
        query: str,
        top_k: int,
        *,
        model: str | None = None,
        dimensions: int | None = None,
    ) -> tuple[list[Found], LlmResult | None]:
        """The ``top_k`` entries most relevant to ``query``, best first, and the embedding
        call made for the query (None: ranked lexically only)."""
        check_name("namespace", namespace)
        check_name("index", index)
        if len(query.encode()) > MAX_QUERY_BYTES:
            raise ValidationFailed(f"the query is over {MAX_QUERY_BYTES} bytes")
        if not 1 <= top_k <= MAX_RESULTS:
            raise ValidationFailed(f"topK must be from 1 to {MAX_RESULTS}")
        rows = await self.ctx.store.list_memory_entries(
            namespace, index, self.ctx.settings.max_memory_entries
        )
        model = self.model_for(model)
        if not rows or not query.strip():
            return [], None
        found: list[Found] = []
        usage: LlmResult | None = None
        plain = rows
        if model and any(r.embedding_model == model for r in rows):
            vectors, usage = await self.embed(model, [query], dimensions)
            wanted = vectors[0]
            comparable = [r.embedding_model == model and r.dimensions == len(wanted) for r in rows]
            scored = [
                (cosine(wanted, unpack_vector(r.embedding or b"")), r)
                for r, ok in zip(rows, comparable, strict=True)
                if ok
            ]
            scored.sort(key=lambda pair: -pair[0])
            found = [Found(r, s, "embedding") for s, r in scored if s > 0][:top_k]
            # Entries without a vector of this model (or of another size) rank lexically.
            plain = [r for r, ok in zip(rows, comparable, strict=True) if not ok]
        room = top_k - len(found)
        if room > 0 and plain:
            found += [
                Found(plain[i], s, "lexical") for i, s in ranked(query, [r.content for r in plain], room)
            ]
        return found, usage

    # -- embeddings ---------------------------------------------------------------------------

    async def embed(
        self, model: str, texts: list[str], dimensions: int | None
    ) -> tuple[list[list[float]], LlmResult]:
        """The vectors of ``texts`` and the call's usage (``llm_call``-shaped, for the run's
        token and cost totals). Raises ``EmbeddingFailed``."""
        started = time.perf_counter()
        try:
            provider, model_name = await resolve_model(self.ctx, model)
            if not isinstance(provider, Embedder):
                raise ProviderError(f"model {model!r}: this provider has no embeddings API", retryable=False)
            vectors: list[list[float]] = []
            tokens = 0
            for start in range(0, len(texts), MAX_EMBED_BATCH):
                reply = await provider.embed(model_name, texts[start : start + MAX_EMBED_BATCH], dimensions)
                vectors += reply.vectors
                tokens += reply.prompt_tokens
        except ProviderError as exc:
            raise EmbeddingFailed(
                f"embedding with {model!r} failed: {exc}", retryable=exc.retryable
            ) from None
        except ValueError as exc:  # a malformed model string
            raise EmbeddingFailed(f"embedding model {model!r}: {exc}", retryable=False) from None
        usage = LlmResult(
            model=model,
            prompt_tokens=tokens,
            latency_ms=(time.perf_counter() - started) * 1000,
            cost_usd=self.prices.cost(model, tokens, 0, 0),
            finish_reason="embedding",
        )
        return vectors, usage


def _check_entry(item: NewEntry) -> None:
    size = len(item.content.encode())
    if not item.content.strip():
        raise ValidationFailed("an entry's content must not be empty")
    if size > MAX_CONTENT_BYTES:
        raise ValidationFailed(f"an entry's content has {size} bytes, over the limit of {MAX_CONTENT_BYTES}")
    if item.id is not None and not 1 <= len(item.id) <= MAX_ID_LENGTH:
        raise ValidationFailed(f"an entry id must have 1 to {MAX_ID_LENGTH} characters")
    if not isinstance(item.metadata, dict):
        raise ValidationFailed("an entry's metadata must be a JSON object")
    meta = len(json.dumps(item.metadata).encode())
    if meta > MAX_METADATA_BYTES:
        raise ValidationFailed(
            f"an entry's metadata has {meta} bytes, over the limit of {MAX_METADATA_BYTES}"
        )
