"""What only the PostgreSQL store does: concurrency between replicas, LISTEN/NOTIFY,
migrations in lockstep with SQLite, and refusing databases it must not touch.

Tests taking ``pg_server`` / ``pg_database`` are skipped (with the reason shown) unless
``AGENTSPAN_TEST_DATABASE_URL`` is set; see conftest.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from agentspan.server.store import ConflictError, StoreError
from agentspan.server.store.base import WAKE_EVERYONE
from agentspan.server.store.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from agentspan.server.store.pg_notify import PgNotifier
from agentspan.server.store.postgres import PostgresStore, describe_url, redact_url
from contract.conftest import PgServer, database_url, run_sql
from contract.test_store import Boom

from support.store_rows import LEASE, add_executions, add_tasks, claim, execution, get_task, task

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pg(pg_database: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(pg_database, max_connections=8)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def empty_database(pg_server: PgServer) -> AsyncIterator[str]:
    """A database with no tables at all (not copied from the migrated template)."""
    name = f"agentspan_empty_{uuid.uuid4().hex[:12]}"
    await run_sql(pg_server.url, f'CREATE DATABASE "{name}"')
    try:
        yield database_url(pg_server.url, name)
    finally:
        await pg_server.drop_database(name)


# --------------------------------------------------------------------------- migrations in lockstep


@dataclass
class Table:
    columns: set[tuple[str, bool]] = field(default_factory=set)
    """(name, NOT NULL)"""
    primary_key: list[str] = field(default_factory=list)
    indexes: set[str] = field(default_factory=set)


def test_both_dialects_have_the_same_number_of_migrations() -> None:
    assert len(POSTGRES_MIGRATIONS) == len(SQLITE_MIGRATIONS)


SEARCH_INDEX = "execution_search"
"""The free-text search index (migration 10) is each dialect's own by design: an FTS5
table (with its shadow tables and a keys table) on SQLite, a table with a pg_trgm index on
PostgreSQL. Its tables are left out of the comparison; tests/contract/test_store.py
checks what it answers on both."""


def _compared(schema: dict[str, Table]) -> dict[str, Table]:
    return {name: table for name, table in schema.items() if not name.startswith(SEARCH_INDEX)}


def sqlite_schema(version: int) -> dict[str, Table]:
    conn = sqlite3.connect(":memory:")
    try:
        for statements in SQLITE_MIGRATIONS[:version]:
            for statement in statements:
                conn.execute(statement)
        schema: dict[str, Table] = {}
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            info = conn.execute(f"PRAGMA table_info({name})").fetchall()
            # SQLite does not mark primary-key columns NOT NULL itself (column 5 is the
            # column's position in the key, 0 when not in it).
            schema[name] = Table(
                columns={(r[1], bool(r[3] or r[5])) for r in info},
                primary_key=[r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]],
            )
        for name, table in conn.execute(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ):
            schema[table].indexes.add(name)
        return schema
    finally:
        conn.close()


async def postgres_schema(conn: asyncpg.Connection[asyncpg.Record], version: int) -> dict[str, Table]:
    # Transactional DDL: migrate a scratch schema to this version, look, roll it all back.
    tr = conn.transaction()
    await tr.start()
    try:
        await conn.execute(f"CREATE SCHEMA lockstep_{version}")
        # public stays on the path: an extension the database already has (pg_trgm, for
        # the search index) lives there, and CREATE EXTENSION IF NOT EXISTS then skips.
        await conn.execute(f"SET LOCAL search_path TO lockstep_{version}, public")
        for statements in POSTGRES_MIGRATIONS[:version]:
            for statement in statements:
                await conn.execute(statement)
        schema: dict[str, Table] = {}
        for r in await conn.fetch(
            "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        ):
            schema.setdefault(r["table_name"], Table()).columns.add(
                (r["column_name"], r["is_nullable"] == "NO")
            )
        for r in await conn.fetch(
            "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name) "
            "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema() "
            "ORDER BY kcu.ordinal_position"
        ):
            schema[r["table_name"]].primary_key.append(r["column_name"])
        for r in await conn.fetch(
            "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND indexname NOT LIKE '%\\_pkey'"
        ):
            schema[r["tablename"]].indexes.add(r["indexname"])
        return schema
    finally:
        await tr.rollback()


async def test_each_migration_version_describes_the_same_tables_in_both_dialects(
    pg_database: str,
) -> None:
    conn = await asyncpg.connect(pg_database)
    try:
        for version in range(1, len(SQLITE_MIGRATIONS) + 1):
            pg_tables = await postgres_schema(conn, version)
            assert _compared(pg_tables) == _compared(sqlite_schema(version)), (
                f"migration {version} differs between dialects"
            )
            assert len(pg_tables) > 1
    finally:
        await conn.close()


# --------------------------------------------------------------------------- opening


async def test_migrations_run_once_when_replicas_start_together(empty_database: str) -> None:
    stores = [PostgresStore(empty_database) for _ in range(4)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        conn = await asyncpg.connect(empty_database)
        try:
            assert await conn.fetchval(
                "SELECT value FROM agentspan_meta WHERE key = 'schema_version'"
            ) == str(len(POSTGRES_MIGRATIONS))
            assert await conn.fetchval("SELECT COUNT(*) FROM agentspan_meta") == 1
        finally:
            await conn.close()
        await add_executions(stores[0], execution("e1"))
        assert await stores[3].get_execution("e1") == execution("e1")
    finally:
        for s in stores:
            await s.close()


async def test_refuses_a_database_of_another_application(empty_database: str) -> None:
    await run_sql(empty_database, "CREATE TABLE customers (id serial PRIMARY KEY, name text)")
    with pytest.raises(StoreError, match="not an Agentspan database") as info:
        await PostgresStore(empty_database).open()
    assert "customers" in str(info.value)
    conn = await asyncpg.connect(empty_database)
    try:  # untouched
        assert await conn.fetchval("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'") == 1
    finally:
        await conn.close()


async def test_refuses_a_newer_schema(pg_database: str) -> None:
    await run_sql(pg_database, "UPDATE agentspan_meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer than this server"):
        await PostgresStore(pg_database).open()


async def test_an_unreachable_server_names_the_host_but_never_the_password() -> None:
    store = PostgresStore("postgresql://agent:s3cret-pw@127.0.0.1:1/agents", connect_timeout=5)
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL at 127.0.0.1:1/agents") as info:
        await store.open()
    assert "s3cret-pw" not in str(info.value)
    assert "s3cret-pw" not in store.url


async def test_a_missing_database_is_a_store_error(pg_server: PgServer) -> None:
    url = database_url(pg_server.url, "agentspan_no_such_database")
    with pytest.raises(StoreError, match="agentspan_no_such_database"):
        await PostgresStore(url).open()


def test_urls_are_shown_without_passwords() -> None:
    url = "postgresql://agent:p%40ss@db.internal:6432/runs?sslmode=require&password=other"
    assert redact_url(url) == "postgresql://agent@db.internal:6432/runs?sslmode=require"
    assert describe_url(url) == "db.internal:6432/runs"
    socket = "postgres:///runs?host=/var/run/postgresql"
    assert describe_url(socket) == "/var/run/postgresql:5432/runs"
    assert redact_url(socket) == socket


# --------------------------------------------------------------------------- concurrency


async def test_concurrent_claimers_never_share_a_task(pg: PostgresStore) -> None:
    await add_tasks(pg, *(task(f"t{i:03}") for i in range(200)))
    claimed: dict[str, list[str]] = {}

    async def claimer(worker_id: str) -> None:
        mine = claimed.setdefault(worker_id, [])
        while True:
            async with pg.transaction() as tx:
                got = await tx.claim_tasks("worker", None, 1.0, 7, LEASE, worker_id)
                await asyncio.sleep(0.002)  # hold the row locks while others try
            if not got:
                return
            mine.extend(t.id for t in got)

    await asyncio.gather(*(claimer(f"w{n}") for n in range(8)))
    every = [t for ids in claimed.values() for t in ids]
    assert sorted(every) == [f"t{i:03}" for i in range(200)]  # each exactly once
    assert sum(1 for ids in claimed.values() if ids) > 1  # the work was really shared
    for worker_id, ids in claimed.items():
        for task_id in ids[:3]:
            stored = await get_task(pg, task_id)
            assert stored is not None
            assert (stored.status, stored.attempt, stored.worker_id) == ("leased", 1, worker_id)


async def test_two_writers_of_one_execution_take_turns(pg: PostgresStore) -> None:
    await add_executions(pg, execution("e1"))
    a_holds_it, let_a_commit = asyncio.Event(), asyncio.Event()

    async def write(name: str, before_update: asyncio.Event | None) -> int:
        async with pg.transaction() as tx:
            row = await tx.get_execution("e1")
            assert row is not None
            seen = row.version
            a_holds_it.set()
            if before_update is not None:
                await before_update.wait()
            state = json.loads(row.state)
            state["writers"] = [*state.get("writers", []), name]
            row.state, expected = json.dumps(state), row.version
            row.version += 1
            await tx.update_execution(row, expected)
            return seen

    a = asyncio.create_task(write("a", let_a_commit))
    await a_holds_it.wait()
    b = asyncio.create_task(write("b", None))
    await asyncio.sleep(0.3)
    assert not b.done()  # waiting for a's row lock, not failing
    let_a_commit.set()
    assert await a == 0
    assert await b == 1  # b read what a committed
    final = await pg.get_execution("e1")
    assert final is not None
    assert final.version == 2
    assert json.loads(final.state)["writers"] == ["a", "b"]  # no lost update


async def test_a_writer_that_read_outside_a_transaction_loses(pg: PostgresStore) -> None:
    await add_executions(pg, execution("e1"))
    stale = await pg.get_execution("e1")
    assert stale is not None
    async with pg.transaction() as tx:
        fresh = await tx.get_execution("e1")
        assert fresh is not None
        fresh.version, fresh.status = 1, "COMPLETED"
        await tx.update_execution(fresh, 0)
    stale.version, stale.status = 1, "FAILED"
    with pytest.raises(ConflictError):
        async with pg.transaction() as tx:
            await tx.update_execution(stale, 0)
    final = await pg.get_execution("e1")
    assert final is not None and final.status == "COMPLETED"


async def test_a_child_and_its_parent_are_locked_through_the_root(pg: PostgresStore) -> None:
    await add_executions(pg, execution("root"), execution("child", parent_id="root"))
    child_held, release = asyncio.Event(), asyncio.Event()

    async def hold_child() -> None:
        async with pg.transaction() as tx:
            assert await tx.get_execution("child") is not None
            child_held.set()
            await release.wait()

    async def lock_root() -> None:
        async with pg.transaction() as tx:
            assert await tx.get_execution("root") is not None

    holder = asyncio.create_task(hold_child())
    await child_held.wait()
    other = asyncio.create_task(lock_root())
    await asyncio.sleep(0.3)
    assert not other.done()  # a step on the child excludes steps on the rest of its tree
    release.set()
    await asyncio.gather(holder, other)


async def test_a_deadlock_is_reported_as_a_conflict(pg: PostgresStore) -> None:
    await add_executions(pg, execution("x"), execution("y"))
    both_hold = asyncio.Barrier(2)

    async def cross(first: str, second: str) -> None:
        async with pg.transaction() as tx:
            await tx.get_execution(first)
            await both_hold.wait()
            await tx.get_execution(second)

    results = await asyncio.gather(cross("x", "y"), cross("y", "x"), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["ConflictError", "NoneType"]


async def test_concurrent_starts_with_one_idempotency_key_find_each_other(pg: PostgresStore) -> None:
    await add_executions(pg)  # the spec
    first_checked, let_first_insert = asyncio.Event(), asyncio.Event()

    async def start(execution_id: str, gate: asyncio.Event | None) -> str:
        async with pg.transaction() as tx:
            found = await tx.find_by_idempotency_key("assistant", "k")
            if gate is not None:
                first_checked.set()
                await gate.wait()
            if found is not None:
                return found.id
            await tx.insert_execution(execution(execution_id, idempotency_key="k"))
            return execution_id

    first = asyncio.create_task(start("e1", let_first_insert))
    await first_checked.wait()
    second = asyncio.create_task(start("e2", None))
    await asyncio.sleep(0.2)
    let_first_insert.set()
    assert (await first, await second) == ("e1", "e1")


async def test_release_server_leases_leaves_shared_leases_alone(pg: PostgresStore) -> None:
    await add_tasks(pg, task("llm1", kind="llm", name="llm"))
    (leased,) = await claim(pg, now=1.0, kind="llm")
    assert await pg.release_server_leases(["llm", "timer"]) == 0
    stored = await get_task(pg, "llm1")
    assert stored is not None
    assert (stored.lease_id, stored.lease_expires_at) == (leased.lease_id, 1.0 + LEASE)
    assert await claim(pg, now=2.0, kind="llm") == []


# --------------------------------------------------------------------------- LISTEN/NOTIFY


async def next_key(keys: asyncio.Queue[str], timeout: float = 5.0) -> str:
    return await asyncio.wait_for(keys.get(), timeout)


@pytest.fixture
async def heard(pg_database: str) -> AsyncIterator[tuple[asyncio.Queue[str], PgNotifier]]:
    keys: asyncio.Queue[str] = asyncio.Queue()
    notifier = PgNotifier(pg_database, keys.put_nowait, check_interval=0.5)
    await notifier.start()
    try:
        yield keys, notifier
    finally:
        await notifier.stop()


async def test_a_notification_arrives_only_after_commit(
    pg: PostgresStore, heard: tuple[asyncio.Queue[str], PgNotifier]
) -> None:
    keys, _ = heard
    async with pg.transaction() as tx:
        await tx.notify(["task:get_weather", "exec:e1"])
        await tx.notify(["exec:e1"])
        await asyncio.sleep(0.2)  # time enough to arrive, were it sent already
        assert keys.empty()
    assert {await next_key(keys), await next_key(keys)} == {"task:get_weather", "exec:e1"}

    with pytest.raises(Boom):
        async with pg.transaction() as tx:
            await tx.notify(["task:rolled_back"])
            raise Boom
    async with pg.transaction() as tx:
        await tx.notify(["internal"])
    # Notifications arrive in commit order: had the rolled-back one been sent, it would
    # come before this one.
    assert await next_key(keys) == "internal"
    await asyncio.sleep(0.1)
    assert keys.empty()


async def test_a_key_too_long_for_a_payload_wakes_everyone(
    pg: PostgresStore, heard: tuple[asyncio.Queue[str], PgNotifier]
) -> None:
    keys, _ = heard
    async with pg.transaction() as tx:
        await tx.notify(["task:" + "x" * 9000])
    assert await next_key(keys) == WAKE_EVERYONE


async def test_the_listener_reconnects_and_wakes_everyone(
    pg: PostgresStore, heard: tuple[asyncio.Queue[str], PgNotifier], pg_database: str
) -> None:
    keys, notifier = heard
    pid = notifier.backend_pid
    assert pid is not None
    await run_sql(pg_database, f"SELECT pg_terminate_backend({pid})")
    assert await next_key(keys, timeout=10.0) == WAKE_EVERYONE
    assert notifier.backend_pid not in (None, pid)
    async with pg.transaction() as tx:
        await tx.notify(["task:after"])
    assert await next_key(keys) == "task:after"


async def test_services_on_postgres_listen_and_leave_leases_alone(
    pg: PostgresStore, pg_database: str, tmp_path: Path
) -> None:
    from agentspan.server.services import Services
    from agentspan.server.settings import Settings

    await add_tasks(pg, task("llm1", kind="llm", name="llm", available_at=0.0))
    (leased,) = await claim(pg, now=time.time(), kind="llm")  # held by "another replica", mid-call
    services = await Services.start(Settings(data_dir=tmp_path, database_url=pg_database))
    try:
        assert services.notifier is not None
        stored = await get_task(pg, "llm1")
        assert stored is not None and stored.lease_id == leased.lease_id  # not released

        # a transaction on another replica wakes this replica's waiters
        woken = services.hub.listen(["task:get_weather"])
        async with pg.transaction() as tx:
            await tx.notify(["task:get_weather"])
        await asyncio.wait_for(woken, 5.0)

        # after a lost listener connection, every waiter wakes to re-check
        unrelated = services.hub.listen(["exec:somebody"])
        pid = services.notifier.backend_pid
        await run_sql(pg_database, f"SELECT pg_terminate_backend({pid})")
        await asyncio.wait_for(unrelated, 10.0)
    finally:
        await services.stop()
    assert services.store.url == pg_database  # no password to hide in this one
