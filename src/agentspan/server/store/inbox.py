"""The inbox: messages sent to a running execution (``send_message``), in order.

One row per message, numbered per execution (``seq`` 1, 2, 3 ...). A row is written
undelivered; ``take_messages`` hands the oldest ones to one ``wait_for_message_tool``
call by writing its call id on them, in the transaction that records the call's result,
so a message is delivered once or not at all. Callers lock the execution row first
(``Tx.get_execution``), which serialises the numbering and the taking per execution.

A message may carry the sender's idempotency key (unique per execution): a retried send
finds the first one's row (``message_with_key``) instead of queueing it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agentspan.server.store.sql import Runner, sql


@dataclass(frozen=True, slots=True)
class InboxRow:
    execution_id: str
    seq: int
    body: str
    """The message as JSON text."""
    created_at: float
    call_id: str | None
    """The call it was delivered to (``None``: still queued)."""
    delivered_at: float | None


class InboxTx(Protocol):
    async def inbox_counts(self, execution_id: str) -> tuple[int, int]:
        """``(last seq, messages still queued)`` of an execution's inbox."""
        ...

    async def put_message(
        self, execution_id: str, seq: int, body: str, at: float, idempotency_key: str | None = None
    ) -> None: ...

    async def message_with_key(self, execution_id: str, idempotency_key: str) -> int | None:
        """The ``seq`` of the message sent to the execution with this key, if any."""
        ...

    async def take_messages(self, execution_id: str, call_id: str, limit: int, at: float) -> list[str]:
        """The oldest ``limit`` queued messages (JSON texts), now marked delivered to ``call_id``."""
        ...


class InboxReads(Protocol):
    async def list_inbox(self, execution_id: str) -> list[InboxRow]:
        """Every message of an execution, delivered or not, by ``seq``."""
        ...


COUNTS = sql(
    "SELECT COALESCE(MAX(seq), 0), COALESCE(SUM(CASE WHEN call_id IS NULL THEN 1 ELSE 0 END), 0) "
    "FROM inbox WHERE execution_id = :execution_id"
)
PUT = sql(
    "INSERT INTO inbox (execution_id, seq, body, created_at, idempotency_key) "
    "VALUES (:execution_id, :seq, :body, :at, :key)"
)
WITH_KEY = sql("SELECT seq FROM inbox WHERE execution_id = :execution_id AND idempotency_key = :key")
QUEUED = sql(
    "SELECT seq, body FROM inbox WHERE execution_id = :execution_id AND call_id IS NULL "
    "ORDER BY seq LIMIT :limit"
)
DELIVER = sql(
    "UPDATE inbox SET call_id = :call_id, delivered_at = :at "
    "WHERE execution_id = :execution_id AND seq >= :first AND seq <= :last AND call_id IS NULL"
)
LIST = sql(
    "SELECT execution_id, seq, body, created_at, call_id, delivered_at FROM inbox "
    "WHERE execution_id = :execution_id ORDER BY seq"
)


class InboxTxSql(Runner):
    __slots__ = ()

    async def inbox_counts(self, execution_id: str) -> tuple[int, int]:
        row = await self._row(COUNTS, execution_id)
        return (int(row[0]), int(row[1])) if row is not None else (0, 0)

    async def put_message(
        self, execution_id: str, seq: int, body: str, at: float, idempotency_key: str | None = None
    ) -> None:
        await self._run(PUT, execution_id, seq, body, at, idempotency_key)

    async def message_with_key(self, execution_id: str, idempotency_key: str) -> int | None:
        row = await self._row(WITH_KEY, execution_id, idempotency_key)
        return None if row is None else int(row[0])

    async def take_messages(self, execution_id: str, call_id: str, limit: int, at: float) -> list[str]:
        rows = await self._rows(QUEUED, execution_id, limit)
        if not rows:
            return []
        # The queued rows are consecutive from the oldest: mark that range (they are the
        # only undelivered ones in it, as delivery always takes the oldest first).
        await self._run(DELIVER, call_id, at, execution_id, int(rows[0][0]), int(rows[-1][0]))
        return [str(r[1]) for r in rows]


class InboxReadsSql(Runner):
    __slots__ = ()

    async def list_inbox(self, execution_id: str) -> list[InboxRow]:
        rows = await self._rows(LIST, execution_id)
        return [
            InboxRow(
                str(r[0]),
                int(r[1]),
                str(r[2]),
                float(r[3]),
                None if r[4] is None else str(r[4]),
                None if r[5] is None else float(r[5]),
            )
            for r in rows
        ]
