"""Media made by server-side tools (images, speech): bounded blobs, one row each.

A generated file is too large for an event or the conversation, so the tool's result
names it (``/api/agent/{executionId}/media/{id}``) and the bytes live here. The id is
derived from the call's idempotency key, so a call run again after a crash writes the
same row again (``put_media`` keeps the first) instead of a second copy. Rows are purged
with their execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agentspan.server.store.sql import Runner, sql


@dataclass(frozen=True, slots=True)
class MediaRow:
    id: str
    execution_id: str
    content_type: str
    data: bytes
    created_at: float


class MediaTx(Protocol):
    async def put_media(self, row: MediaRow) -> None:
        """Store ``row``; a row with its id already stored is kept as it is."""
        ...


class MediaReads(Protocol):
    async def get_media(self, media_id: str) -> MediaRow | None: ...


PUT = sql(
    "INSERT INTO media (id, execution_id, content_type, data, created_at) "
    "VALUES (:id, :execution_id, :content_type, :data, :created_at) ON CONFLICT (id) DO NOTHING"
)
GET = sql("SELECT id, execution_id, content_type, data, created_at FROM media WHERE id = :id")


class MediaTxSql(Runner):
    __slots__ = ()

    async def put_media(self, row: MediaRow) -> None:
        await self._run(PUT, row.id, row.execution_id, row.content_type, row.data, row.created_at)


class MediaReadsSql(Runner):
    __slots__ = ()

    async def get_media(self, media_id: str) -> MediaRow | None:
        r = await self._row(GET, media_id)
        if r is None:
            return None
        return MediaRow(str(r[0]), str(r[1]), str(r[2]), bytes(r[3]), float(r[4]))
