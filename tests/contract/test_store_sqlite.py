"""What only the embedded SQLite store does: its file, its lock, its migrations table, its
permissions. The contract every backend keeps is in ``test_store.py``."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from agentspan.server.store import StoreError
from agentspan.server.store.migrations import SQLITE_MIGRATIONS
from agentspan.server.store.sqlite import SqliteStore

from support.store_rows import add_executions, execution

pytestmark = pytest.mark.anyio


async def test_sqlite_migrations_create_the_schema_once(tmp_path: Path) -> None:
    path = tmp_path / "agentspan.db"
    store = SqliteStore(path)
    await store.open()
    try:
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables >= {"agentspan_meta", "specs", "executions", "events", "messages", "tasks", "pollers"}
        version = store.conn.execute(
            "SELECT value FROM agentspan_meta WHERE key = 'schema_version'"
        ).fetchone()
        assert version == (str(len(SQLITE_MIGRATIONS)),)
        assert store.conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert store.conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        schema = store.conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        await store.close()

    again = SqliteStore(path)
    await again.open()  # must not try to create anything twice
    try:
        assert (
            again.conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() == schema
        )
        assert again.conn.execute("SELECT COUNT(*) FROM agentspan_meta").fetchone() == (1,)
    finally:
        await again.close()


async def test_sqlite_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 20)
    for _ in range(2):  # the failed open let go of the lock: the second fails the same way
        with pytest.raises(StoreError, match="is not an Agentspan database") as info:
            await SqliteStore(path).open()
        assert str(path) in str(info.value)
    assert path.read_text().startswith("these are my notes")


async def test_sqlite_refuses_a_database_of_another_application(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('ann')")
    conn.close()

    with pytest.raises(StoreError, match="not an Agentspan database") as info:
        await SqliteStore(path).open()
    assert "customers" in str(info.value)

    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert tables == {"customers"}  # untouched


async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "agentspan.db"
    store = SqliteStore(path)
    await store.open()
    store.conn.execute("UPDATE agentspan_meta SET value = '999' WHERE key = 'schema_version'")
    await store.close()
    with pytest.raises(StoreError, match="newer than this server"):
        await SqliteStore(path).open()


async def test_sqlite_allows_one_open_store_per_file(tmp_path: Path) -> None:
    path = tmp_path / "agentspan.db"
    first = SqliteStore(path)
    await first.open()
    try:
        with pytest.raises(StoreError, match="another Agentspan server is using"):
            await SqliteStore(path).open()
        # the first store is unaffected
        await add_executions(first, execution("e1"))
        assert await first.get_execution("e1") is not None
    finally:
        await first.close()

    second = SqliteStore(path)
    await second.open()  # free again once the first closed
    try:
        assert await second.get_execution("e1") is not None
    finally:
        await second.close()


async def test_sqlite_in_memory_stores_are_independent() -> None:
    one, two = SqliteStore(":memory:"), SqliteStore(":memory:")
    await one.open()
    await two.open()
    try:
        await add_executions(one, execution("e1"))
        assert await two.get_execution("e1") is None
    finally:
        await one.close()
        await two.close()


async def test_sqlite_a_bad_synchronous_setting_does_not_keep_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "agentspan.db"
    monkeypatch.setenv("AGENTSPAN_SQLITE_SYNCHRONOUS", "sometimes")
    with pytest.raises(StoreError, match="AGENTSPAN_SQLITE_SYNCHRONOUS"):
        await SqliteStore(path).open()
    monkeypatch.setenv("AGENTSPAN_SQLITE_SYNCHRONOUS", "FULL")
    store = SqliteStore(path)
    await store.open()
    await store.close()


async def test_a_new_sqlite_store_is_readable_by_its_user_only(tmp_path: Path) -> None:
    """Issue 11: the data directory 0700 and every database file 0600 (they hold prompts,
    tool results and approvals), whatever the process umask."""
    old = os.umask(0o022)
    try:
        store = SqliteStore(tmp_path / "data" / "agentspan.db")
        await store.open()
        try:
            async with store.transaction() as tx:
                await tx.put_spec("h", "{}")  # the WAL and shared-memory files now exist
            data = tmp_path / "data"
            assert data.stat().st_mode & 0o777 == 0o700
            names = sorted(p.name for p in data.iterdir())
            assert names == ["agentspan.db", "agentspan.db-shm", "agentspan.db-wal", "agentspan.db.lock"]
            for name in names:
                assert (data / name).stat().st_mode & 0o777 == 0o600, name
        finally:
            await store.close()
    finally:
        os.umask(old)
