"""The store contract for free-text search and forks, per backend.

Search: ``list_executions(search=...)`` through the trigram index (id, agent, input, and
an ended run's output or error), its paging, and that purged runs drop out of it. Forks:
``put_fork`` links a fork to its origin both ways, and purging the fork forgets the link.
Like ``test_store.py``, every test runs against each backend in ``conftest.BACKENDS``.
"""

from __future__ import annotations

import json

import pytest

from agentspan.server.store import Store
from agentspan.server.store.base import ForkRow

from support.store_rows import add_executions, execution

pytestmark = pytest.mark.anyio


# --------------------------------------------------------------------------- search (the trigram index)


async def test_list_executions_search_matches_id_agent_and_input_literally(store: Store) -> None:
    await add_executions(
        store,
        execution("find-ME", agent_name="alpha", created_at=1.0),
        execution("x2", agent_name="Researcher", created_at=2.0),
        execution("x3", agent_name="beta", created_at=3.0, input='{"prompt": "refund 50%_off"}'),
        execution("x4", agent_name="beta", created_at=4.0, input='{"prompt": "refund 50 off"}'),
    )

    async def found(text: str) -> tuple[int, list[str]]:
        total, rows = await store.list_executions(
            status=None, agent_name=None, parent_id=None, roots_only=False, limit=10, offset=0, search=text
        )
        return total, [r.id for r in rows]

    assert await found("find-me") == (1, ["find-ME"])
    assert await found("search") == (1, ["x2"])
    assert await found("refund") == (2, ["x4", "x3"])
    assert await found("50%_") == (1, ["x3"])
    assert await found("!") == (0, [])


async def _search(store: Store, text: str) -> tuple[int, list[str]]:
    total, rows = await store.list_executions(
        status=None, agent_name=None, parent_id=None, roots_only=False, limit=10, offset=0, search=text
    )
    return total, [r.id for r in rows]


async def _end(store: Store, execution_id: str, status: str, **state: str) -> None:
    async with store.transaction() as tx:
        row = await tx.get_execution(execution_id)
        assert row is not None
        row.status = status
        row.state = json.dumps({"turn": 1, "status": status, **state})
        row.version += 1
        await tx.update_execution(row, row.version - 1)


async def test_search_finds_an_ended_execution_by_its_output_or_error(store: Store) -> None:
    await add_executions(
        store,
        execution("done", created_at=1.0),
        execution("broken", created_at=2.0),
        execution("running", created_at=3.0),
    )
    await _end(store, "done", "COMPLETED", output="The parcel left Lisbon")
    await _end(store, "broken", "FAILED", error="Quota exhausted for gpt-x")
    async with store.transaction() as tx:  # a running execution's state is not searched
        row = await tx.get_execution("running")
        assert row is not None
        row.state = json.dumps({"turn": 1, "output": "parcel in progress"})
        row.version += 1
        await tx.update_execution(row, row.version - 1)

    assert await _search(store, "PARCEL LEFT") == (1, ["done"])
    assert await _search(store, "quota exhausted") == (1, ["broken"])
    assert await _search(store, "parcel") == (1, ["done"])
    assert await _search(store, "hello") == (3, ["running", "broken", "done"])  # the input
    assert await _search(store, "lisbon") == (1, ["done"])
    await _end(store, "running", "COMPLETED", output="delivered")
    assert await _search(store, "deliver") == (1, ["running"])


async def test_a_search_matching_many_rows_pages_newest_first(store: Store) -> None:
    many = [
        execution(f"m{i:04d}", created_at=float(i), input=json.dumps({"prompt": f"bulk item {i}"}))
        for i in range(1_100)  # more than SEARCH_WALK_ABOVE: SQLite walks the list's index
    ]
    await add_executions(store, *many, execution("other", created_at=5_000.0))
    total, rows = await store.list_executions(
        status=None, agent_name=None, parent_id=None, roots_only=True, limit=3, offset=0, search="BULK item"
    )
    assert (total, [r.id for r in rows]) == (1_100, ["m1099", "m1098", "m1097"])
    total, rows = await store.list_executions(
        status=None,
        agent_name=None,
        parent_id=None,
        roots_only=True,
        limit=2,
        offset=0,
        before=(1_097.0, "m1097"),
        search="bulk item 1_",  # escaped: the index answers "bulk item 1", the pattern the rest
    )
    assert total == 0 and rows == []
    assert (await _search(store, "item 109"))[0] == 11


async def test_search_forgets_purged_executions(store: Store) -> None:
    await add_executions(store, execution("gone", created_at=1.0), execution("kept", created_at=2.0))
    await _end(store, "gone", "COMPLETED", output="unique-words here")
    assert await _search(store, "unique-words") == (1, ["gone"])
    assert await store.purge(10.0, ["COMPLETED"]) == 1
    assert await _search(store, "unique-words") == (0, [])
    await add_executions(store, execution("again", created_at=3.0))
    await _end(store, "again", "COMPLETED", output="unique-words again")
    assert await _search(store, "unique-words") == (1, ["again"])


# --------------------------------------------------------------------------- forks


async def test_forks_link_both_ways(store: Store) -> None:
    await add_executions(
        store, execution("origin"), execution("f1", created_at=2.0), execution("f2", created_at=3.0)
    )
    async with store.transaction() as tx:
        await tx.put_fork(ForkRow("f2", "origin", 7, 3.0))
        await tx.put_fork(ForkRow("f1", "origin", 3, 2.0))
    assert await store.fork_of("f1") == ForkRow("f1", "origin", 3, 2.0)
    assert await store.fork_of("origin") is None
    assert [(f.execution_id, f.from_step) for f in await store.forks_from("origin")] == [("f1", 3), ("f2", 7)]
    assert await store.forks_from("f1") == []
    await _end(store, "f1", "COMPLETED")
    assert await store.purge(10.0, ["COMPLETED"]) == 1
    assert await store.fork_of("f1") is None
