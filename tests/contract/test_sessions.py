"""The session-memory aggregate (store/memory.py) on every backend: append-only, newest
messages read back oldest first, a run's exchange recorded once."""

from __future__ import annotations

import json

import pytest

from agentspan.server.store import Store

pytestmark = pytest.mark.anyio


def msgs(*texts: str) -> list[str]:
    return [json.dumps({"role": "user", "content": t}) for t in texts]


async def test_a_session_reads_back_its_newest_messages_oldest_first(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.append_session_messages("s1", "run-1", msgs("a", "b"), 1.0)
        await tx.append_session_messages("other", "run-2", msgs("x"), 1.5)
    async with store.transaction() as tx:
        await tx.append_session_messages("s1", "run-3", msgs("c", "d"), 2.0)
        assert await tx.recent_session_messages("s1", 3) == msgs("b", "c", "d")
    assert await store.recent_session_messages("s1", 100) == msgs("a", "b", "c", "d")
    assert await store.recent_session_messages("other", 100) == msgs("x")
    assert await store.recent_session_messages("s1", 0) == []
    assert await store.recent_session_messages("nobody", 10) == []


async def test_recording_a_run_again_changes_nothing(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.append_session_messages("s1", "run-1", msgs("a", "b"), 1.0)
    async with store.transaction() as tx:
        await tx.append_session_messages("s1", "run-1", msgs("a", "b"), 2.0)
    assert await store.recent_session_messages("s1", 10) == msgs("a", "b")


async def test_a_rolled_back_run_leaves_nothing_in_its_session(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.append_session_messages("s1", "run-1", msgs("a"), 1.0)
            raise RuntimeError("step failed")
    assert await store.recent_session_messages("s1", 10) == []
