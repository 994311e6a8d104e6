"""The inbox aggregate (store/inbox.py) on every backend: numbered per execution, taken
oldest first by one call each, and nothing kept from a rolled-back transaction."""

from __future__ import annotations

import pytest

from agentspan.server.store import Store

pytestmark = pytest.mark.anyio


async def test_messages_are_taken_oldest_first_each_by_one_call(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.inbox_counts("e1") == (0, 0)
        for seq in (1, 2, 3):
            await tx.put_message("e1", seq, f'{{"n":{seq}}}', 10.0 + seq)
        await tx.put_message("e2", 1, '{"other":true}', 10.0)
        assert await tx.inbox_counts("e1") == (3, 3)
    async with store.transaction() as tx:
        assert await tx.take_messages("e1", "c1", 2, 20.0) == ['{"n":1}', '{"n":2}']
        assert await tx.inbox_counts("e1") == (3, 1)
        assert await tx.take_messages("e1", "c2", 5, 21.0) == ['{"n":3}']
        assert await tx.take_messages("e1", "c3", 5, 22.0) == []
    rows = await store.list_inbox("e1")
    assert [(r.seq, r.call_id, r.delivered_at) for r in rows] == [
        (1, "c1", 20.0),
        (2, "c1", 20.0),
        (3, "c2", 21.0),
    ]
    assert [(r.seq, r.call_id) for r in await store.list_inbox("e2")] == [(1, None)]


async def test_a_rolled_back_delivery_leaves_the_messages_queued(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.put_message("e1", 1, '{"n":1}', 1.0)
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            assert await tx.take_messages("e1", "c1", 1, 2.0) == ['{"n":1}']
            raise RuntimeError("the step failed")
    assert [(r.seq, r.call_id) for r in await store.list_inbox("e1")] == [(1, None)]


async def test_a_key_finds_the_message_it_was_sent_with_in_its_own_execution_only(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.put_message("e1", 1, '{"n":1}', 1.0, "k-1")
        await tx.put_message("e1", 2, '{"n":2}', 2.0)
        await tx.put_message("e1", 3, '{"n":3}', 3.0, "k-3")
        await tx.put_message("e2", 1, '{"n":1}', 1.0, "k-1")
    async with store.transaction() as tx:
        assert await tx.message_with_key("e1", "k-1") == 1
        assert await tx.message_with_key("e1", "k-3") == 3
        assert await tx.message_with_key("e2", "k-1") == 1
        assert await tx.message_with_key("e1", "k-2") is None
        assert await tx.message_with_key("e3", "k-1") is None
