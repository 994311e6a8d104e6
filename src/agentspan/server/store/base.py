"""The store interface used by the engine driver and the API.

Everything an execution needs to continue after a crash lives behind this interface:
executions (state document + optimistic version), their event logs, their messages,
agent specs by hash, and the task queue with leases. The engine never sees SQL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

PURGEABLE_STATUSES: tuple[str, ...] = ("COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT")
"""Terminal statuses: an execution in one of them never changes again. (The same set as
``protocol.api.TERMINAL_STATUSES``, repeated because the store imports nothing above it.)"""
PURGE_BATCH = 500
"""Root executions examined per purge transaction: a huge purge never holds one long
transaction (with its locks) while servers work on the same database."""


class StoreError(Exception):
    """The database cannot be used (wrong file, newer schema, locked by another server)."""


class StoreLockedError(StoreError):
    """Another process holds the database's one-process lock (SQLite: a running server)."""


class ConflictError(StoreError):
    """An optimistic version check failed: another writer changed the execution first."""


@dataclass(slots=True)
class ExecutionRow:
    id: str
    parent_id: str | None
    root_id: str
    agent_name: str
    spec_hash: str
    status: str
    state: str
    """The state document, JSON."""
    version: int
    event_seq: int
    created_at: float
    updated_at: float
    input: str
    """The start request's prompt/context, JSON."""
    idempotency_key: str | None = None
    session_id: str = ""


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


@dataclass(slots=True)
class EventRow:
    execution_id: str
    seq: int
    type: str
    payload: str
    """The event's fields, JSON."""
    ts: float


@dataclass(slots=True)
class Budget:
    """Spending limits of an execution tree and what it has used so far."""

    max_cost_usd: float | None
    max_tokens: int | None
    used_cost_usd: float
    used_tokens: int

    def exceeded(self) -> str | None:
        """Why no further model call may be made, if that is the case."""
        if self.max_tokens is not None and self.used_tokens >= self.max_tokens:
            return f"token budget exhausted ({self.used_tokens} of {self.max_tokens} tokens used)"
        if self.max_cost_usd is not None and self.used_cost_usd >= self.max_cost_usd:
            return f"cost budget exhausted (${self.used_cost_usd:.6f} of ${self.max_cost_usd:.6f} used)"
        return None


class Tx(Protocol):
    """Operations inside one transaction. All-or-nothing."""

    async def get_execution(self, execution_id: str) -> ExecutionRow | None: ...

    async def insert_execution(self, row: ExecutionRow) -> None: ...

    async def update_execution(self, row: ExecutionRow, expected_version: int) -> None:
        """Write status/state/event_seq/updated_at; raise ConflictError on a version mismatch."""
        ...

    async def find_by_idempotency_key(self, agent_name: str, key: str) -> ExecutionRow | None: ...

    async def put_spec(self, spec_hash: str, spec_json: str) -> None: ...

    async def get_spec(self, spec_hash: str) -> str | None: ...

    async def append_events(self, events: Sequence[EventRow]) -> None: ...

    async def append_messages(self, execution_id: str, start: int, messages: Sequence[str]) -> None: ...

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

    async def put_budget(self, root_id: str, max_cost_usd: float | None, max_tokens: int | None) -> None: ...

    async def add_budget_usage(self, root_id: str, cost_usd: float, tokens: int) -> None:
        """Count a model call against its tree's budget (no-op when there is none)."""
        ...

    async def notify(self, keys: Iterable[str]) -> None:
        """Wake waiters on these hub keys in *other* server processes once this transaction
        commits (never if it rolls back). A no-op where one process is the only server
        (SQLite); the driver still wakes its own process's hub itself after the commit."""
        ...


class Store(Protocol):
    """A database holding executions. Implementations: SQLite (embedded default) and
    PostgreSQL (shared by several server replicas)."""

    url: str
    schema_found: int
    """The schema version ``open()`` found, before migrating (0: a new, empty database)."""
    schema_version: int
    """The schema version after ``open()`` applied any pending migrations."""

    async def open(self) -> None:
        """Connect, and bring the schema up to date (``schema_found`` -> ``schema_version``)."""
        ...

    async def close(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    # Reads that need no transaction.
    async def get_execution(self, execution_id: str) -> ExecutionRow | None: ...

    async def get_spec(self, spec_hash: str) -> str | None: ...

    async def list_messages(self, execution_id: str, start: int = 0) -> list[dict[str, Any]]:
        """The conversation in order, from index ``start`` on (messages are append-only)."""
        ...

    async def list_events(self, execution_id: str, after: int, limit: int) -> list[EventRow]: ...

    async def list_executions(
        self,
        *,
        status: str | None,
        agent_name: str | None,
        parent_id: str | None,
        roots_only: bool,
        limit: int,
        offset: int,
    ) -> tuple[int, list[ExecutionRow]]: ...

    async def children_of(self, execution_id: str) -> list[ExecutionRow]: ...

    async def next_due(self, kind: str, names: Sequence[str] | None) -> float | None:
        """Earliest time a task of this kind becomes claimable (due or lease expiry)."""
        ...

    async def record_poll(self, names: Sequence[str], worker_id: str, now: float) -> None: ...

    async def stalled_candidates(self, older_than: float, poll_since: float) -> list[TaskRow]:
        """Worker tasks waiting since before ``older_than`` (pending, or leased to a worker
        whose lease expired) whose name nobody polled after ``poll_since``, not yet marked
        stalled."""
        ...

    async def get_budget(self, root_id: str) -> Budget | None: ...

    async def release_server_leases(self, kinds: Sequence[str]) -> int:
        """Make leased server-side tasks claimable now (after a restart of the only server)."""
        ...

    async def purge(
        self,
        older_than: float,
        statuses: Sequence[str],
        *,
        dry_run: bool = False,
        batch_size: int = PURGE_BATCH,
    ) -> int:
        """Delete finished execution trees; return how many executions went (or would go).

        A tree goes when its root is in one of ``statuses`` (terminal ones only) and every
        member — the root and all its descendants — is terminal and was last updated
        before ``older_than`` (epoch seconds). Its events, messages, tasks and budget go
        with it. Anything still running or waiting, and any tree with such a member, is
        left alone. Each batch of ``batch_size`` roots is its own transaction, so an
        interrupted purge keeps what it finished. ``dry_run`` counts without deleting.
        Specs are kept: they are shared by hash, small, and still referenced by the
        executions that remain."""
        ...


def purge_statuses(statuses: Sequence[str], batch_size: int) -> list[str]:
    """The statuses a purge may select roots by; refuses any that is not terminal, and a
    batch size that would make no progress."""
    if batch_size < 1:
        raise ValueError(f"purge batch size must be at least 1, not {batch_size}")
    wanted = sorted(set(statuses))
    if not wanted:
        raise ValueError("purge needs at least one status")
    live = [s for s in wanted if s not in PURGEABLE_STATUSES]
    if live:
        raise ValueError(f"only finished executions can be purged, not {', '.join(live)}")
    return wanted


Member = tuple[str, str, str, float]
"""An execution in a tree a purge looks at: ``(id, parent or root id, status, updated_at)``."""


async def tree_members(
    roots: list[Member], children: Callable[[list[str]], Awaitable[list[Member]]]
) -> list[Member]:
    """The roots and all their descendants, each as ``(id, root id, status, updated_at)``.

    Walks one generation at a time; ``children(ids)`` returns the executions whose
    parent is one of ``ids``, as ``(id, parent id, status, updated_at)``. A query per
    generation (trees are shallow) keeps every lookup on the parent_id index, where a
    recursive query lets PostgreSQL's planner scan the whole table in each batch."""
    found = list(roots)
    root_of = {r[0]: r[0] for r in roots}
    generation = list(root_of)
    while generation:
        next_generation: list[str] = []
        for child_id, parent_id, status, updated_at in await children(generation):
            if child_id in root_of:  # a cycle of parent links, which no writer makes
                continue
            root_of[child_id] = root_of[parent_id]
            found.append((child_id, root_of[parent_id], status, updated_at))
            next_generation.append(child_id)
        generation = next_generation
    return found


def settled_trees(members: Iterable[Member], older_than: float) -> tuple[list[str], list[str]]:
    """Of whole trees given as ``(id, root id, status, updated_at)`` rows, the ones a purge
    may delete: ``(root ids, ids of all their members)``.

    A tree is kept if any member is still live or changed recently: deleting the root
    would orphan (or, by foreign key, fail on) a child that is still working."""
    by_root: dict[str, list[str]] = {}
    kept: set[str] = set()
    for execution_id, root_id, status, updated_at in members:
        by_root.setdefault(root_id, []).append(execution_id)
        if status not in PURGEABLE_STATUSES or updated_at >= older_than:
            kept.add(root_id)
    roots = [r for r in by_root if r not in kept]
    return roots, [m for r in roots for m in by_root[r]]
