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
from agentspan.server.api.errors import PARAMETERS
from agentspan.server.api.routes import MAX_POSITION, answers, looks_like_event_id, resume_point
from agentspan.server.service.stream import HEARTBEAT_SECONDS

__all__ = ["HEARTBEAT_SECONDS", "router"]

router = APIRouter(prefix="/api")


_LIVE_TEXT = {
    "type": "object",
    "description": "A live piece of model text (not in the log: no `id`; the whole message follows)",
    "required": ["type", "executionId", "content", "timestamp"],
    "properties": {
        "type": {"const": "message"},
        "executionId": {"type": "string"},
        "content": {"type": "string"},
        "data": {"type": "object"},
        "timestamp": {"type": "integer"},
    },
}
_EVENT = {
    "type": "object",
    "description": "One Server-Sent Event: `event` is the event type, `data` its JSON",
    "required": ["data"],
    "properties": {
        "id": {"type": "string", "description": "The event's sequence number in the log"},
        "event": {"type": "string"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"anyOf": [{"$ref": "#/components/schemas/StreamEvent"}, _LIVE_TEXT]},
        },
    },
}
"""Each event of the stream (OpenAPI 3.1 reads a ``text/event-stream`` schema per event)."""


class EventStreamResponse(StreamingResponse):
    """A stream of Server-Sent Events (so the description names the media type)."""

    media_type = "text/event-stream"


@router.get(
    "/agent/stream/{execution_id}",
    response_model=None,
    response_class=EventStreamResponse,
    responses={
        200: {
            "description": "The events, as Server-Sent Events, until the terminal `done` or `error`",
            "content": {"text/event-stream": {"schema": _EVENT}},
        },
        **answers(ErrorCode.EXECUTION_NOT_FOUND, *PARAMETERS),
    },
)
async def stream(
    request: Request,
    execution_id: str,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_query: Annotated[int | None, Query(alias="lastEventId", ge=0, le=MAX_POSITION)] = None,
    deltas: bool = True,
) -> EventStreamResponse:
    after = last_event_query or 0
    if last_event_id and looks_like_event_id(last_event_id):
        after = resume_point(last_event_id, "Last-Event-ID")
    frames = await layer_of(request.app.state).executions.stream(
        principal_of(request.scope), execution_id, after=after, deltas=deltas, gone=request.is_disconnected
    )
    return EventStreamResponse(
        frames,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
