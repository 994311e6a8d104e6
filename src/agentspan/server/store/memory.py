"""Conversation memory of sessions: the exchanges of the runs that shared a ``sessionId``.

Append-only rows, one per message, in the order they were recorded (``id``). A run adds
its exchange once, when it completes (``(execution_id, idx)`` is unique, so recording
again changes nothing); a run started later in the same session reads the newest rows.
Runs of one session may overlap: each sees what had completed before it started, and
nothing is ever rewritten, so two servers can never interleave a conversation into a
corrupt one. Rows outlive their executions' purge (they are the session's, not the run's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agentspan.server.store.sql import Runner, sql


class MemoryTx(Protocol):
    async def append_session_messages(
        self, session_id: str, execution_id: str, messages: Sequence[str], at: float
    ) -> None:
        """Record one run's messages (JSON texts) at the end of its session."""
        ...

    async def recent_session_messages(self, session_id: str, limit: int) -> list[str]:
        """The newest ``limit`` messages of a session (JSON texts), oldest first."""
        ...


APPEND = sql(
    "INSERT INTO session_messages (session_id, execution_id, idx, body, created_at) "
    "VALUES (:session_id, :execution_id, :idx, :body, :at) ON CONFLICT (execution_id, idx) DO NOTHING"
)
RECENT = sql(
    "SELECT body FROM (SELECT id, body FROM session_messages WHERE session_id = :session_id "
    "ORDER BY id DESC LIMIT :limit) AS recent ORDER BY id"
)


class MemorySql(Runner):
    """Both statements, for a transaction and for the store's plain reads."""

    __slots__ = ()

    async def append_session_messages(
        self, session_id: str, execution_id: str, messages: Sequence[str], at: float
    ) -> None:
        for idx, body in enumerate(messages):
            await self._run(APPEND, session_id, execution_id, idx, body, at)

    async def recent_session_messages(self, session_id: str, limit: int) -> list[str]:
        if limit <= 0:
            return []
        return [str(r[0]) for r in await self._rows(RECENT, session_id, limit)]
