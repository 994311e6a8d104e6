"""``GET /api/agent/stream/{id}``: the event log as Server-Sent Events.

Replays from ``Last-Event-ID`` (header) or ``lastEventId`` (query), then follows live
events. Events are read from the store, so any replica can serve any stream and a dropped
connection resumes exactly where it stopped. Ends after the terminal ``done``/``error``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from agentspan.protocol.api import TERMINAL_STATUSES
from agentspan.server.api.routes import services
from agentspan.server.errors import not_found
from agentspan.server.services import Services
from agentspan.server.views import event_view

router = APIRouter(prefix="/api")
HEARTBEAT_SECONDS = 15.0
TERMINAL_EVENTS = ("done", "error")


@router.get("/agent/stream/{execution_id}", response_model=None)
async def stream(
    request: Request,
    execution_id: str,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_query: Annotated[int | None, Query(alias="lastEventId")] = None,
    deltas: bool = True,
) -> StreamingResponse:
    svc = services(request)
    if await svc.store.get_execution(execution_id) is None:
        raise not_found(execution_id)
    after = last_event_query or 0
    if last_event_id and last_event_id.strip().isdigit():
        after = int(last_event_id.strip())
    return StreamingResponse(
        _events(svc, request, execution_id, after, deltas),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    svc: Services, request: Request, execution_id: str, after: int, with_deltas: bool
) -> AsyncIterator[str]:
    yield ":connected\n\n"
    keys = [f"exec:{execution_id}"]
    deltas = svc.hub.subscribe_deltas(execution_id) if with_deltas else None
    try:
        while True:
            wake = svc.hub.listen(keys)  # before reading, so no commit slips between
            try:
                # Live text first: it always precedes the commit of the message it builds.
                while deltas:
                    yield _delta_frame(execution_id, deltas.popleft())
                events = await svc.store.list_events(execution_id, after, 500)
                for event in events:
                    after = event.seq
                    body = event_view(event).wire()
                    yield f"id:{event.seq}\nevent:{event.type}\ndata:{json.dumps(body)}\n\n"
                    if event.type in TERMINAL_EVENTS:
                        return
                if events:
                    continue
                row = await svc.store.get_execution(execution_id)
                if row is None:
                    return
                if row.status in TERMINAL_STATUSES:
                    # It may have ended between the two reads: send what was written.
                    for event in await svc.store.list_events(execution_id, after, 500):
                        yield f"id:{event.seq}\nevent:{event.type}\ndata:{json.dumps(event_view(event).wire())}\n\n"
                    return
                if await request.is_disconnected():
                    return
                if not await svc.hub.wait_for(wake, HEARTBEAT_SECONDS):
                    yield ":heartbeat\n\n"
            finally:
                svc.hub.unlisten(keys, wake)
    finally:
        if deltas is not None:
            svc.hub.unsubscribe_deltas(execution_id, deltas)


def _delta_frame(execution_id: str, text: str) -> str:
    """A live piece of model text: no ``id`` (it is not in the durable log, so resuming
    skips it; the complete message arrives in the log)."""
    body = {
        "type": "message",
        "executionId": execution_id,
        "content": text,
        "data": {"delta": True},
        "timestamp": int(time.time() * 1000),
    }
    return f"event:message\ndata:{json.dumps(body)}\n\n"
