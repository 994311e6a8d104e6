"""Retention: ``Store.purge`` deletes old finished execution trees and nothing else.

Runs on every backend in ``conftest.BACKENDS`` (the ``store`` fixture). Times are small
numbers: everything last updated before ``CUTOFF`` is old.
"""

from __future__ import annotations

import json

import pytest

from agentspan.protocol.api import TERMINAL_STATUSES
from agentspan.server.store import EventRow, ExecutionRow, Store, TaskRow
from agentspan.server.store.media import MediaRow

pytestmark = pytest.mark.anyio

SPEC_HASH = "b" * 64
CUTOFF = 1000.0
OLD = 100.0
RECENT = 5000.0


def row(
    execution_id: str,
    status: str,
    *,
    parent: ExecutionRow | None = None,
    created_at: float = 10.0,
    updated_at: float = OLD,
) -> ExecutionRow:
    return ExecutionRow(
        id=execution_id,
        parent_id=parent.id if parent else None,
        root_id=parent.root_id if parent else execution_id,
        agent_name="assistant",
        spec_hash=SPEC_HASH,
        status=status,
        state=json.dumps({"turn": 1}),
        version=3,
        event_seq=2,
        created_at=created_at,
        updated_at=updated_at,
        input=json.dumps({"prompt": "hi"}),
    )


def worker_task(execution_id: str) -> TaskRow:
    return TaskRow(
        id=f"{execution_id}:c1",
        execution_id=execution_id,
        kind="worker",
        name="lookup",
        call_id="c1",
        input="{}",
        status="pending",
        attempt=0,
        lease_id=None,
        lease_expires_at=None,
        available_at=0.0,
        created_at=0.0,
        idempotency_key=f"{execution_id}:c1",
    )


async def add(store: Store, *rows: ExecutionRow, with_data: bool = True) -> None:
    """Insert executions (parents before children), each with events, messages, a task
    and a queued inbox message."""
    async with store.transaction() as tx:
        await tx.put_spec(SPEC_HASH, '{"name":"assistant"}')
        for r in rows:
            await tx.insert_execution(r)
            if r.parent_id is None:
                await tx.put_budget(r.id, 1.0, 1000)
            if with_data:
                await tx.append_events([EventRow(r.id, n, "thinking", "{}", r.updated_at) for n in (1, 2)])
                await tx.append_messages(r.id, 0, [json.dumps({"role": "user", "content": r.id})])
                await tx.upsert_task(worker_task(r.id))
                await tx.put_message(r.id, 1, '{"text":"queued"}', r.updated_at)
                await tx.put_media(MediaRow(f"m-{r.id}", r.id, "image/png", b"\x89PNG", r.updated_at))


async def remaining(store: Store) -> list[str]:
    _, rows = await store.list_executions(
        status=None, agent_name=None, parent_id=None, roots_only=False, limit=-1, offset=0
    )
    return sorted(r.id for r in rows)


async def has_data(store: Store, execution_id: str) -> dict[str, bool]:
    async with store.transaction() as tx:
        task = await tx.get_task(f"{execution_id}:c1")
    return {
        "events": bool(await store.list_events(execution_id, 0, 100)),
        "messages": bool(await store.list_messages(execution_id)),
        "task": task is not None,
        "inbox": bool(await store.list_inbox(execution_id)),
        "media": await store.get_media(f"m-{execution_id}") is not None,
    }


ALL = tuple(sorted(TERMINAL_STATUSES))
NONE = {"events": False, "messages": False, "task": False, "inbox": False, "media": False}
EVERYTHING = {"events": True, "messages": True, "task": True, "inbox": True, "media": True}


# --------------------------------------------------------------------------- what goes


async def test_only_old_finished_roots_go(store: Store) -> None:
    await add(
        store,
        row("done", "COMPLETED"),
        row("failed", "FAILED"),
        row("cancelled", "TERMINATED"),
        row("timed-out", "TIMED_OUT"),
        row("running", "RUNNING"),
        row("paused", "PAUSED"),
        row("recent", "COMPLETED", updated_at=RECENT),
        row("at-cutoff", "COMPLETED", updated_at=CUTOFF),
    )
    assert await store.purge(CUTOFF, ALL) == 4
    assert await remaining(store) == ["at-cutoff", "paused", "recent", "running"]
    assert await store.purge(CUTOFF, ALL) == 0  # nothing left to do


async def test_children_and_grandchildren_go_with_their_root(store: Store) -> None:
    root = row("root", "COMPLETED")
    child = row("child", "COMPLETED", parent=root)
    grandchild = row("grandchild", "FAILED", parent=child)
    sibling = row("sibling", "TERMINATED", parent=root)
    other = row("other", "RUNNING")
    await add(store, root, child, grandchild, sibling, other)

    assert await store.purge(CUTOFF, ALL) == 4
    assert await remaining(store) == ["other"]
    for gone in ("root", "child", "grandchild", "sibling"):
        assert await store.get_execution(gone) is None
        assert await has_data(store, gone) == NONE, gone
    assert await store.get_budget("root") is None
    assert await has_data(store, "other") == EVERYTHING
    assert await store.get_budget("other") is not None
    assert await store.get_spec(SPEC_HASH) is not None  # specs are shared and kept


async def test_a_tree_with_a_live_member_stays_whole(store: Store) -> None:
    root = row("root", "TERMINATED")
    child = row("child", "COMPLETED", parent=root)
    grandchild = row("grandchild", "RUNNING", parent=child)
    await add(store, root, child, grandchild)
    waiting_root = row("waiting-root", "COMPLETED")
    await add(store, waiting_root, row("waiting-child", "PAUSED", parent=waiting_root))

    assert await store.purge(CUTOFF, ALL) == 0
    assert await store.purge(CUTOFF, ALL, dry_run=True) == 0
    assert await remaining(store) == ["child", "grandchild", "root", "waiting-child", "waiting-root"]
    for kept in ("root", "child", "grandchild"):
        assert await has_data(store, kept) == EVERYTHING, kept


async def test_a_tree_with_a_recently_changed_member_stays(store: Store) -> None:
    root = row("root", "COMPLETED")
    await add(store, root, row("child", "COMPLETED", parent=root, updated_at=RECENT))
    assert await store.purge(CUTOFF, ALL) == 0
    assert await remaining(store) == ["child", "root"]


async def test_a_finished_child_is_never_purged_on_its_own(store: Store) -> None:
    root = row("root", "RUNNING")
    await add(store, root, row("child", "COMPLETED", parent=root))
    assert await store.purge(CUTOFF, ALL) == 0
    assert await remaining(store) == ["child", "root"]


async def test_statuses_select_the_roots(store: Store) -> None:
    ok = row("ok", "COMPLETED")
    await add(store, ok, row("ok-child", "FAILED", parent=ok), row("bad", "FAILED"), row("gone", "TIMED_OUT"))
    # Children are judged by being finished, not by the roots' statuses.
    assert await store.purge(CUTOFF, ["COMPLETED"]) == 2
    assert await remaining(store) == ["bad", "gone"]
    assert await store.purge(CUTOFF, ["FAILED", "TIMED_OUT"]) == 2
    assert await remaining(store) == []


@pytest.mark.parametrize("statuses", [["RUNNING"], ["COMPLETED", "PAUSED"], []])
async def test_only_finished_statuses_may_be_purged(store: Store, statuses: list[str]) -> None:
    await add(store, row("running", "RUNNING"), row("paused", "PAUSED"))
    with pytest.raises(ValueError):
        await store.purge(CUTOFF, statuses)
    assert await remaining(store) == ["paused", "running"]


# --------------------------------------------------------------------------- dry runs and batches


@pytest.mark.parametrize("batch_size", [0, -1])
async def test_a_batch_size_below_one_is_refused(store: Store, batch_size: int) -> None:
    await add(store, row("done", "COMPLETED"))
    with pytest.raises(ValueError, match="batch size"):
        await store.purge(CUTOFF, ALL, batch_size=batch_size)
    assert await remaining(store) == ["done"]


async def test_a_dry_run_counts_without_deleting(store: Store) -> None:
    root = row("root", "COMPLETED")
    await add(store, root, row("child", "COMPLETED", parent=root), row("live", "RUNNING"))
    assert await store.purge(CUTOFF, ALL, dry_run=True) == 2
    assert await remaining(store) == ["child", "live", "root"]
    assert await has_data(store, "root") == EVERYTHING
    assert await store.purge(CUTOFF, ALL) == 2
    assert await remaining(store) == ["live"]


async def test_batches_cover_every_root_once(store: Store) -> None:
    # Kept trees between purgeable ones, and roots sharing a created_at: the cursor must
    # step past kept trees and break ties by id, so every purgeable root is reached.
    rows: list[ExecutionRow] = []
    for n in range(7):
        root = row(f"r{n}", "COMPLETED", created_at=float(10 + n // 2))
        rows += [root, row(f"r{n}-child", "COMPLETED", parent=root)]
        rows.append(row(f"live{n}", "RUNNING", created_at=float(10 + n // 2)))
    kept_root = row("kept", "COMPLETED", created_at=11.0)
    rows += [kept_root, row("kept-child", "RUNNING", parent=kept_root)]
    await add(store, *rows, with_data=False)

    assert await store.purge(CUTOFF, ALL, dry_run=True, batch_size=2) == 14
    assert await store.purge(CUTOFF, ALL, batch_size=2) == 14
    assert await remaining(store) == ["kept", "kept-child", *(f"live{n}" for n in range(7))]


async def test_a_large_tree_goes_in_one_piece(store: Store) -> None:
    # More members than SQLite allows bound parameters in older versions (999).
    root = row("root", "COMPLETED")
    children = [row(f"c{n:04d}", "COMPLETED", parent=root) for n in range(1200)]
    await add(store, root, *children, with_data=False)
    assert await store.purge(CUTOFF, ALL, batch_size=1) == 1201
    assert await remaining(store) == []


# --------------------------------------------------------------------------- PostgreSQL only


async def test_postgres_purge_skips_a_tree_a_replica_holds(pg_database: str) -> None:
    """A root locked by another transaction (a replica mid-step) is passed over, not
    waited for, and goes in a later purge."""
    import anyio

    from agentspan.server.store.postgres import PostgresStore

    store = PostgresStore(pg_database, max_connections=4)
    await store.open()
    try:
        root = row("held", "COMPLETED")
        await add(store, root, row("held-child", "COMPLETED", parent=root), row("free", "COMPLETED"))
        async with store.transaction() as tx:
            assert await tx.get_execution("held-child") is not None  # locks the root first
            with anyio.fail_after(10):
                assert await store.purge(CUTOFF, ALL) == 1
        assert await remaining(store) == ["held", "held-child"]
        assert await store.purge(CUTOFF, ALL) == 2
        assert await remaining(store) == []
    finally:
        await store.close()
