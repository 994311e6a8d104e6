"""Event logs: each execution's append-only history, numbered by ``seq``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from agentspan.server.store.sql import Runner, sql, sql_per_dialect


@dataclass(slots=True)
class EventRow:
    execution_id: str
    seq: int
    type: str
    payload: str
    """The event's fields, JSON."""
    ts: float


class EventsTx(Protocol):
    async def append_events(self, events: Sequence[EventRow]) -> None: ...


class EventsReads(Protocol):
    async def list_events(self, execution_id: str, after: int, limit: int) -> list[EventRow]: ...


APPEND = sql_per_dialect(
    # One row per executemany() item on SQLite; one statement for the whole batch on
    # PostgreSQL, where a round trip per event would dominate a step.
    sqlite="INSERT INTO events (execution_id, seq, type, payload, ts) "
    "VALUES (:execution_id, :seq, :type, :payload, :ts)",
    postgres="INSERT INTO events (execution_id, seq, type, payload, ts) "
    "SELECT * FROM unnest(:execution_id::text[], :seq::bigint[], :type::text[], :payload::text[], :ts::float8[])",
)
LIST = sql(
    "SELECT execution_id, seq, type, payload, ts FROM events "
    "WHERE execution_id = :execution_id AND seq > :after ORDER BY seq LIMIT :limit"
)


class EventsReadsSql(Runner):
    __slots__ = ()

    async def list_events(self, execution_id: str, after: int, limit: int) -> list[EventRow]:
        rows = await self._rows(LIST, execution_id, after, limit if limit >= 0 else self.NO_LIMIT)
        return [EventRow(*r) for r in rows]
