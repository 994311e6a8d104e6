"""The store interface used by the engine driver and the API.

Everything an execution needs to continue after a crash lives behind this interface:
executions (state document + optimistic version), their event logs, their messages,
agent specs by hash, and the task queue with leases. The engine never sees SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol


class StoreError(Exception):
    """The database cannot be used (wrong file, newer schema, locked by another server)."""


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

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    # Reads that need no transaction.
    async def get_execution(self, execution_id: str) -> ExecutionRow | None: ...

    async def get_spec(self, spec_hash: str) -> str | None: ...

    async def list_messages(self, execution_id: str) -> list[dict[str, Any]]: ...

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
