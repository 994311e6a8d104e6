"""Fixtures for the store contract suite: one ``store`` per backend.

To add a backend, append a ``Backend`` to ``BACKENDS``: every contract test then runs
against it too. ``persistent`` backends also run the re-open tests.

PostgreSQL runs when ``AGENTSPAN_TEST_DATABASE_URL`` points at a server where we may
create databases (``postgresql://postgres@127.0.0.1:5432/postgres``); otherwise its
cases are *skipped* with that reason, never passed silently. Each test gets a fresh
database, copied from a template migrated once per session (a copy takes milliseconds;
migrating each time would not).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from agentspan.server.store import Store
from agentspan.server.store.sqlite import SqliteStore

PG_ENV = "AGENTSPAN_TEST_DATABASE_URL"
PG_SKIP_REASON = f"{PG_ENV} not set: PostgreSQL tier skipped"


@dataclass(frozen=True)
class Place:
    """Where one test's database lives."""

    tmp: Path
    """A fresh per-test directory."""
    database_url: str | None = None
    """A fresh, migrated PostgreSQL database (for backends with ``needs_postgres``)."""


@dataclass(frozen=True)
class Backend:
    name: str
    make: Callable[[Place], Store]
    """A new, unopened store on the test's database."""
    persistent: bool
    """A second store made from the same place sees the first one's data."""
    needs_postgres: bool = False


def _postgres(place: Place) -> Store:
    from agentspan.server.store.postgres import PostgresStore

    assert place.database_url is not None
    # Tests are the only server on their database, so the SQLite semantics of
    # release_server_leases apply (test_postgres.py covers the shared default).
    return PostgresStore(place.database_url, sole_server=True, max_connections=4)


BACKENDS = [
    Backend("sqlite-file", lambda p: SqliteStore(p.tmp / "data" / "agentspan.db"), persistent=True),
    Backend("sqlite-memory", lambda p: SqliteStore(":memory:"), persistent=False),
    Backend("postgres", _postgres, persistent=True, needs_postgres=True),
]


# --------------------------------------------------------------------------- PostgreSQL databases


def database_url(server_url: str, database: str) -> str:
    """The server's URL pointing at another database."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


async def run_sql(server_url: str, *statements: str) -> None:
    """Run statements on their own connection (CREATE DATABASE cannot run in a transaction)."""
    import asyncpg

    conn = await asyncpg.connect(server_url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _run_elsewhere(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    # Session set-up runs outside any test's event loop; a thread of its own keeps
    # asyncio.run from disturbing the loop anyio keeps for the tests.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work()).result()


@dataclass(frozen=True)
class PgServer:
    url: str
    """The server, as given in the environment (its maintenance database)."""
    template: str
    """A database with the current schema, copied for each test."""

    async def create_database(self) -> str:
        name = f"agentspan_test_{uuid.uuid4().hex[:12]}"
        await run_sql(self.url, f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    async def drop_database(self, name: str) -> None:
        await run_sql(self.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(PG_SKIP_REASON)
    from agentspan.server.store.postgres import PostgresStore

    server = PgServer(url, f"agentspan_tmpl_{os.getpid()}_{uuid.uuid4().hex[:8]}")

    async def create() -> None:
        await run_sql(url, f'CREATE DATABASE "{server.template}"')
        store = PostgresStore(database_url(url, server.template))
        await store.open()  # migrates
        await store.close()  # a template must have no connections when copied

    try:
        _run_elsewhere(create)
        yield server
    finally:
        _run_elsewhere(lambda: server.drop_database(server.template))


@pytest.fixture
async def pg_database(pg_server: PgServer) -> AsyncIterator[str]:
    """The URL of a fresh database with the current schema, dropped after the test."""
    name = await pg_server.create_database()
    try:
        yield database_url(pg_server.url, name)
    finally:
        await pg_server.drop_database(name)


# --------------------------------------------------------------------------- per-backend fixtures


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    value = request.param
    assert isinstance(value, Backend)
    return value


@pytest.fixture(params=[b for b in BACKENDS if b.persistent], ids=lambda b: b.name)
def persistent_backend(request: pytest.FixtureRequest) -> Backend:
    value = request.param
    assert isinstance(value, Backend)
    return value


def _place(backend: Backend, tmp_path: Path, request: pytest.FixtureRequest) -> Place:
    if not backend.needs_postgres:
        return Place(tmp_path)
    # Requested only for PostgreSQL cases, so SQLite ones never touch the server, and
    # without the environment variable this skips with PG_SKIP_REASON. (A synchronous
    # fixture may pull in an async one; an async fixture could not, mid-loop.)
    url = request.getfixturevalue("pg_database")
    assert isinstance(url, str)
    return Place(tmp_path, url)


@pytest.fixture
def reopenable(
    persistent_backend: Backend, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[], Store]:
    """Makes unopened stores that all share one database (for re-open tests)."""
    place = _place(persistent_backend, tmp_path, request)
    return lambda: persistent_backend.make(place)


@pytest.fixture
def place(backend: Backend, tmp_path: Path, request: pytest.FixtureRequest) -> Place:
    return _place(backend, tmp_path, request)


@pytest.fixture
async def store(backend: Backend, place: Place) -> AsyncIterator[Store]:
    s = backend.make(place)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
