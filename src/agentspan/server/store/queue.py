"""The task queue: work waiting for a worker or the server, leases, and worker liveness.

A task is ``pending`` until claimed, then ``leased`` under a ``lease_id`` until its
holder finishes it (the row is deleted) or the lease expires (it can be claimed again).
``pollers`` remembers when each task name was last polled, so a task nobody polls for
can be reported as stalled. Claiming is where the dialects really differ (SQLite has one
writer; PostgreSQL skips rows other claimers hold), so ``claim_tasks`` and the
statements taking a list of names live in sqlite.py and postgres.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from agentspan.server.store.sql import Row, Runner, columns, placeholders, sql, sql_per_dialect


@dataclass(slots=True)
class TaskRow:
    id: str
    execution_id: str
    kind: str
    """``worker`` (user code, polled over HTTP), ``llm`` or ``timer`` (run by the server)."""
    name: str
    call_id: str
    input: str
    status: str
    """``pending`` or ``leased``; finished tasks are deleted."""
    attempt: int
    lease_id: str | None
    lease_expires_at: float | None
    available_at: float
    created_at: float
    idempotency_key: str
    timeout_seconds: float | None = None
    stalled: bool = False
    worker_id: str | None = None


TASK_COLUMNS = (
    "id",
    "execution_id",
    "kind",
    "name",
    "call_id",
    "input",
    "status",
    "attempt",
    "lease_id",
    "lease_expires_at",
    "available_at",
    "created_at",
    "idempotency_key",
    "timeout_seconds",
    "stalled",
    "worker_id",
)
"""In ``TaskRow`` field order, so a row maps by position."""
COLS = columns(TASK_COLUMNS)


def task_row(row: Row) -> TaskRow:
    task = TaskRow(*row)
    task.stalled = bool(task.stalled)  # SQLite keeps booleans as 0/1
    return task


class QueueTx(Protocol):
    async def upsert_task(self, task: TaskRow) -> None:
        """Insert a task, or reset an existing one (same id) to pending for a retry."""
        ...

    async def get_task(self, task_id: str) -> TaskRow | None: ...

    async def delete_task(self, task_id: str) -> None: ...

    async def take_task(self, task_id: str, lease_id: str) -> TaskRow | None:
        """Delete the task if it is leased under ``lease_id`` and return it as it was;
        ``None`` if it is gone or leased to someone else (fencing in one statement)."""
        ...

    async def delete_tasks_of(self, execution_id: str) -> list[TaskRow]:
        """Drop every task of an execution; return what was dropped."""
        ...

    async def claim_tasks(
        self,
        kind: str,
        names: Sequence[str] | None,
        now: float,
        count: int,
        lease_seconds: float,
        worker_id: str,
    ) -> list[TaskRow]:
        """Lease up to ``count`` due tasks (pending, or leased with an expired lease)."""
        ...

    async def extend_lease(self, task_id: str, lease_id: str, until: float) -> bool: ...

    async def mark_stalled(self, task_ids: Sequence[str]) -> None: ...

    async def stalled_tasks_of(
        self, execution_id: str, older_than: float, poll_since: float, limit: int
    ) -> list[TaskRow]:
        """``stalled_candidates`` of one execution (up to ``limit``), read in the
        transaction that reports them."""
        ...


class QueueReads(Protocol):
    async def next_due(self, kind: str, names: Sequence[str] | None) -> float | None:
        """Earliest time a task of this kind becomes claimable (due or lease expiry)."""
        ...

    async def record_poll(self, names: Sequence[str], worker_id: str, now: float) -> None: ...

    async def stalled_candidates(self, older_than: float, poll_since: float) -> list[TaskRow]:
        """Worker tasks waiting since before ``older_than`` (pending, or leased to a worker
        whose lease expired) whose name nobody polled after ``poll_since``, not yet marked
        stalled."""
        ...

    async def stalled_executions(self, older_than: float, poll_since: float, limit: int) -> list[str]:
        """The executions (up to ``limit``) that have ``stalled_candidates``."""
        ...

    async def release_server_leases(self, kinds: Sequence[str]) -> int:
        """Make leased server-side tasks claimable now (after a restart of the only server)."""
        ...


UPSERT = sql(
    f"INSERT INTO tasks ({COLS}) VALUES ({placeholders(TASK_COLUMNS)}) "
    "ON CONFLICT (id) DO UPDATE SET status = excluded.status, lease_id = excluded.lease_id, "
    "lease_expires_at = excluded.lease_expires_at, available_at = excluded.available_at, "
    "input = excluded.input, attempt = excluded.attempt, worker_id = excluded.worker_id, stalled = false"
)
GET = sql_per_dialect(
    sqlite=f"SELECT {COLS} FROM tasks WHERE id = :id",
    # Locked: of two replicas finishing the same task (a retried completion, or a
    # completion racing a re-claim), the second waits and then sees what the first did.
    postgres=f"SELECT {COLS} FROM tasks WHERE id = :id FOR UPDATE",
)
DELETE = sql("DELETE FROM tasks WHERE id = :id")
# Of two replicas finishing the same task, the second waits on the row lock and then
# finds it gone.
TAKE = sql(
    f"DELETE FROM tasks WHERE id = :id AND status = 'leased' AND lease_id = :lease_id RETURNING {COLS}"
)
DELETE_OF = sql(f"DELETE FROM tasks WHERE execution_id = :execution_id RETURNING {COLS}")
EXTEND_LEASE = sql(
    "UPDATE tasks SET lease_expires_at = :until WHERE id = :id AND lease_id = :lease_id AND status = 'leased'"
)
MARK_STALLED = sql_per_dialect(
    sqlite="UPDATE tasks SET stalled = true WHERE id = :id",  # once per executemany() item
    postgres="UPDATE tasks SET stalled = true WHERE id = ANY(:id::text[])",
)
RECORD_POLL = sql_per_dialect(
    sqlite="INSERT INTO pollers (name, worker_id, last_poll_at) VALUES (:name, :worker_id, :now) "
    "ON CONFLICT (name) DO UPDATE SET worker_id = excluded.worker_id, last_poll_at = excluded.last_poll_at",
    postgres="WITH polled (n) AS (SELECT unnest(:name::text[])) "
    "INSERT INTO pollers (name, worker_id, last_poll_at) SELECT n, :worker_id, :now FROM polled "
    "ON CONFLICT (name) DO UPDATE SET worker_id = excluded.worker_id, last_poll_at = excluded.last_poll_at",
)
_STALLED = (
    "kind = 'worker' AND NOT stalled "
    "AND ((status = 'pending' AND available_at <= :older_than) "
    "OR (status = 'leased' AND lease_expires_at <= :older_than)) "
    "AND name NOT IN (SELECT name FROM pollers WHERE last_poll_at >= :poll_since)"
)
STALLED_CANDIDATES = sql(f"SELECT {COLS} FROM tasks WHERE {_STALLED} LIMIT 500")
STALLED_EXECUTIONS = sql(f"SELECT DISTINCT execution_id FROM tasks WHERE {_STALLED} LIMIT :limit")
# Served by the tasks_execution index: an execution's tasks, whatever the queue holds.
STALLED_OF = sql(
    f"SELECT {COLS} FROM tasks WHERE execution_id = :execution_id AND {_STALLED} "
    "ORDER BY available_at, id LIMIT :limit"
)
NEXT_DUE = "SELECT MIN(CASE WHEN status = 'pending' THEN available_at ELSE lease_expires_at END) FROM tasks"
"""The head of ``next_due``; each dialect adds its WHERE (it filters by a list of names)."""


class QueueTxSql(Runner):
    """``QueueTx`` in shared SQL, but for claiming and batch updates (each dialect's)."""

    __slots__ = ()

    async def upsert_task(self, task: TaskRow) -> None:
        await self._run(
            UPSERT,
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
            task.stalled,
            task.worker_id,
        )

    async def get_task(self, task_id: str) -> TaskRow | None:
        row = await self._row(GET, task_id)
        return task_row(row) if row is not None else None

    async def delete_task(self, task_id: str) -> None:
        await self._run(DELETE, task_id)

    async def take_task(self, task_id: str, lease_id: str) -> TaskRow | None:
        row = await self._row(TAKE, task_id, lease_id)
        return task_row(row) if row is not None else None

    async def delete_tasks_of(self, execution_id: str) -> list[TaskRow]:
        return [task_row(r) for r in await self._rows(DELETE_OF, execution_id)]

    async def extend_lease(self, task_id: str, lease_id: str, until: float) -> bool:
        return await self._run(EXTEND_LEASE, until, task_id, lease_id) == 1

    async def stalled_tasks_of(
        self, execution_id: str, older_than: float, poll_since: float, limit: int
    ) -> list[TaskRow]:
        rows = await self._rows(STALLED_OF, execution_id, older_than, poll_since, limit)
        return [task_row(r) for r in rows]


class QueueReadsSql(Runner):
    __slots__ = ()

    async def stalled_candidates(self, older_than: float, poll_since: float) -> list[TaskRow]:
        return [task_row(r) for r in await self._rows(STALLED_CANDIDATES, older_than, poll_since)]

    async def stalled_executions(self, older_than: float, poll_since: float, limit: int) -> list[str]:
        rows = await self._rows(STALLED_EXECUTIONS, older_than, poll_since, limit)
        return [str(r[0]) for r in rows]
