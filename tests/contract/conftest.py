"""Fixtures for the store contract suite: one ``store`` per backend.

To add a backend (PostgreSQL), append a ``Backend`` to ``BACKENDS``: every contract test
then runs against it too. ``persistent`` backends also run the re-open tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentspan.server.store import Store
from agentspan.server.store.sqlite import SqliteStore


@dataclass(frozen=True)
class Backend:
    name: str
    make: Callable[[Path], Store]
    """A new, unopened store; the path is a fresh per-test directory."""
    persistent: bool
    """A second store made from the same directory sees the first one's data."""


BACKENDS = [
    Backend("sqlite-file", lambda tmp: SqliteStore(tmp / "data" / "agentspan.db"), persistent=True),
    Backend("sqlite-memory", lambda tmp: SqliteStore(":memory:"), persistent=False),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    value = request.param
    assert isinstance(value, Backend)
    return value


@pytest.fixture(params=[b for b in BACKENDS if b.persistent], ids=lambda b: b.name)
def reopenable(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """Makes unopened stores that all share one database (for re-open tests)."""
    value = request.param
    assert isinstance(value, Backend)
    return lambda: value.make(tmp_path)


@pytest.fixture
async def store(backend: Backend, tmp_path: Path) -> AsyncIterator[Store]:
    s = backend.make(tmp_path)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
