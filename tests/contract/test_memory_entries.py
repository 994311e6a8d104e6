"""The semantic-memory aggregate (store/memory_entries.py) on every backend: entries kept
per namespace and index, replaced by id, removed by document, listed oldest first with a
cursor, embeddings stored byte for byte."""

from __future__ import annotations

import pytest

from agentspan.protocol.relevance import pack_vector, unpack_vector
from agentspan.server.store import Store
from agentspan.server.store.base import MemoryEntryRow

pytestmark = pytest.mark.anyio


def entry(
    id_: str, content: str, at: float, *, ns: str = "ns", index: str = "default", doc: str | None = None
) -> MemoryEntryRow:
    vector = pack_vector([0.5, -1.25, 3.0])
    return MemoryEntryRow(ns, index, id_, content, '{"k": 1}', doc, vector, "openai/e", 3, at, at)


async def test_entries_are_kept_per_index_and_replaced_by_id(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.put_memory_entry(entry("a", "alpha", 1.0)) is True
        assert await tx.put_memory_entry(entry("b", "beta", 2.0)) is True
        assert await tx.put_memory_entry(entry("a", "other index", 1.0, index="docs")) is True
        assert await tx.put_memory_entry(entry("a", "other namespace", 1.0, ns="ns2")) is True
    async with store.transaction() as tx:
        replaced = MemoryEntryRow("ns", "default", "a", "alpha 2", "{}", None, None, None, None, 5.0, 5.0)
        assert await tx.put_memory_entry(replaced) is False
        assert await tx.count_memory_entries("ns", "default") == 2
    got = await store.get_memory_entry("ns", "default", "a")
    assert got is not None
    assert (got.content, got.metadata, got.embedding, got.created_at, got.updated_at) == (
        "alpha 2",
        "{}",
        None,
        1.0,  # the first write's time is kept
        5.0,
    )
    b = await store.get_memory_entry("ns", "default", "b")
    assert b is not None and b.embedding is not None
    assert unpack_vector(b.embedding) == [0.5, -1.25, 3.0]
    assert (b.embedding_model, b.dimensions, b.metadata) == ("openai/e", 3, '{"k": 1}')
    assert await store.get_memory_entry("ns", "default", "zzz") is None
    assert await store.count_memory_entries("ns", "docs") == 1
    assert await store.count_memory_entries("ns2", "default") == 1


async def test_listing_is_oldest_first_with_a_cursor(store: Store) -> None:
    async with store.transaction() as tx:
        for i, at in enumerate([3.0, 1.0, 2.0, 2.0]):
            await tx.put_memory_entry(entry(f"e{i}", f"text {i}", at))
    first = await store.list_memory_entries("ns", "default", 2)
    assert [r.id for r in first] == ["e1", "e2"]
    rest = await store.list_memory_entries("ns", "default", 10, after=(first[-1].created_at, first[-1].id))
    assert [r.id for r in rest] == ["e3", "e0"]


async def test_documents_entries_and_indexes_are_removed(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.put_memory_entry(entry("d1#0", "one", 1.0, doc="d1"))
        await tx.put_memory_entry(entry("d1#1", "two", 1.0, doc="d1"))
        await tx.put_memory_entry(entry("d2", "three", 2.0, doc="d2"))
        await tx.put_memory_entry(entry("x", "kept", 2.0, index="other"))
    async with store.transaction() as tx:
        assert await tx.delete_memory_document("ns", "default", "d1") == 2
        assert await tx.delete_memory_entry("ns", "default", "d2") is True
        assert await tx.delete_memory_entry("ns", "default", "d2") is False
    assert await store.count_memory_entries("ns", "default") == 0
    async with store.transaction() as tx:
        await tx.put_memory_entry(entry("y", "y", 3.0))
        assert await tx.clear_memory_index("ns", "default") == 1
    assert await store.count_memory_entries("ns", "default") == 0
    assert [r.id for r in await store.list_memory_entries("ns", "other", 10)] == ["x"]


async def test_a_rolled_back_write_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.put_memory_entry(entry("a", "alpha", 1.0))
            raise RuntimeError("the step failed")
    assert await store.get_memory_entry("ns", "default", "a") is None
