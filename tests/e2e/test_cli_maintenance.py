"""``agentspan executions purge`` and ``agentspan server migrate``: the CLI on the database.

Runs on SQLite (temporary data directories) and, when ``AGENTSPAN_TEST_DATABASE_URL``
points at a PostgreSQL server, on a fresh database created for each test; otherwise the
PostgreSQL cases are skipped and say so.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.cli import main
from agentspan.cli._executions import CliError
from agentspan.cli._maintenance import parse_duration
from agentspan.server.store.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from agentspan.server.store.sqlite import SqliteStore

from support.servers import ServerProcess

pytestmark = pytest.mark.e2e

PG_ENV = "AGENTSPAN_TEST_DATABASE_URL"
LATEST = len(SQLITE_MIGRATIONS)
assert len(POSTGRES_MIGRATIONS) == LATEST  # lockstep: one number for both

APPROVAL_AGENT = {
    "name": "needs_approval",
    "model": "offline/basic",
    "tools": [
        {
            "name": "needs_ok",
            "description": "d",
            "inputSchema": {"type": "object", "properties": {}},
            "approvalRequired": True,
        }
    ],
}


def leaf(name: str) -> dict[str, Any]:
    return {"name": name, "model": "scripted/m", "scriptedTurns": [{"text": f"{name} done"}]}


TEAM = {"name": "team", "strategy": "parallel", "agents": [leaf("leaf_a"), leaf("leaf_b")]}


def _env(**extra: str) -> dict[str, str]:
    # The developer's own settings must not leak into the commands under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSPAN_")}
    env["PYTHONUNBUFFERED"] = "1"
    return {**env, **extra}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentspan.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or _env(),
        check=False,
    )


def assert_output(result: subprocess.CompletedProcess[str], stdout: str) -> None:
    assert (result.returncode, result.stdout, result.stderr) == (0, stdout, ""), result


def assert_one_line_error(result: subprocess.CompletedProcess[str], *texts: str) -> None:
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for text in texts:
        assert text in result.stderr


# --------------------------------------------------------------------------- PostgreSQL


async def _admin(server_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    server_url = os.environ.get(PG_ENV)
    if not server_url:
        pytest.skip(f"{PG_ENV} not set: PostgreSQL maintenance tests skipped")
    name = f"agentspan_maint_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --------------------------------------------------------------------------- runs on a server


def start(server: ServerProcess, agent: dict[str, Any]) -> str:
    resp = httpx.post(
        f"{server.api_url}/agent/start", json={"agentConfig": agent, "prompt": "go"}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    execution_id: str = resp.json()["executionId"]
    return execution_id


def wait_for(server: ServerProcess, execution_id: str, field: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if httpx.get(f"{server.api_url}/agent/{execution_id}/status", timeout=10).json()[field]:
            return
        time.sleep(0.05)
    pytest.fail(f"{execution_id}: {field} never became true")


def make_history(server: ServerProcess) -> tuple[list[str], str]:
    """Four finished executions (a single run, and a team of three) and one waiting run."""
    single, team, waiting = start(server, leaf("single")), start(server, TEAM), start(server, APPROVAL_AGENT)
    for finished in (single, team):
        wait_for(server, finished, "isComplete")
    wait_for(server, waiting, "isWaiting")
    children = [c["executionId"] for c in _children(server, team)]
    assert len(children) == 2
    return [single, team, *children], waiting


def _children(server: ServerProcess, execution_id: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{server.api_url}/agent/executions", params={"parentId": execution_id}, timeout=10)
    results: list[dict[str, Any]] = resp.json()["results"]
    return results


async def _sqlite_ids(path: Path) -> tuple[list[str], int]:
    store = SqliteStore(path)
    await store.open()
    try:
        _, rows = await store.list_executions(
            status=None, agent_name=None, parent_id=None, roots_only=False, limit=-1, offset=0
        )
        events = store.conn.execute("SELECT COUNT(DISTINCT execution_id) FROM events").fetchone()[0]
    finally:
        await store.close()
    return sorted(r.id for r in rows), int(events)


# --------------------------------------------------------------------------- purge


def test_sqlite_purge_needs_the_server_stopped_then_deletes_old_finished_trees(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, env={"AGENTSPAN_DATABASE_URL": ""}).start()
    try:
        finished, waiting = make_history(server)
        for command in (["executions", "purge", "--older-than", "0s"], ["server", "migrate"]):
            locked = cli(*command, "--data-dir", str(data))
            assert_one_line_error(
                locked,
                f"the SQLite database {data / 'agentspan.db'} is in use by a running Agentspan server",
                f"stop the server first (agentspan server stop --data-dir {data})",
            )
    finally:
        server.stop()

    dry = cli("executions", "purge", "--older-than", "0s", "--dry-run", "--data-dir", str(data))
    assert_output(dry, "would purge 4 executions older than 0s (dry run: nothing was deleted)\n")
    assert asyncio.run(_sqlite_ids(data / "agentspan.db")) == (sorted([*finished, waiting]), 5)

    young = cli("executions", "purge", "--older-than", "1d", "--data-dir", str(data))
    assert_output(young, "purged 0 executions older than 1d\n")

    purged = cli("executions", "purge", "--older-than", "0s", "--data-dir", str(data))
    assert_output(purged, "purged 4 executions older than 0s\n")
    assert asyncio.run(_sqlite_ids(data / "agentspan.db")) == ([waiting], 1)


def test_postgres_purge_runs_next_to_a_live_server(pg_url: str, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", env={"AGENTSPAN_DATABASE_URL": pg_url}).start()
    try:
        finished, waiting = make_history(server)
        dry = cli("executions", "purge", "--older-than", "0s", "--dry-run", "--database-url", pg_url)
        assert_output(dry, "would purge 4 executions older than 0s (dry run: nothing was deleted)\n")

        # Without --database-url, the same variable the server reads picks the database.
        purged = cli("executions", "purge", "--older-than", "0s", env=_env(AGENTSPAN_DATABASE_URL=pg_url))
        assert_output(purged, "purged 4 executions older than 0s\n")
        for gone in finished:
            assert httpx.get(f"{server.api_url}/agent/{gone}/status", timeout=10).status_code == 404

        # The server carries on with what was kept.
        cancelled = httpx.delete(f"{server.api_url}/agent/{waiting}/cancel", timeout=10)
        assert cancelled.status_code < 300, cancelled.text
        wait_for(server, waiting, "isComplete")
        again = cli("executions", "purge", "--older-than", "0s", "--database-url", pg_url)
        assert_output(again, "purged 1 execution older than 0s\n")
    finally:
        server.stop()


def test_purge_by_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def seed() -> None:
        from agentspan.server.store import ExecutionRow

        store = SqliteStore(tmp_path / "agentspan.db")
        await store.open()
        try:
            async with store.transaction() as tx:
                await tx.put_spec("h", "{}")
                for execution_id, status in (("ok", "COMPLETED"), ("bad", "FAILED"), ("live", "RUNNING")):
                    row = ExecutionRow(
                        execution_id, None, execution_id, "a", "h", status, "{}", 0, 0, 1.0, 2.0, "{}"
                    )
                    await tx.insert_execution(row)
        finally:
            await store.close()

    asyncio.run(seed())
    args = ["executions", "purge", "--older-than", "1h", "--data-dir", str(tmp_path)]
    assert main([*args, "--status", "failed"]) == 0
    assert capsys.readouterr().out == "purged 1 execution older than 1h\n"
    assert main(args) == 0
    assert capsys.readouterr().out == "purged 1 execution older than 1h\n"
    assert asyncio.run(_sqlite_ids(tmp_path / "agentspan.db")) == (["live"], 0)


@pytest.mark.parametrize("age", ["30", "30x", "thirty days", "1d2h", ""])
def test_a_bad_age_is_a_one_line_error(tmp_path: Path, age: str) -> None:
    result = cli("executions", "purge", "--older-than", age, "--data-dir", str(tmp_path))
    assert_one_line_error(result, "--older-than takes a number and a unit (s, m, h or d)", repr(age))


@pytest.mark.parametrize(
    ("age", "seconds"),
    [
        ("30d", 2_592_000),
        ("12h", 43_200),
        ("90m", 5_400),
        ("3600s", 3_600),
        ("0s", 0),
        ("1.5h", 5_400),
        (" 2D ", 172_800),
    ],
)
def test_ages(age: str, seconds: float) -> None:
    assert parse_duration(age) == seconds


def test_ages_need_a_unit() -> None:
    with pytest.raises(CliError, match="a number and a unit"):
        parse_duration("3600")


def test_purge_of_a_missing_sqlite_database_creates_nothing(tmp_path: Path) -> None:
    result = cli("executions", "purge", "--older-than", "30d", "--data-dir", str(tmp_path / "nowhere"))
    assert_one_line_error(result, f"no Agentspan database at {tmp_path / 'nowhere' / 'agentspan.db'}")
    assert not (tmp_path / "nowhere").exists()


# --------------------------------------------------------------------------- migrate


def test_sqlite_migrate_reports_the_versions(tmp_path: Path) -> None:
    db = tmp_path / "agentspan.db"
    fresh = cli("server", "migrate", "--data-dir", str(tmp_path))
    assert_output(fresh, f"schema version 0 -> {LATEST} (sqlite:///{db})\n")
    again = cli("server", "migrate", "--data-dir", str(tmp_path))
    assert_output(again, f"schema version {LATEST} -> {LATEST}, already up to date (sqlite:///{db})\n")


def test_sqlite_migrate_upgrades_an_old_schema(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # what version 1 of agentspan left behind
        for statement in SQLITE_MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO agentspan_meta (key, value) VALUES ('schema_version', '1')")
    conn.close()
    result = cli("server", "migrate", "--database-url", f"sqlite:///{db}")
    assert_output(result, f"schema version 1 -> {LATEST} (sqlite:///{db})\n")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM agentspan_meta").fetchall() == [(str(LATEST),)]
    conn.close()


def test_migrate_refuses_a_newer_schema(tmp_path: Path) -> None:
    assert cli("server", "migrate", "--data-dir", str(tmp_path)).returncode == 0
    with sqlite3.connect(tmp_path / "agentspan.db") as conn:
        conn.execute("UPDATE agentspan_meta SET value = '999' WHERE key = 'schema_version'")
    conn.close()
    result = cli("server", "migrate", "--data-dir", str(tmp_path))
    assert_one_line_error(
        result, f"has schema version 999, newer than this server ({LATEST}); upgrade agentspan"
    )


def test_postgres_migrate_reports_the_versions(pg_url: str) -> None:
    database = pg_url.rsplit("/", 1)[1]
    fresh = cli("server", "migrate", "--database-url", pg_url)
    assert fresh.returncode == 0, fresh
    assert fresh.stdout.startswith(f"schema version 0 -> {LATEST} (postgresql://")
    assert fresh.stdout.endswith(f"/{database})\n")
    again = cli("server", "migrate", env=_env(AGENTSPAN_DATABASE_URL=pg_url))
    assert again.returncode == 0, again
    assert again.stdout.startswith(f"schema version {LATEST} -> {LATEST}, already up to date (postgresql://")


def test_migrate_on_an_unreachable_postgres_is_a_one_line_error() -> None:
    result = cli("server", "migrate", "--database-url", "postgresql://agent:s3cret@127.0.0.1:1/agents")
    assert_one_line_error(result, "cannot connect to PostgreSQL at 127.0.0.1:1/agents")
    assert "s3cret" not in result.stderr
