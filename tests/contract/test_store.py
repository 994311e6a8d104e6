"""The store contract: what the driver, the task queue and the API rely on, per backend.

Every test that takes the ``store`` fixture runs against each backend in
``conftest.BACKENDS``. What only the embedded store does (its file, its lock, its
migrations table) is in ``test_store_sqlite.py``; free-text search and forks are in
``test_store_forks_search.py``; the row builders both use are in ``support/store_rows.py``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

import pytest

from agentspan.server.store import ConflictError, Store, StoreError

from support.store_rows import (
    LEASE,
    SPEC_HASH,
    add_executions,
    add_tasks,
    claim,
    event,
    execution,
    get_task,
    task,
)

pytestmark = pytest.mark.anyio

# What appending an event with a sequence number already taken raises. The interface
# names no error for it; add each backend's driver error here.
DUPLICATE_KEY_ERRORS: tuple[type[BaseException], ...] = (StoreError, sqlite3.IntegrityError)


class Boom(Exception):
    pass


# --------------------------------------------------------------------------- schema and lifecycle


async def test_a_new_store_is_ready_to_use(store: Store) -> None:
    assert await store.get_execution("nope") is None
    assert await store.get_spec(SPEC_HASH) is None
    assert await store.list_events("nope", 0, 100) == []
    assert await store.list_messages("nope") == []
    assert await store.list_executions(
        status=None, agent_name=None, parent_id=None, roots_only=False, limit=10, offset=0
    ) == (0, [])
    assert await store.next_due("worker", None) is None
    await add_executions(store, execution("e1"))
    assert await store.get_execution("e1") == execution("e1")


async def test_reopening_keeps_the_data(reopenable: Callable[[], Store]) -> None:
    first = reopenable()
    await first.open()
    try:
        await add_executions(first, execution("e1"))
        await add_tasks(first, task("t1"))
        async with first.transaction() as tx:
            await tx.append_events([event("e1", 1)])
            await tx.append_messages("e1", 0, ['{"role":"user","content":"hi"}'])
    finally:
        await first.close()

    second = reopenable()
    await second.open()
    try:
        assert await second.get_execution("e1") == execution("e1")
        assert [e.seq for e in await second.list_events("e1", 0, 10)] == [1]
        assert await second.list_messages("e1") == [{"role": "user", "content": "hi"}]
        assert await get_task(second, "t1") == task("t1")
        assert await second.get_spec(SPEC_HASH) == '{"name":"assistant"}'
    finally:
        await second.close()


# --------------------------------------------------------------------------- executions


async def test_an_execution_round_trips(store: Store) -> None:
    row = execution("e1", idempotency_key="k1")
    await add_executions(store, row)
    got = await store.get_execution("e1")
    assert got == row
    async with store.transaction() as tx:
        assert await tx.get_execution("e1") == row
        assert await tx.get_spec(SPEC_HASH) == '{"name":"assistant"}'


async def test_update_checks_the_version(store: Store) -> None:
    await add_executions(store, execution("e1"))
    row = await store.get_execution("e1")
    assert row is not None
    stale = await store.get_execution("e1")
    assert stale is not None

    row.version = 1
    row.status = "COMPLETED"
    row.state = '{"turn": 1}'
    row.event_seq = 4
    row.updated_at = 9.0
    async with store.transaction() as tx:
        await tx.update_execution(row, expected_version=0)
    saved = await store.get_execution("e1")
    assert saved is not None
    assert (saved.version, saved.status, saved.state, saved.event_seq, saved.updated_at) == (
        1,
        "COMPLETED",
        '{"turn": 1}',
        4,
        9.0,
    )

    # a writer that read version 0 loses
    stale.version = 1
    stale.status = "FAILED"
    with pytest.raises(ConflictError):
        async with store.transaction() as tx:
            await tx.update_execution(stale, expected_version=0)
    after = await store.get_execution("e1")
    assert after is not None
    assert after.status == "COMPLETED"
    assert after.version == 1


async def test_updating_a_missing_execution_is_a_conflict(store: Store) -> None:
    with pytest.raises(ConflictError):
        async with store.transaction() as tx:
            await tx.update_execution(execution("ghost"), expected_version=0)


async def test_a_conflict_rolls_back_the_whole_step(store: Store) -> None:
    await add_executions(store, execution("e1"))
    with pytest.raises(ConflictError):
        async with store.transaction() as tx:
            await tx.append_events([event("e1", 1)])
            await tx.upsert_task(task("t1"))
            row = execution("e1")
            row.version = 6
            await tx.update_execution(row, expected_version=5)
    assert await store.list_events("e1", 0, 10) == []
    assert await get_task(store, "t1") is None


async def test_a_failed_transaction_leaves_no_trace(store: Store) -> None:
    await add_executions(store, execution("e1"))
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            await tx.put_spec("b" * 64, "{}")
            await tx.insert_execution(execution("e2"))
            row = execution("e1")
            row.version, row.status = 1, "COMPLETED"
            await tx.update_execution(row, expected_version=0)
            await tx.append_events([event("e1", 1), event("e1", 2)])
            await tx.append_messages("e1", 0, ['{"role":"user"}'])
            await tx.upsert_task(task("t1"))
            assert await tx.get_execution("e2") is not None  # visible inside the transaction
            raise Boom
    assert await store.get_execution("e2") is None
    e1 = await store.get_execution("e1")
    assert e1 is not None and e1.status == "RUNNING" and e1.version == 0
    assert await store.get_spec("b" * 64) is None
    assert await store.list_events("e1", 0, 10) == []
    assert await store.list_messages("e1") == []
    assert await get_task(store, "t1") is None
    # and the store is still usable
    await add_tasks(store, task("t2"))
    assert await get_task(store, "t2") is not None


async def test_find_by_idempotency_key_ignores_failed_runs(store: Store) -> None:
    await add_executions(
        store,
        execution("old", idempotency_key="k", status="FAILED", created_at=1),
        execution("live", idempotency_key="k", status="RUNNING", created_at=2),
        execution("other", idempotency_key="k", agent_name="someone_else", created_at=3),
    )
    async with store.transaction() as tx:
        found = await tx.find_by_idempotency_key("assistant", "k")
        assert found is not None and found.id == "live"
        assert await tx.find_by_idempotency_key("assistant", "nope") is None
    async with store.transaction() as tx:
        live = await tx.get_execution("live")
        assert live is not None
        live.version, live.status = 1, "TERMINATED"
        await tx.update_execution(live, expected_version=0)
        assert await tx.find_by_idempotency_key("assistant", "k") is None


# --------------------------------------------------------------------------- events, messages, specs


async def test_events_list_in_order_after_a_sequence_number(store: Store) -> None:
    await add_executions(store, execution("e1"), execution("e2"))
    async with store.transaction() as tx:
        await tx.append_events([event("e1", 1, "thinking"), event("e1", 2, "tool_call"), event("e2", 1)])
    async with store.transaction() as tx:
        await tx.append_events([event("e1", 3, "tool_result"), event("e1", 4), event("e1", 5, "done")])

    all_events = await store.list_events("e1", 0, 100)
    assert [e.seq for e in all_events] == [1, 2, 3, 4, 5]
    assert all_events[0] == event("e1", 1, "thinking")
    assert [e.type for e in all_events] == ["thinking", "tool_call", "tool_result", "thinking", "done"]
    assert json.loads(all_events[2].payload) == {"n": 3}
    assert [e.seq for e in await store.list_events("e1", 2, 100)] == [3, 4, 5]
    assert [e.seq for e in await store.list_events("e1", 2, 2)] == [3, 4]
    assert await store.list_events("e1", 5, 100) == []
    assert [(e.execution_id, e.seq) for e in await store.list_events("e2", 0, 100)] == [("e2", 1)]


async def test_a_taken_event_sequence_number_cannot_be_reused(store: Store) -> None:
    await add_executions(store, execution("e1"))
    async with store.transaction() as tx:
        await tx.append_events([event("e1", 1, "thinking")])
    with pytest.raises(DUPLICATE_KEY_ERRORS):
        async with store.transaction() as tx:
            await tx.append_events([event("e1", 2), event("e1", 1, "impostor")])
    assert [(e.seq, e.type) for e in await store.list_events("e1", 0, 10)] == [(1, "thinking")]


async def test_messages_round_trip_in_order(store: Store) -> None:
    await add_executions(store, execution("e1"), execution("e2"))
    first = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": []}]
    second = [{"role": "tool", "tool_call_id": "A", "name": "lookup", "content": "ü ✓"}]
    async with store.transaction() as tx:
        await tx.append_messages("e1", 0, [json.dumps(m) for m in first])
        await tx.append_messages("e2", 0, [json.dumps({"role": "user", "content": "other"})])
    async with store.transaction() as tx:
        await tx.append_messages("e1", 2, [json.dumps(m) for m in second])
    assert await store.list_messages("e1") == first + second
    assert await store.list_messages("e2") == [{"role": "user", "content": "other"}]
    # The tail from an index on (how the dispatcher catches up on a cached conversation).
    assert await store.list_messages("e1", start=2) == second
    assert await store.list_messages("e1", start=1) == first[1:] + second


async def test_messages_are_read_inside_a_step(store: Store) -> None:
    """A callback asking for the conversation reads it in the step that asks (driver)."""
    await add_executions(store, execution("e1"))
    async with store.transaction() as tx:
        await tx.append_messages("e1", 0, [json.dumps({"role": "user", "content": "hi"})])
    async with store.transaction() as tx:
        await tx.append_messages(
            "e1", 1, [json.dumps({"role": "assistant", "content": "yo", "tool_calls": []})]
        )
        assert [m["content"] for m in await tx.list_messages("e1")] == ["hi", "yo"]
        assert await tx.list_messages("e1", start=1) == [
            {"role": "assistant", "content": "yo", "tool_calls": []}
        ]
    assert await store.list_messages("e1", start=3) == []


async def test_putting_a_spec_twice_keeps_the_first(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.put_spec(SPEC_HASH, '{"v":1}')
    async with store.transaction() as tx:
        await tx.put_spec(SPEC_HASH, '{"v":1}')
        await tx.put_spec(SPEC_HASH, '{"v":"other"}')
    assert await store.get_spec(SPEC_HASH) == '{"v":1}'
    assert await store.get_spec("b" * 64) is None


# --------------------------------------------------------------------------- tasks and leases


async def test_a_pending_task_is_claimable_only_when_due(store: Store) -> None:
    await add_tasks(store, task("t1", available_at=10.0, timeout_seconds=5.0))
    assert await claim(store, now=9.99) == []

    (claimed,) = await claim(store, now=10.0, worker_id="w1")
    assert claimed.id == "t1"
    assert claimed.attempt == 1
    assert claimed.lease_id
    assert claimed.lease_expires_at == 10.0 + LEASE
    assert claimed.worker_id == "w1"
    assert claimed.call_id == "call-t1"
    assert claimed.idempotency_key == "e1:t1"
    assert claimed.timeout_seconds == 5.0
    assert json.loads(claimed.input) == {"args": {"q": "t1"}}

    stored = await get_task(store, "t1")
    assert stored is not None
    assert stored.status == "leased"
    assert (stored.attempt, stored.lease_id, stored.lease_expires_at, stored.worker_id) == (
        1,
        claimed.lease_id,
        10.0 + LEASE,
        "w1",
    )


async def test_a_leased_task_is_claimable_again_only_after_its_lease_expires(store: Store) -> None:
    await add_tasks(store, task("t1"))
    (first,) = await claim(store, now=100.0, worker_id="w1")
    assert await claim(store, now=100.0 + LEASE - 0.01, worker_id="w2") == []

    (second,) = await claim(store, now=100.0 + LEASE, worker_id="w2")
    assert second.id == "t1"
    assert second.attempt == 2
    assert second.lease_id and second.lease_id != first.lease_id
    assert second.worker_id == "w2"
    assert second.status == "leased"  # the row as it was: a lease was lost
    stored = await get_task(store, "t1")
    assert stored is not None and stored.lease_id == second.lease_id


async def test_lease_ids_are_unique_across_claims(store: Store) -> None:
    await add_tasks(store, *(task(f"t{i}") for i in range(20)))
    claimed = await claim(store, now=1.0, count=20)
    assert len({t.lease_id for t in claimed}) == 20


async def test_only_the_current_lease_can_be_extended(store: Store) -> None:
    await add_tasks(store, task("t1"))
    (first,) = await claim(store, now=0.0)
    assert first.lease_id is not None
    async with store.transaction() as tx:
        assert await tx.extend_lease("t1", first.lease_id, 50.0) is True
    stored = await get_task(store, "t1")
    assert stored is not None and stored.lease_expires_at == 50.0
    assert await claim(store, now=40.0) == []  # the extension holds

    (second,) = await claim(store, now=50.0)
    async with store.transaction() as tx:
        assert await tx.extend_lease("t1", first.lease_id, 500.0) is False
        assert await tx.extend_lease("t1", "not-a-lease", 500.0) is False
        assert await tx.extend_lease("missing", first.lease_id, 500.0) is False
    stored = await get_task(store, "t1")
    assert stored is not None
    assert stored.lease_id == second.lease_id
    assert stored.lease_expires_at == 50.0 + LEASE


async def test_a_pending_task_has_no_lease_to_extend(store: Store) -> None:
    await add_tasks(store, task("t1"))
    (claimed,) = await claim(store, now=0.0)
    assert claimed.lease_id is not None
    await add_tasks(store, task("t1", available_at=5.0))  # re-queued for a retry
    async with store.transaction() as tx:
        assert await tx.extend_lease("t1", claimed.lease_id, 99.0) is False


async def test_upserting_a_task_again_requeues_it(store: Store) -> None:
    await add_tasks(store, task("t1"))
    (claimed,) = await claim(store, now=0.0)
    async with store.transaction() as tx:
        await tx.mark_stalled(["t1"])
    retry = task("t1", available_at=7.5)
    retry.input = json.dumps({"args": {"q": "retry"}})
    retry.attempt = claimed.attempt  # the engine numbers runs: the next claim is run 2
    await add_tasks(store, retry)

    stored = await get_task(store, "t1")
    assert stored is not None
    assert stored.status == "pending"
    assert stored.lease_id is None and stored.lease_expires_at is None
    assert stored.available_at == 7.5
    assert json.loads(stored.input) == {"args": {"q": "retry"}}
    assert stored.stalled is False
    assert stored.attempt == claimed.attempt  # the upsert takes the caller's run count
    assert await claim(store, now=7.0) == []
    (again,) = await claim(store, now=7.5)
    assert again.attempt == 2


async def test_delete_task_and_delete_tasks_of(store: Store) -> None:
    await add_tasks(
        store,
        task("a1", execution_id="A"),
        task("a2", execution_id="A", kind="llm", name="llm"),
        task("a3", execution_id="A", kind="timer", name="timer", available_at=99.0),
        task("b1", execution_id="B"),
    )
    await claim(store, now=0.0, kind="llm")
    async with store.transaction() as tx:
        removed = await tx.delete_tasks_of("A")
        assert sorted(t.id for t in removed) == ["a1", "a2", "a3"]
        assert {t.id: t.status for t in removed}["a2"] == "leased"
        assert all(t.execution_id == "A" for t in removed)
        assert await tx.delete_tasks_of("A") == []
        assert await tx.get_task("b1") is not None
        await tx.delete_task("b1")
        assert await tx.get_task("b1") is None
        await tx.delete_task("b1")  # deleting twice is harmless
    assert await claim(store, now=1000.0, kind="worker") == []
    assert await claim(store, now=1000.0, kind="timer") == []


async def test_take_task_deletes_only_under_the_current_lease(store: Store) -> None:
    await add_tasks(store, task("t1"), task("t2"))
    first, _ = await claim(store, now=0.0, count=2)
    assert first.id == "t1" and first.lease_id is not None
    async with store.transaction() as tx:
        assert await tx.take_task("t1", "not-the-lease") is None
        assert await tx.take_task("t2", first.lease_id) is None  # another task's lease
        assert await tx.get_task("t1") is not None  # nothing was deleted
    async with store.transaction() as tx:
        taken = await tx.take_task("t1", first.lease_id)
        assert taken is not None and taken.id == "t1" and taken.lease_id == first.lease_id
        assert taken.status == "leased" and taken.attempt == 1
        assert await tx.get_task("t1") is None
        assert await tx.take_task("t1", first.lease_id) is None  # taken once only

    # After the lease moved to another claimer, the old lease takes nothing.
    (moved,) = await claim(store, now=LEASE + 1.0)
    assert moved.id == "t2"
    async with store.transaction() as tx:
        assert await tx.take_task("t2", "stale") is None
        assert await tx.take_task("t2", moved.lease_id or "") is not None


async def test_claim_respects_kind_names_and_count(store: Store) -> None:
    await add_tasks(
        store,
        task("a1", name="a", available_at=3.0),
        task("a2", name="a", available_at=1.0),
        task("b1", name="b", available_at=2.0),
        task("c1", name="c", available_at=0.0),
        task("l1", kind="llm", name="llm", available_at=0.0),
    )
    first = await claim(store, now=10.0, names=["a", "b"], count=2)
    assert [t.id for t in first] == ["a2", "b1"]  # earliest due first
    second = await claim(store, now=10.0, names=["a", "b"], count=2)
    assert [t.id for t in second] == ["a1"]
    assert await claim(store, now=10.0, names=["a", "b"]) == []
    assert await claim(store, now=10.0, names=[]) == []
    rest = await claim(store, now=10.0, names=None)
    assert [t.id for t in rest] == ["c1"]  # workers never get llm tasks
    (llm,) = await claim(store, now=10.0, kind="llm")
    assert llm.id == "l1"


async def test_next_due_is_the_earliest_due_time_or_lease_expiry(store: Store) -> None:
    assert await store.next_due("worker", None) is None
    await add_tasks(
        store,
        task("a1", name="a", available_at=50.0),
        task("a2", name="a", available_at=30.0),
        task("b1", name="b", available_at=40.0),
        task("l1", kind="llm", name="llm", available_at=5.0),
    )
    assert await store.next_due("worker", None) == 30.0
    assert await store.next_due("worker", ["b"]) == 40.0
    assert await store.next_due("worker", ["zzz"]) is None
    assert await store.next_due("worker", []) is None
    assert await store.next_due("llm", None) == 5.0

    (leased,) = await claim(store, now=30.0, names=["a"])
    assert leased.id == "a2"
    # a2 is leased until 60: the earliest is now b1's due time
    assert await store.next_due("worker", None) == 40.0
    assert await store.next_due("worker", ["a"]) == 50.0
    await claim(store, now=40.0, names=["b"])
    await claim(store, now=50.0, names=["a"])
    assert await store.next_due("worker", None) == 30.0 + LEASE  # the first lease to expire


async def test_stalled_candidates_are_old_pending_worker_tasks_nobody_polls(store: Store) -> None:
    await add_tasks(
        store,
        task("orphan", name="orphan", available_at=0.0),
        task("served", name="served", available_at=0.0),
        task("stale_poll", name="stale_poll", available_at=0.0),
        task("fresh", name="fresh", available_at=95.0),
        task("leased", name="leased", available_at=0.0),
        task("lost", name="lost", available_at=0.0),
        task("llm", kind="llm", name="llm", available_at=0.0),
        task("timer", kind="timer", name="timer", available_at=0.0),
    )
    await claim(store, now=89.0, names=["leased"])  # lease still running: not stalled
    await claim(store, now=1.0, names=["lost"])  # its worker died long ago and nobody polls
    await store.record_poll(["served"], "w1", 85.0)
    await store.record_poll(["stale_poll"], "w1", 50.0)
    await store.record_poll(["leased"], "w1", 50.0)

    candidates = await store.stalled_candidates(older_than=90.0, poll_since=80.0)
    assert sorted(t.id for t in candidates) == ["lost", "orphan", "stale_poll"]
    assert all(t.kind == "worker" for t in candidates)
    async with store.transaction() as tx:
        await tx.mark_stalled(["lost"])

    # a later poll clears a name
    await store.record_poll(["stale_poll"], "w2", 91.0)
    candidates = await store.stalled_candidates(older_than=90.0, poll_since=80.0)
    assert [t.id for t in candidates] == ["orphan"]

    async with store.transaction() as tx:
        await tx.mark_stalled(["orphan"])
    assert await store.stalled_candidates(older_than=90.0, poll_since=80.0) == []
    orphan = await get_task(store, "orphan")
    assert orphan is not None and orphan.stalled is True
    # a stalled task is still claimable, and says so
    (claimed,) = await claim(store, now=100.0, names=["orphan"])
    assert claimed.stalled is True


async def test_release_server_leases_makes_server_tasks_claimable_now(store: Store) -> None:
    await add_tasks(
        store,
        task("llm1", kind="llm", name="llm"),
        task("timer1", kind="timer", name="timer"),
        task("llm2", kind="llm", name="llm", available_at=500.0),
        task("w1", kind="worker"),
    )
    (llm,) = await claim(store, now=1.0, kind="llm")
    (timer,) = await claim(store, now=1.0, kind="timer")
    (worker,) = await claim(store, now=1.0, kind="worker")
    assert await claim(store, now=2.0, kind="llm") == []

    assert await store.release_server_leases(["llm", "timer"]) == 2

    (llm_again,) = await claim(store, now=2.0, kind="llm")
    assert llm_again.id == "llm1"
    assert llm_again.lease_id != llm.lease_id
    assert llm_again.attempt == 2
    (timer_again,) = await claim(store, now=2.0, kind="timer")
    assert timer_again.id == timer.id
    assert await claim(store, now=2.0, kind="worker") == []  # worker leases are untouched
    stored = await get_task(store, "w1")
    assert stored is not None and stored.lease_id == worker.lease_id
    pending = await get_task(store, "llm2")
    assert pending is not None and pending.status == "pending" and pending.available_at == 500.0


# --------------------------------------------------------------------------- listing


async def seed_listing(store: Store) -> None:
    await add_executions(
        store,
        execution("r1", agent_name="alpha", status="COMPLETED", created_at=1.0),
        execution("r2", agent_name="beta", status="RUNNING", created_at=2.0),
        execution("r3", agent_name="alpha", status="RUNNING", created_at=3.0),
        execution("c1", agent_name="helper", status="RUNNING", created_at=4.0, parent_id="r3"),
        execution("c2", agent_name="alpha", status="FAILED", created_at=5.0, parent_id="r3"),
    )


async def listed(
    store: Store,
    *,
    status: str | None = None,
    agent_name: str | None = None,
    parent_id: str | None = None,
    roots_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[str]]:
    total, rows = await store.list_executions(
        status=status,
        agent_name=agent_name,
        parent_id=parent_id,
        roots_only=roots_only,
        limit=limit,
        offset=offset,
    )
    return total, [r.id for r in rows]


async def test_list_executions_newest_first_with_filters(store: Store) -> None:
    await seed_listing(store)
    assert await listed(store) == (5, ["c2", "c1", "r3", "r2", "r1"])
    assert await listed(store, status="RUNNING") == (3, ["c1", "r3", "r2"])
    assert await listed(store, agent_name="alpha") == (3, ["c2", "r3", "r1"])
    assert await listed(store, roots_only=True) == (3, ["r3", "r2", "r1"])
    assert await listed(store, parent_id="r3") == (2, ["c2", "c1"])
    assert await listed(store, agent_name="alpha", roots_only=True, status="RUNNING") == (1, ["r3"])
    assert await listed(store, status="TIMED_OUT") == (0, [])


async def test_list_executions_paginates_with_the_full_total(store: Store) -> None:
    await seed_listing(store)
    assert await listed(store, limit=2, offset=0) == (5, ["c2", "c1"])
    assert await listed(store, limit=2, offset=2) == (5, ["r3", "r2"])
    assert await listed(store, limit=2, offset=4) == (5, ["r1"])
    assert await listed(store, limit=2, offset=10) == (5, [])
    assert await listed(store, roots_only=True, limit=1, offset=1) == (3, ["r2"])


async def test_list_executions_keyset_pages_newest_first_with_ties_by_id(store: Store) -> None:
    await add_executions(
        store,
        *(execution(f"t{i}", agent_name="alpha", created_at=7.0) for i in range(3)),
        execution("old", agent_name="beta", created_at=6.0),
    )

    async def page(before: tuple[float, str] | None, **filters: str) -> tuple[int, list[str]]:
        total, rows = await store.list_executions(
            status=None,
            agent_name=filters.get("agent_name"),
            parent_id=None,
            roots_only=False,
            limit=2,
            offset=0,
            before=before,
        )
        return total, [r.id for r in rows]

    assert await page(None) == (4, ["t2", "t1"])
    assert await page((7.0, "t1")) == (4, ["t0", "old"])
    assert await page((6.0, "old")) == (4, [])
    assert await page((7.0, "t1"), agent_name="alpha") == (3, ["t0"])


async def test_children_of_lists_direct_children_oldest_first(store: Store) -> None:
    await seed_listing(store)
    assert [r.id for r in await store.children_of("r3")] == ["c1", "c2"]
    assert await store.children_of("r1") == []
    (child, _) = await store.children_of("r3")
    assert child.parent_id == "r3" and child.root_id == "r3"


async def test_stalled_calls_are_found_by_execution_for_one_step_each(store: Store) -> None:
    # The watchdog asks which executions have stalled calls, then reads all of one
    # execution's in the transaction that reports them (one step per execution).
    await add_tasks(
        store,
        *(task(f"a{i}", execution_id="ea", name=f"tool_{i}", available_at=float(i)) for i in range(5)),
        task("b1", execution_id="eb", name="tool_b", available_at=0.0),
        task("b_fresh", execution_id="eb", name="tool_b2", available_at=95.0),
        task("c_served", execution_id="ec", name="served", available_at=0.0),
        task("d_llm", execution_id="ed", kind="llm", name="llm", available_at=0.0),
    )
    await store.record_poll(["served"], "w1", 85.0)

    assert sorted(await store.stalled_executions(90.0, 80.0, 10)) == ["ea", "eb"]
    assert len(await store.stalled_executions(90.0, 80.0, 1)) == 1
    async with store.transaction() as tx:
        found = await tx.stalled_tasks_of("ea", 90.0, 80.0, 100)
        assert [t.id for t in found] == ["a0", "a1", "a2", "a3", "a4"]  # oldest first
        assert [t.id for t in await tx.stalled_tasks_of("ea", 90.0, 80.0, 2)] == ["a0", "a1"]
        assert [t.id for t in await tx.stalled_tasks_of("eb", 90.0, 80.0, 100)] == ["b1"]
        assert await tx.stalled_tasks_of("ec", 90.0, 80.0, 100) == []
        await tx.mark_stalled([t.id for t in found])
    assert await store.stalled_executions(90.0, 80.0, 10) == ["eb"]


# --------------------------------------------------------------------------- operator reads (store/ops.py)


async def test_queue_counts_open_executions_and_workers_seen(store: Store) -> None:
    await add_executions(
        store,
        execution("e1"),
        execution("e2"),
        execution("e3", status="PAUSED"),
        execution("e4", status="COMPLETED"),
    )
    await add_tasks(
        store,
        task("t1", execution_id="e1", name="lookup"),
        task("t2", execution_id="e1", name="lookup"),
        task("t3", execution_id="e2", name="search"),
        task("m1", execution_id="e2", kind="llm", name="openai/gpt-4o"),
    )
    assert len(await claim(store, 10.0, names=["search"])) == 1
    async with store.transaction() as tx:
        await tx.mark_stalled(["t2"])
    await store.record_poll(["search"], "worker-a", 100.0)
    await store.record_poll(["lookup"], "worker-b", 20.0)

    counts = {(q.kind, q.name, q.status, q.stalled): q.count for q in await store.queue_counts()}
    assert counts == {
        ("worker", "lookup", "pending", False): 1,
        ("worker", "lookup", "pending", True): 1,
        ("worker", "search", "leased", False): 1,
        ("llm", "openai/gpt-4o", "pending", False): 1,
    }
    open_ = await store.open_executions()
    assert open_.by_status == {"RUNNING": 2, "PAUSED": 1}
    assert open_.with_tasks == {("worker", False): 2, ("worker", True): 1, ("llm", False): 1}
    assert await store.workers_seen(50.0) == 1
    assert await store.workers_seen(0.0) == 2
    assert await store.workers_seen(200.0) == 0
