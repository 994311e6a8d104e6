"""SQLite store: the embedded default (one file in the data directory, WAL mode).

Why statements run synchronously on the event loop: SQLite has one writer, every
statement here takes microseconds, and handing each one to a thread costs more than it
saves. An ``asyncio.Lock`` serialises transactions, and a transaction never awaits
anything that yields, so no two can interleave on the connection.

Durability: WAL with ``synchronous=NORMAL`` survives any process crash (kill -9); a power
loss may lose the last transactions. Set ``AGENTSPAN_SQLITE_SYNCHRONOUS=FULL`` to trade
speed for power-loss durability.

One server per database file: an exclusive lock file next to the database enforces it,
which is what lets a restarting server reclaim server-side leases at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

from agentspan.server.store.base import (
    PURGE_BATCH,
    Budget,
    ConflictError,
    EventRow,
    ExecutionRow,
    Member,
    StoreError,
    StoreLockedError,
    TaskRow,
    purge_statuses,
    settled_trees,
    tree_members,
)
from agentspan.server.store.migrations import SQLITE_MIGRATIONS

_EXEC_COLS = (
    "id, parent_id, root_id, agent_name, spec_hash, status, state, version, event_seq, "
    "created_at, updated_at, input, idempotency_key, session_id"
)
_TASK_COLS = (
    "id, execution_id, kind, name, call_id, input, status, attempt, lease_id, lease_expires_at, "
    "available_at, created_at, idempotency_key, timeout_seconds, stalled, worker_id"
)
_MARKER_TABLE = "agentspan_meta"


def _exec(row: sqlite3.Row | tuple[Any, ...]) -> ExecutionRow:
    return ExecutionRow(*row)


def _task(row: sqlite3.Row | tuple[Any, ...]) -> TaskRow:
    values = list(row)
    values[14] = bool(values[14])
    return TaskRow(*values)


class SqliteTx:
    """Statements of one transaction on the store's connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        row = self._c.execute(f"SELECT {_EXEC_COLS} FROM executions WHERE id = ?", (execution_id,)).fetchone()
        return _exec(row) if row else None

    async def insert_execution(self, row: ExecutionRow) -> None:
        self._c.execute(
            f"INSERT INTO executions ({_EXEC_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.id,
                row.parent_id,
                row.root_id,
                row.agent_name,
                row.spec_hash,
                row.status,
                row.state,
                row.version,
                row.event_seq,
                row.created_at,
                row.updated_at,
                row.input,
                row.idempotency_key,
                row.session_id,
            ),
        )

    async def update_execution(self, row: ExecutionRow, expected_version: int) -> None:
        cur = self._c.execute(
            "UPDATE executions SET status = ?, state = ?, version = ?, event_seq = ?, updated_at = ? "
            "WHERE id = ? AND version = ?",
            (row.status, row.state, row.version, row.event_seq, row.updated_at, row.id, expected_version),
        )
        if cur.rowcount != 1:
            raise ConflictError(f"execution {row.id} was changed by another writer")

    async def find_by_idempotency_key(self, agent_name: str, key: str) -> ExecutionRow | None:
        row = self._c.execute(
            f"SELECT {_EXEC_COLS} FROM executions WHERE agent_name = ? AND idempotency_key = ? "
            "AND status NOT IN ('FAILED', 'TERMINATED', 'TIMED_OUT') ORDER BY created_at DESC LIMIT 1",
            (agent_name, key),
        ).fetchone()
        return _exec(row) if row else None

    async def put_spec(self, spec_hash: str, spec_json: str) -> None:
        self._c.execute("INSERT OR IGNORE INTO specs (hash, spec) VALUES (?, ?)", (spec_hash, spec_json))

    async def get_spec(self, spec_hash: str) -> str | None:
        row = self._c.execute("SELECT spec FROM specs WHERE hash = ?", (spec_hash,)).fetchone()
        return str(row[0]) if row else None

    async def append_events(self, events: Sequence[EventRow]) -> None:
        self._c.executemany(
            "INSERT INTO events (execution_id, seq, type, payload, ts) VALUES (?,?,?,?,?)",
            [(e.execution_id, e.seq, e.type, e.payload, e.ts) for e in events],
        )

    async def append_messages(self, execution_id: str, start: int, messages: Sequence[str]) -> None:
        self._c.executemany(
            "INSERT INTO messages (execution_id, idx, body) VALUES (?,?,?)",
            [(execution_id, start + i, m) for i, m in enumerate(messages)],
        )

    async def upsert_task(self, task: TaskRow) -> None:
        self._c.execute(
            f"INSERT INTO tasks ({_TASK_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET status = excluded.status, lease_id = excluded.lease_id, "
            "lease_expires_at = excluded.lease_expires_at, available_at = excluded.available_at, "
            "input = excluded.input, attempt = excluded.attempt, worker_id = excluded.worker_id, stalled = 0",
            (
                task.id,
                task.execution_id,
                task.kind,
                task.name,
                task.call_id,
                task.input,
                task.status,
                task.attempt,
                task.lease_id,
                task.lease_expires_at,
                task.available_at,
                task.created_at,
                task.idempotency_key,
                task.timeout_seconds,
                int(task.stalled),
                task.worker_id,
            ),
        )

    async def get_task(self, task_id: str) -> TaskRow | None:
        row = self._c.execute(f"SELECT {_TASK_COLS} FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return _task(row) if row else None

    async def delete_task(self, task_id: str) -> None:
        self._c.execute("DELETE FROM tasks WHERE id = ?", (task_id,))

    async def take_task(self, task_id: str, lease_id: str) -> TaskRow | None:
        row = self._c.execute(
            f"DELETE FROM tasks WHERE id = ? AND status = 'leased' AND lease_id = ? RETURNING {_TASK_COLS}",
            (task_id, lease_id),
        ).fetchone()
        return _task(row) if row else None

    async def delete_tasks_of(self, execution_id: str) -> list[TaskRow]:
        rows = self._c.execute(
            f"DELETE FROM tasks WHERE execution_id = ? RETURNING {_TASK_COLS}", (execution_id,)
        ).fetchall()
        return [_task(r) for r in rows]

    async def claim_tasks(
        self,
        kind: str,
        names: Sequence[str] | None,
        now: float,
        count: int,
        lease_seconds: float,
        worker_id: str,
    ) -> list[TaskRow]:
        name_filter = ""
        params: list[Any] = [kind]
        if names is not None:
            name_filter = f" AND name IN ({','.join('?' * len(names))})"
            params.extend(names)
        # One writer at a time (BEGIN IMMEDIATE), so select-then-update cannot race.
        rows = self._c.execute(
            f"SELECT {_TASK_COLS} FROM tasks WHERE kind = ?{name_filter} AND ("
            "(status = 'pending' AND available_at <= ?) OR (status = 'leased' AND lease_expires_at <= ?)) "
            "ORDER BY available_at LIMIT ?",
            (*params, now, now, count),
        ).fetchall()
        claimed: list[TaskRow] = []
        for row in rows:
            task = _task(row)
            task.attempt += 1
            task.lease_id = os.urandom(12).hex()
            task.lease_expires_at = now + lease_seconds
            task.worker_id = worker_id
            self._c.execute(
                "UPDATE tasks SET status = 'leased', attempt = ?, lease_id = ?, lease_expires_at = ?, "
                "worker_id = ? WHERE id = ?",
                (task.attempt, task.lease_id, task.lease_expires_at, worker_id, task.id),
            )
            claimed.append(task)
            # the row returned keeps the *previous* status so callers can see a lost lease
        return claimed

    async def extend_lease(self, task_id: str, lease_id: str, until: float) -> bool:
        cur = self._c.execute(
            "UPDATE tasks SET lease_expires_at = ? WHERE id = ? AND lease_id = ? AND status = 'leased'",
            (until, task_id, lease_id),
        )
        return cur.rowcount == 1

    async def mark_stalled(self, task_ids: Sequence[str]) -> None:
        self._c.executemany("UPDATE tasks SET stalled = 1 WHERE id = ?", [(t,) for t in task_ids])

    async def put_budget(self, root_id: str, max_cost_usd: float | None, max_tokens: int | None) -> None:
        self._c.execute(
            "INSERT INTO budgets (root_id, max_cost_usd, max_tokens) VALUES (?, ?, ?)",
            (root_id, max_cost_usd, max_tokens),
        )

    async def add_budget_usage(self, root_id: str, cost_usd: float, tokens: int) -> None:
        self._c.execute(
            "UPDATE budgets SET used_cost_usd = used_cost_usd + ?, used_tokens = used_tokens + ? "
            "WHERE root_id = ?",
            (cost_usd, tokens, root_id),
        )

    async def notify(self, keys: Iterable[str]) -> None:
        # One server per file (the lock file enforces it): the hub in this process is
        # the only one, and the driver wakes it after the commit.
        return None


class SqliteStore:
    """The embedded store. ``path`` is a file; ``:memory:`` is allowed for tests."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._lock_fd: int | None = None
        self.schema_found = 0
        self.schema_version = 0

    # --- lifecycle ----------------------------------------------------------------------

    async def open(self) -> None:
        sync = os.environ.get("AGENTSPAN_SQLITE_SYNCHRONOUS", "NORMAL").upper()
        if sync not in ("NORMAL", "FULL", "EXTRA"):
            raise StoreError(f"AGENTSPAN_SQLITE_SYNCHRONOUS must be NORMAL, FULL or EXTRA, not {sync!r}")
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._take_file_lock()
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

    # --- reads --------------------------------------------------------------------------

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        async with self._lock:
            row = self.conn.execute(
                f"SELECT {_EXEC_COLS} FROM executions WHERE id = ?", (execution_id,)
            ).fetchone()
        return _exec(row) if row else None

    async def get_spec(self, spec_hash: str) -> str | None:
        async with self._lock:
            row = self.conn.execute("SELECT spec FROM specs WHERE hash = ?", (spec_hash,)).fetchone()
        return str(row[0]) if row else None

    async def list_messages(self, execution_id: str, start: int = 0) -> list[dict[str, Any]]:
        async with self._lock:
            rows = self.conn.execute(
                "SELECT body FROM messages WHERE execution_id = ? AND idx >= ? ORDER BY idx",
                (execution_id, start),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    async def list_events(self, execution_id: str, after: int, limit: int) -> list[EventRow]:
        async with self._lock:
            rows = self.conn.execute(
                "SELECT execution_id, seq, type, payload, ts FROM events "
                "WHERE execution_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (execution_id, after, limit),
            ).fetchall()
        return [EventRow(*r) for r in rows]

    async def list_executions(
        self,
        *,
        status: str | None,
        agent_name: str | None,
        parent_id: str | None,
        roots_only: bool,
        limit: int,
        offset: int,
    ) -> tuple[int, list[ExecutionRow]]:
        clauses: list[str] = []
        params: list[Any] = []
        if status:
            clauses.append("status = ?")
            params.append(status)
        if agent_name:
            clauses.append("agent_name = ?")
            params.append(agent_name)
        if parent_id:
            clauses.append("parent_id = ?")
            params.append(parent_id)
        if roots_only:
            clauses.append("parent_id IS NULL")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self._lock:
            total = self.conn.execute(f"SELECT COUNT(*) FROM executions{where}", params).fetchone()[0]
            rows = self.conn.execute(
                f"SELECT {_EXEC_COLS} FROM executions{where} ORDER BY created_at DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return int(total), [_exec(r) for r in rows]

    async def children_of(self, execution_id: str) -> list[ExecutionRow]:
        async with self._lock:
            rows = self.conn.execute(
                f"SELECT {_EXEC_COLS} FROM executions WHERE parent_id = ? ORDER BY created_at",
                (execution_id,),
            ).fetchall()
        return [_exec(r) for r in rows]

    async def next_due(self, kind: str, names: Sequence[str] | None) -> float | None:
        name_filter = ""
        params: list[Any] = [kind]
        if names is not None:
            name_filter = f" AND name IN ({','.join('?' * len(names))})"
            params.extend(names)
        async with self._lock:
            row = self.conn.execute(
                "SELECT MIN(CASE WHEN status = 'pending' THEN available_at ELSE lease_expires_at END) "
                f"FROM tasks WHERE kind = ?{name_filter}",
                params,
            ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    async def record_poll(self, names: Sequence[str], worker_id: str, now: float) -> None:
        async with self._lock:
            self.conn.executemany(
                "INSERT INTO pollers (name, worker_id, last_poll_at) VALUES (?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET worker_id = excluded.worker_id, "
                "last_poll_at = excluded.last_poll_at",
                [(n, worker_id, now) for n in names],
            )

    async def stalled_candidates(self, older_than: float, poll_since: float) -> list[TaskRow]:
        async with self._lock:
            rows = self.conn.execute(
                f"SELECT {_TASK_COLS} FROM tasks WHERE kind = 'worker' AND stalled = 0 "
                "AND ((status = 'pending' AND available_at <= ?) OR (status = 'leased' AND lease_expires_at <= ?)) "
                "AND name NOT IN (SELECT name FROM pollers WHERE last_poll_at >= ?) LIMIT 500",
                (older_than, older_than, poll_since),
            ).fetchall()
        return [_task(r) for r in rows]

    async def get_budget(self, root_id: str) -> Budget | None:
        async with self._lock:
            row = self.conn.execute(
                "SELECT max_cost_usd, max_tokens, used_cost_usd, used_tokens FROM budgets WHERE root_id = ?",
                (root_id,),
            ).fetchone()
        return Budget(*row) if row else None

    async def release_server_leases(self, kinds: Sequence[str]) -> int:
        async with self._lock:
            cur = self.conn.execute(
                f"UPDATE tasks SET lease_expires_at = 0 WHERE status = 'leased' "
                f"AND kind IN ({','.join('?' * len(kinds))})",
                list(kinds),
            )
        return cur.rowcount

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
        for table in ("events", "messages", "tasks"):
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
