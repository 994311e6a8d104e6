"""Operator reads: what ``/metrics`` and ``agentspan doctor`` ask about the shared state.

Every replica of a PostgreSQL deployment shares these rows, so gauges of shared state
are read here on each scrape instead of being counted per process (a sum over replicas
would count them several times). Each read is one grouped statement over indexed
columns, bounded by ``LIMIT`` so a queue with very many task names cannot make a scrape
unbounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agentspan.server.store.sql import Runner, sql

MAX_TASK_NAMES = 200
"""Queue rows a scrape returns at most (one per kind, task name, status and stall flag)."""


@dataclass(frozen=True, slots=True)
class QueueCount:
    kind: str
    name: str
    status: str
    stalled: bool
    count: int


@dataclass(frozen=True, slots=True)
class OpenExecutions:
    by_status: dict[str, int]
    """Non-terminal executions by status (``RUNNING``, ``PAUSED``)."""
    with_tasks: dict[tuple[str, bool], int]
    """``(task kind, stalled)`` -> how many distinct executions have such a task queued."""


class OpsReads(Protocol):
    async def queue_counts(self) -> list[QueueCount]:
        """Tasks in the queue by kind, name, status and stall flag (``MAX_TASK_NAMES`` rows)."""
        ...

    async def open_executions(self) -> OpenExecutions: ...

    async def workers_seen(self, since: float) -> int:
        """Distinct worker ids that polled after ``since`` (the last poller of each task name)."""
        ...


QUEUE_COUNTS = sql(
    "SELECT kind, name, status, stalled, COUNT(*) FROM tasks "
    "GROUP BY kind, name, status, stalled ORDER BY COUNT(*) DESC LIMIT :limit"
)
OPEN_BY_STATUS = sql(
    "SELECT status, COUNT(*) FROM executions WHERE status IN ('RUNNING', 'PAUSED') GROUP BY status"
)
EXECUTIONS_WITH_TASKS = sql(
    "SELECT kind, stalled, COUNT(DISTINCT execution_id) FROM tasks GROUP BY kind, stalled"
)
WORKERS_SEEN = sql(
    "SELECT COUNT(DISTINCT worker_id) FROM pollers WHERE last_poll_at >= :since AND worker_id IS NOT NULL"
)


class OpsReadsSql(Runner):
    __slots__ = ()

    async def queue_counts(self) -> list[QueueCount]:
        rows = await self._rows(QUEUE_COUNTS, MAX_TASK_NAMES)
        return [QueueCount(str(k), str(n), str(s), bool(st), int(c)) for k, n, s, st, c in rows]

    async def open_executions(self) -> OpenExecutions:
        by_status = {str(s): int(c) for s, c in await self._rows(OPEN_BY_STATUS)}
        with_tasks = {(str(k), bool(st)): int(c) for k, st, c in await self._rows(EXECUTIONS_WITH_TASKS)}
        return OpenExecutions(by_status, with_tasks)

    async def workers_seen(self, since: float) -> int:
        row = await self._row(WORKERS_SEEN, since)
        return int(row[0]) if row is not None else 0
