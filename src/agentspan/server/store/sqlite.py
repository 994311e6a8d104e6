"""SQLite store: the embedded default (one file in the data directory, WAL mode).

Why statements run synchronously on the event loop: SQLite has one writer, every
statement here takes microseconds, and handing each one to a thread costs more than it
saves. An ``asyncio.Lock`` serialises transactions, and a transaction never awaits
anything that yields, so no two can interleave on the connection.

Durability: WAL with ``synchronous=NORMAL`` survives any process crash (kill -9); a power
loss may lose the last transactions. Set ``AGENTSPAN_SQLITE_SYNCHRONOUS=FULL`` to trade
speed for power-loss durability (or pass ``synchronous=`` to ``SqliteStore``).

One server per database file: an exclusive lock file next to the database enforces it,
which is what lets a restarting server reclaim server-side leases at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from agentspan.server.store import executions, queue
from agentspan.server.store.budgets import BudgetsReadsSql, BudgetsTxSql
from agentspan.server.store.credentials import CredentialsReadsSql, CredentialsTxSql
from agentspan.server.store.deployments import DeploymentsReadsSql, DeploymentsTxSql
from agentspan.server.store.errors import StoreError, StoreLockedError
from agentspan.server.store.events import APPEND as APPEND_EVENTS
from agentspan.server.store.events import EventRow, EventsReadsSql
from agentspan.server.store.executions import ExecutionRow, ExecutionsReadsSql, ExecutionsTxSql
from agentspan.server.store.forks import ForksReadsSql, ForksTxSql
from agentspan.server.store.inbox import InboxReadsSql, InboxTxSql
from agentspan.server.store.keys import KeysReadsSql, KeysTxSql
from agentspan.server.store.media import MediaReadsSql, MediaTxSql
from agentspan.server.store.memory import MemorySql
from agentspan.server.store.memory_entries import MemoryEntriesReadsSql, MemoryEntriesTxSql
from agentspan.server.store.messages import APPEND as APPEND_MESSAGES
from agentspan.server.store.messages import MessagesReadsSql
from agentspan.server.store.migrations import SQLITE_MIGRATIONS
from agentspan.server.store.ops import OpsReadsSql
from agentspan.server.store.queue import QueueReadsSql, QueueTxSql, TaskRow, task_row
from agentspan.server.store.retention import PURGE_BATCH, Member, purge_statuses, settled_trees, tree_members
from agentspan.server.store.specs import SpecsReadsSql, SpecsTxSql
from agentspan.server.store.sql import Row, Sql, sql

_MARKER_TABLE = "agentspan_meta"
_SYNCHRONOUS_MODES = ("NORMAL", "FULL", "EXTRA")


@functools.cache
def _names_in(count: int) -> str:
    """`` AND name IN (:n0, ...)`` for ``count`` names (SQLite binds no arrays)."""
    return f" AND name IN ({', '.join(f':n{i}' for i in range(count))})"


@functools.cache
def _claim_sql(name_count: int | None) -> Sql:
    names = "" if name_count is None else _names_in(name_count)
    return sql(
        f"SELECT {queue.COLS} FROM tasks WHERE kind = :kind{names} AND ("
        "(status = 'pending' AND available_at <= :now) OR (status = 'leased' AND lease_expires_at <= :now)) "
        "ORDER BY available_at LIMIT :count"
    )


@functools.cache
def _next_due_sql(name_count: int | None) -> Sql:
    names = "" if name_count is None else _names_in(name_count)
    return sql(f"{queue.NEXT_DUE} WHERE kind = :kind{names}")


_LEASE = sql(
    "UPDATE tasks SET status = 'leased', attempt = :attempt, lease_id = :lease_id, "
    "lease_expires_at = :until, worker_id = :worker_id WHERE id = :id"
)
_RELEASE = sql(
    "UPDATE tasks SET lease_expires_at = 0 WHERE status = 'leased' AND kind IN (SELECT value FROM json_each(:kinds))"
)


class SqliteTx(
    ExecutionsTxSql,
    SpecsTxSql,
    QueueTxSql,
    BudgetsTxSql,
    KeysTxSql,
    MessagesReadsSql,
    MemorySql,
    CredentialsTxSql,
    DeploymentsTxSql,
    InboxTxSql,
    ForksTxSql,
    MediaTxSql,
    MemoryEntriesTxSql,
    MemoryEntriesReadsSql,
):
    """Statements of one transaction on the store's connection."""

    __slots__ = ("_c",)

    NO_LIMIT: ClassVar[int | None] = -1

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    async def _run(self, q: Sql, *args: Any) -> int:
        return self._c.execute(q.sqlite, args).rowcount

    async def _row(self, q: Sql, *args: Any) -> Row | None:
        return self._c.execute(q.sqlite, args).fetchone()

    async def _rows(self, q: Sql, *args: Any) -> list[Row]:
        return self._c.execute(q.sqlite, args).fetchall()

    async def append_events(self, events: Sequence[EventRow]) -> None:
        self._c.executemany(
            APPEND_EVENTS.sqlite, [(e.execution_id, e.seq, e.type, e.payload, e.ts) for e in events]
        )

    async def append_messages(self, execution_id: str, start: int, messages: Sequence[str]) -> None:
        self._c.executemany(
            APPEND_MESSAGES.sqlite, [(execution_id, start + i, m) for i, m in enumerate(messages)]
        )

    async def claim_tasks(
        self,
        kind: str,
        names: Sequence[str] | None,
        now: float,
        count: int,
        lease_seconds: float,
        worker_id: str,
    ) -> list[TaskRow]:
        # One writer at a time (BEGIN IMMEDIATE), so select-then-update cannot race.
        q = _claim_sql(None if names is None else len(names))
        rows = self._c.execute(q.sqlite, (kind, *(names or ()), now, count)).fetchall()
        claimed: list[TaskRow] = []
        for row in rows:
            task = task_row(row)
            task.attempt += 1
            task.lease_id = os.urandom(12).hex()
            task.lease_expires_at = now + lease_seconds
            task.worker_id = worker_id
            self._c.execute(
                _LEASE.sqlite, (task.attempt, task.lease_id, task.lease_expires_at, worker_id, task.id)
            )
            claimed.append(task)
            # the row returned keeps the *previous* status so callers can see a lost lease
        return claimed

    async def mark_stalled(self, task_ids: Sequence[str]) -> None:
        self._c.executemany(queue.MARK_STALLED.sqlite, [(t,) for t in task_ids])

    async def notify(self, keys: Iterable[str]) -> None:
        # One server per file (the lock file enforces it): the hub in this process is
        # the only one, and the driver wakes it after the commit.
        return None


class SqliteStore(
    ExecutionsReadsSql,
    EventsReadsSql,
    MessagesReadsSql,
    SpecsReadsSql,
    QueueReadsSql,
    BudgetsReadsSql,
    KeysReadsSql,
    MemorySql,
    CredentialsReadsSql,
    DeploymentsReadsSql,
    InboxReadsSql,
    ForksReadsSql,
    MediaReadsSql,
    MemoryEntriesReadsSql,
    OpsReadsSql,
):
    """The embedded store. ``path`` is a file; ``:memory:`` is allowed for tests.

    ``synchronous``: SQLite's ``PRAGMA synchronous`` (NORMAL, FULL or EXTRA); by default
    ``AGENTSPAN_SQLITE_SYNCHRONOUS``, else NORMAL."""

    NO_LIMIT: ClassVar[int | None] = -1

    def __init__(self, path: str | Path, *, synchronous: str | None = None) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self._synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._lock_fd: int | None = None
        self.schema_found = 0
        self.schema_version = 0

    # --- lifecycle ----------------------------------------------------------------------

    async def open(self) -> None:
        sync = (self._synchronous or os.environ.get("AGENTSPAN_SQLITE_SYNCHRONOUS", "NORMAL")).upper()
        if sync not in _SYNCHRONOUS_MODES:
            raise StoreError(f"AGENTSPAN_SQLITE_SYNCHRONOUS must be NORMAL, FULL or EXTRA, not {sync!r}")
        if self.path != ":memory:":
            private_dir(Path(self.path).parent)
            self._take_file_lock()
            private_files(self.path)
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={sync}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            self._conn = conn
            self._migrate()
        except sqlite3.DatabaseError as exc:
            await self._abort_open(conn)
            raise StoreError(f"{self.path} is not an Agentspan database (SQLite says: {exc})") from exc
        except BaseException:
            await self._abort_open(conn)
            raise

    async def _abort_open(self, conn: sqlite3.Connection | None) -> None:
        if conn is not None:
            conn.close()
        self._conn = None
        self._release_file_lock()

    def _take_file_lock(self) -> None:
        lock_path = self.path + ".lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise StoreLockedError(
                f"another Agentspan server is using {self.path}; stop it first "
                "(agentspan server stop) or choose another --data-dir"
            ) from exc
        self._lock_fd = fd

    def _release_file_lock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _migrate(self) -> None:
        conn = self.conn
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and _MARKER_TABLE not in tables:
            shown = ", ".join(sorted(tables)[:5])
            raise StoreError(
                f"{self.path} is not an Agentspan database (it has other tables: {shown}); "
                "point --data-dir or AGENTSPAN_DATABASE_URL somewhere else"
            )
        current = 0
        if _MARKER_TABLE in tables:
            row = conn.execute(f"SELECT value FROM {_MARKER_TABLE} WHERE key = 'schema_version'").fetchone()
            current = int(row[0]) if row else 0
        latest = len(SQLITE_MIGRATIONS)
        if current > latest:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this server ({latest}); upgrade agentspan"
            )
        self.schema_found = current
        for version in range(current + 1, latest + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in SQLITE_MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute(
                    f"INSERT INTO {_MARKER_TABLE} (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (str(version),),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self.schema_version = latest

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._release_file_lock()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the store is not open")
        return self._conn

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTx]:
        async with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTx(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # --- reads (the shared ones run through these, under the lock) -----------------------

    async def _run(self, q: Sql, *args: Any) -> int:
        async with self._lock:
            return self.conn.execute(q.sqlite, args).rowcount

    async def _row(self, q: Sql, *args: Any) -> Row | None:
        async with self._lock:
            return self.conn.execute(q.sqlite, args).fetchone()

    async def _rows(self, q: Sql, *args: Any) -> list[Row]:
        async with self._lock:
            return self.conn.execute(q.sqlite, args).fetchall()

    async def list_executions(
        self,
        *,
        status: str | None,
        agent_name: str | None,
        parent_id: str | None,
        roots_only: bool,
        limit: int,
        offset: int,
        before: tuple[float, str] | None = None,
        search: str | None = None,
    ) -> tuple[int, list[ExecutionRow]]:
        count, page = executions.listing(
            bool(status),
            bool(agent_name),
            bool(parent_id),
            roots_only,
            before is not None,
            executions.search_mode(search),
        )
        args = functools.partial(
            executions.listing_args,
            status=status,
            agent_name=agent_name,
            parent_id=parent_id,
            before=before,
            search=search,
        )
        async with self._lock:  # the count and the page see the same rows
            total = self.conn.execute(count.sqlite, args(count)).fetchone()[0]
            if search and total > executions.SEARCH_WALK_ABOVE:
                _, page = executions.listing(
                    bool(status),
                    bool(agent_name),
                    bool(parent_id),
                    roots_only,
                    before is not None,
                    executions.search_mode(search),
                    walk=True,
                )
            rows = self.conn.execute(page.sqlite, args(page, limit=limit, offset=offset)).fetchall()
        return int(total), [ExecutionRow(*r) for r in rows]

    async def next_due(self, kind: str, names: Sequence[str] | None) -> float | None:
        q = _next_due_sql(None if names is None else len(names))
        row = await self._row(q, kind, *(names or ()))
        return float(row[0]) if row and row[0] is not None else None

    async def record_poll(self, names: Sequence[str], worker_id: str, now: float) -> None:
        async with self._lock:
            self.conn.executemany(queue.RECORD_POLL.sqlite, [(n, worker_id, now) for n in names])

    async def release_server_leases(self, kinds: Sequence[str]) -> int:
        return await self._run(_RELEASE, json.dumps(list(kinds)))

    # --- retention ----------------------------------------------------------------------

    async def purge(
        self,
        older_than: float,
        statuses: Sequence[str],
        *,
        dry_run: bool = False,
        batch_size: int = PURGE_BATCH,
    ) -> int:
        wanted = json.dumps(purge_statuses(statuses, batch_size))
        # Roots are visited in (created_at, id) order from a cursor, so every batch starts
        # where the last ended: trees that must stay are looked at once, not once a batch.
        cursor: tuple[float, str] = (float("-inf"), "")
        removed = 0
        while True:
            async with self.transaction():
                params = (wanted, older_than, older_than, *cursor, batch_size)
                found = self.conn.execute(_PURGE_ROOTS, params).fetchall()
                if not found:
                    return removed
                cursor = (float(found[-1][4]), str(found[-1][0]))
                roots = [(str(r[0]), str(r[1]), str(r[2]), float(r[3])) for r in found]
                removed += await self._purge_trees(roots, older_than, dry_run)
            # Between batches, other tasks on this loop (requests, when a server calls
            # this in-process) get their turn on the connection.
            await asyncio.sleep(0)

    async def _purge_trees(self, roots: list[Member], older_than: float, dry_run: bool) -> int:
        """Delete the trees under ``roots`` that are settled; return their size."""
        # Only awaits coroutines that never yield, so this stays one uninterrupted transaction.
        members = await tree_members(roots, self._children_of_many)
        root_ids, ids = settled_trees(members, older_than)
        if dry_run or not ids:
            return len(ids)
        doomed = json.dumps(ids)
        for table in ("events", "messages", "tasks", "inbox", "forks", "media"):
            self.conn.execute(
                f"DELETE FROM {table} WHERE execution_id IN (SELECT value FROM json_each(?))", (doomed,)
            )
        self.conn.execute(
            "DELETE FROM budgets WHERE root_id IN (SELECT value FROM json_each(?))", (json.dumps(root_ids),)
        )
        # One statement for the whole tree: the parent_id foreign key is checked at its end,
        # so the order in which parents and children go does not matter.
        cur = self.conn.execute(
            "DELETE FROM executions WHERE id IN (SELECT value FROM json_each(?))", (doomed,)
        )
        return cur.rowcount

    async def _children_of_many(self, parent_ids: list[str]) -> list[Member]:
        rows = self.conn.execute(
            "SELECT id, parent_id, status, updated_at FROM executions "
            "WHERE parent_id IN (SELECT value FROM json_each(?))",
            (json.dumps(parent_ids),),
        ).fetchall()
        return [(str(r[0]), str(r[1]), str(r[2]), float(r[3])) for r in rows]


# Candidate roots after the cursor, walking the created_at index from the cursor to the
# cutoff. ``created_at < ?`` adds nothing logically (an execution is created before it is
# last updated) but bounds that walk; a root whose updated_at precedes its created_at
# (a clock stepped back) is only left for a later purge. INDEXED BY because the planner
# otherwise prefers the parent_id index and sorts every root of the table in each batch,
# which makes a large purge quadratic. Lists travel as one JSON parameter each
# (json_each), so no statement ever exceeds SQLite's limit on bound parameters.
_PURGE_ROOTS = (
    "SELECT id, id, status, updated_at, created_at FROM executions INDEXED BY executions_created "
    "WHERE parent_id IS NULL AND status IN (SELECT value FROM json_each(?)) "
    "AND updated_at < ? AND created_at < ? AND (created_at, id) > (?, ?) "
    "ORDER BY created_at, id LIMIT ?"
)


def private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) readable by this user only. An existing directory
    is left as it is: it may be the user's own choice (``--data-dir /srv/shared``)."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)


def private_files(db_path: str) -> None:
    """The database file and its WAL and shared-memory files readable by this user only:
    they hold prompts, tool results and approvals. SQLite creates ``-wal`` and ``-shm``
    with the database file's mode, so creating that one 0600 covers the new ones; files
    left by an older version are narrowed too."""
    fd = os.open(db_path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(db_path + suffix, 0o600)
