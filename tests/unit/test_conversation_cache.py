"""The LLM executor's conversation cache reads only the messages it has not seen yet."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agentspan.protocol.messages import ChatMessage
from agentspan.server.executors.conversations import ConversationCache
from agentspan.server.store.base import ExecutionRow
from agentspan.server.store.sqlite import SqliteStore


class CountingStore(SqliteStore):
    """A real SQLite store that remembers what each conversation read asked for."""

    reads: list[tuple[str, int]]

    async def list_messages(self, execution_id: str, start: int = 0) -> list[ChatMessage]:
        self.reads.append((execution_id, start))
        return await super().list_messages(execution_id, start)


def _row(execution_id: str) -> ExecutionRow:
    return ExecutionRow(
        id=execution_id,
        parent_id=None,
        root_id=execution_id,
        agent_name="a",
        spec_hash="h",
        status="RUNNING",
        state="{}",
        version=0,
        event_seq=0,
        created_at=0.0,
        updated_at=0.0,
        input="{}",
    )


async def _append(store: SqliteStore, execution_id: str, start: int, n: int) -> None:
    async with store.transaction() as tx:
        await tx.append_messages(
            execution_id, start, [json.dumps({"role": "user", "content": str(start + k)}) for k in range(n)]
        )


def test_reads_only_the_tail_and_drops_the_least_recent_beyond_its_budget(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = CountingStore(tmp_path / "c.db")
        store.reads = []
        await store.open()
        try:
            async with store.transaction() as tx:
                await tx.put_spec("h", "{}")
                for eid in ("e1", "e2"):
                    await tx.insert_execution(_row(eid))
            await _append(store, "e1", 0, 3)
            cache = ConversationCache(max_bytes=5 * 210)
            assert [m["content"] for m in await cache.get(store, "e1", 3)] == ["0", "1", "2"]
            assert [m["content"] for m in await cache.get(store, "e1", 3)] == ["0", "1", "2"]  # no read
            await _append(store, "e1", 3, 2)
            got = await cache.get(store, "e1", 5)
            assert [m["content"] for m in got] == ["0", "1", "2", "3", "4"]
            got.append({"role": "user", "content": "the caller's own"})  # the caller's list, not the cache's
            assert len(await cache.get(store, "e1", 5)) == 5
            assert store.reads == [("e1", 0), ("e1", 3)]

            await _append(store, "e2", 0, 2)  # 5 + 2 messages > budget: e1, the least recent, goes
            assert [m["content"] for m in await cache.get(store, "e2", 2)] == ["0", "1"]
            assert [m["content"] for m in await cache.get(store, "e1", 5)] == ["0", "1", "2", "3", "4"]
            assert store.reads[-2:] == [("e2", 0), ("e1", 0)]
            assert cache.held_bytes <= cache.max_bytes

            # A conversation bigger than the whole budget is served but not kept.
            await _append(store, "e2", 2, 10)
            assert len(await cache.get(store, "e2", 12)) == 12
            assert len(await cache.get(store, "e2", 12)) == 12
            assert store.reads[-2:] == [("e2", 0), ("e2", 0)]

            before = cache.held_bytes
            cache.drop("e1")  # a finished execution's conversation goes at once
            cache.drop("e1")
            assert cache.held_bytes == before - 5 * 201  # 200 + one character each
        finally:
            await store.close()

    asyncio.run(scenario())
