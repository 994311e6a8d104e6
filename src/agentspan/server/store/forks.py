"""Forks: which execution a fork was made from, and at which step.

One row per forked execution (``execution_id``), naming its origin and the step it was
forked from (the origin's event ``seq`` of the model call the fork makes again). The
index on ``origin_id`` lists an execution's forks. Rows go when their execution is
purged; an origin may be purged before its forks (the link then names an id that is gone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agentspan.server.store.sql import Row, Runner, sql


@dataclass(frozen=True, slots=True)
class ForkRow:
    execution_id: str
    origin_id: str
    from_step: int
    created_at: float


class ForksTx(Protocol):
    async def put_fork(self, row: ForkRow) -> None: ...


class ForksReads(Protocol):
    async def fork_of(self, execution_id: str) -> ForkRow | None:
        """Where ``execution_id`` was forked from (``None``: it is no fork)."""
        ...

    async def forks_from(self, origin_id: str) -> list[ForkRow]:
        """The forks made from ``origin_id``, oldest first."""
        ...


PUT = sql(
    "INSERT INTO forks (execution_id, origin_id, from_step, created_at) "
    "VALUES (:execution_id, :origin_id, :from_step, :created_at)"
)
OF = sql(
    "SELECT execution_id, origin_id, from_step, created_at FROM forks WHERE execution_id = :execution_id"
)
FROM = sql(
    "SELECT execution_id, origin_id, from_step, created_at FROM forks WHERE origin_id = :origin_id "
    "ORDER BY created_at, execution_id LIMIT 1000"
)


def _fork(r: Row) -> ForkRow:
    return ForkRow(str(r[0]), str(r[1]), int(r[2]), float(r[3]))


class ForksTxSql(Runner):
    __slots__ = ()

    async def put_fork(self, row: ForkRow) -> None:
        await self._run(PUT, row.execution_id, row.origin_id, row.from_step, row.created_at)


class ForksReadsSql(Runner):
    __slots__ = ()

    async def fork_of(self, execution_id: str) -> ForkRow | None:
        row = await self._row(OF, execution_id)
        return _fork(row) if row is not None else None

    async def forks_from(self, origin_id: str) -> list[ForkRow]:
        return [_fork(r) for r in await self._rows(FROM, origin_id)]
