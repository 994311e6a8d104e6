"""``GET /api/agent/stream/{id}``: the event log as Server-Sent Events.

Replays from ``Last-Event-ID`` (header) or ``lastEventId`` (query), then follows live
events until the terminal ``done``/``error``. The frames come from the service layer
(``ExecutionService.stream``). ``api/fast.py`` serves this path in front of FastAPI;
this route documents it (OpenAPI) and serves apps without the fast paths.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from agentspan.protocol.errors import ErrorCode
from agentspan.server.api.edge import layer_of, principal_of
from agentspan.server.api.errors import documented
from agentspan.server.service.stream import HEARTBEAT_SECONDS

__all__ = ["HEARTBEAT_SECONDS", "router"]

router = APIRouter(prefix="/api")


@router.get(
    "/agent/stream/{execution_id}",
    response_model=None,
    responses=documented(ErrorCode.EXECUTION_NOT_FOUND),
)
async def stream(
    request: Request,
    execution_id: str,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_query: Annotated[int | None, Query(alias="lastEventId")] = None,
    deltas: bool = True,
) -> StreamingResponse:
    after = last_event_query or 0
    if last_event_id and last_event_id.strip().isdigit():
        after = int(last_event_id.strip())
    frames = await layer_of(request.app.state).executions.stream(
        principal_of(request.scope), execution_id, after=after, deltas=deltas, gone=request.is_disconnected
    )
    return StreamingResponse(
        frames,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
