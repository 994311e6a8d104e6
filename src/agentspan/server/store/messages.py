"""Conversations: each execution's messages, append-only, by index."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

from agentspan.protocol.messages import ChatMessage
from agentspan.server.store.sql import Runner, sql, sql_per_dialect


class MessagesTx(Protocol):
    async def append_messages(self, execution_id: str, start: int, messages: Sequence[str]) -> None: ...

    async def list_messages(self, execution_id: str, start: int = 0) -> list[ChatMessage]:
        """Inside a step (a callback asking for the conversation reads it there)."""
        ...


class MessagesReads(Protocol):
    async def list_messages(self, execution_id: str, start: int = 0) -> list[ChatMessage]:
        """The conversation in order, from index ``start`` on (messages are append-only).

        Stored as the engine wrote them, so they are read back as the typed union
        without validating each one again (a model call reads its whole history)."""
        ...


APPEND = sql_per_dialect(
    sqlite="INSERT INTO messages (execution_id, idx, body) VALUES (:execution_id, :start, :body)",
    postgres="INSERT INTO messages (execution_id, idx, body) SELECT :execution_id, :start::bigint + ord - 1, body "
    "FROM unnest(:body::text[]) WITH ORDINALITY AS m(body, ord)",
)
"""SQLite binds one row per executemany() item (``start`` being that row's index);
PostgreSQL takes the whole batch in one statement."""
LIST = sql("SELECT body FROM messages WHERE execution_id = :execution_id AND idx >= :start ORDER BY idx")


class MessagesReadsSql(Runner):
    __slots__ = ()

    async def list_messages(self, execution_id: str, start: int = 0) -> list[ChatMessage]:
        return [json.loads(r[0]) for r in await self._rows(LIST, execution_id, start)]
