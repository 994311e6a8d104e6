"""REST routes. Paths and camelCase fields follow the reference product where it has an
endpoint for the same job; the worker task endpoints are ours (docs/api.md).

Each route only parses its request, calls one service method and returns its answer;
errors are mapped in ``api/errors.py``. The start and worker task routes are served by
``api/fast.py`` in front of FastAPI: here they document those endpoints (OpenAPI) and
serve apps without the fast paths, calling the same service methods.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from agentspan.protocol.api import (
    CompleteRequest,
    ExecutionDetail,
    ExecutionList,
    FailRequest,
    ForkRequest,
    ForkResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    MessageQueued,
    PollRequest,
    PollResponse,
    RespondRequest,
    RespondResult,
    SignalRequest,
    StartRequest,
    StartResponse,
    StatusResponse,
    StreamEvent,
    WaitingList,
)
from agentspan.protocol.errors import ErrorCode
from agentspan.server.api.edge import ServiceLayer, layer_of, principal_of
from agentspan.server.api.errors import BODY, PARAMETERS, WRITE_METHOD, WRITES, documented
from agentspan.server.errors import ValidationFailed
from agentspan.server.service.principal import Principal

router = APIRouter(prefix="/api")

MAX_WAIT_MS = 120_000
MAX_POSITION = 2**53 - 1
MAX_CURSOR = 400
MAX_SEARCH = 200
"""The largest page offset or event id a request may name: any real one is far smaller,
and a larger one would overflow the database's 64-bit integers (a 500, not a 400)."""

AUTHENTICATED: tuple[ErrorCode, ...] = (ErrorCode.UNAUTHORIZED, ErrorCode.INSUFFICIENT_SCOPE)
"""What every route under ``/api`` may answer because of who is calling (``api/auth.py``:
no or an unknown key, or a key without the route's scope). ``answers`` documents them for
every operation of ``routes.py``, ``sse.py`` and ``keys.py``; ``/health`` is open and lists
none of them."""


def answers(*codes: ErrorCode) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses=`` of an ``/api`` route that raises ``codes``: those, the
    ``AUTHENTICATED`` ones and (``documented``) what any request may be answered with."""
    return documented(*AUTHENTICATED, *codes)


_UNKNOWN = answers(ErrorCode.EXECUTION_NOT_FOUND)
_CONTROL_CODES = (ErrorCode.EXECUTION_NOT_FOUND, ErrorCode.INVALID_STATE, *WRITES)
_BODILESS_CONTROL = answers(*_CONTROL_CODES, *WRITE_METHOD)
_LEASED = answers(ErrorCode.LEASE_LOST, *BODY, *WRITES)


def looks_like_event_id(raw: str) -> bool:
    """Digits only (``str.isdigit`` alone also takes ``"²"``, which ``int`` refuses)."""
    value = raw.strip()
    return value.isascii() and value.isdigit()


def resume_point(raw: str, name: str) -> int:
    """An event id (``lastEventId``, ``Last-Event-ID``) as given; 400 when it is none."""
    value = raw.strip()
    if not looks_like_event_id(value) or int(value) > MAX_POSITION:
        raise ValidationFailed(f"{name}: give an event id (0 to {MAX_POSITION}), not {raw!r}")
    return int(value)


def _edge(request: Request) -> tuple[ServiceLayer, Principal]:
    return layer_of(request.app.state), principal_of(request.scope)


# --- executions -------------------------------------------------------------------------


@router.post(
    "/agent/start",
    response_model=StartResponse,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses=answers(
        ErrorCode.INVALID_AGENT,
        ErrorCode.INVALID_MODEL,
        ErrorCode.BASE_URL_NOT_ALLOWED,
        ErrorCode.LIMIT_EXCEEDED,
        ErrorCode.MCP_SERVER_NOT_ALLOWED,
        ErrorCode.TOOL_DISCOVERY_FAILED,
        *PARAMETERS,
        *BODY,
        *WRITES,
    ),
)
async def start(
    request: Request,
    body: StartRequest,
    wait_ms: Annotated[int, Query(alias="waitMs", ge=0, le=MAX_WAIT_MS)] = 0,
) -> StartResponse:
    """Start (or, with a known ``idempotencyKey``, find) an execution. With ``waitMs`` the
    answer waits for the run to end and carries its detail as ``result``: a quick run
    costs the client one round trip."""
    layer, principal = _edge(request)
    return await layer.executions.start(principal, body, wait_ms)


@router.get(
    "/agent/{execution_id}/status",
    response_model=StatusResponse,
    response_model_exclude_none=True,
    responses=_UNKNOWN,
)
async def status(request: Request, execution_id: str) -> StatusResponse:
    layer, principal = _edge(request)
    return await layer.executions.status(principal, execution_id)


@router.get(
    "/agent/execution/{execution_id}",
    response_model=ExecutionDetail,
    response_model_exclude_none=True,
    responses=answers(ErrorCode.EXECUTION_NOT_FOUND, *PARAMETERS),
)
async def detail(
    request: Request,
    execution_id: str,
    wait_ms: Annotated[int, Query(alias="waitMs", ge=0, le=MAX_WAIT_MS)] = 0,
    include_events: Annotated[bool, Query(alias="includeEvents")] = False,
) -> ExecutionDetail:
    """The execution's detail; with ``waitMs`` it answers once the execution is terminal
    or the time is up, whichever is first (one long-poll instead of a stream plus a read)."""
    layer, principal = _edge(request)
    return await layer.executions.detail(
        principal, execution_id, wait_ms=wait_ms, include_events=include_events
    )


@router.get(
    "/agent/executions",
    response_model=ExecutionList,
    response_model_exclude_none=True,
    responses=answers(*PARAMETERS),
)
async def list_executions(
    request: Request,
    status: str | None = None,
    agent_name: Annotated[str | None, Query(alias="agentName")] = None,
    parent_id: Annotated[str | None, Query(alias="parentId")] = None,
    include_children: Annotated[bool, Query(alias="includeChildren")] = False,
    size: Annotated[int, Query(ge=1, le=1000)] = 20,
    start: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
    q: Annotated[str | None, Query(max_length=MAX_SEARCH)] = None,
) -> ExecutionList:
    """Newest first. Page by ``start`` (an offset) or, fast at any depth, by ``cursor``
    (the ``nextCursor`` of the page before). ``q`` searches ids, agent names and inputs
    (case-insensitive substring)."""
    layer, principal = _edge(request)
    return await layer.executions.list_executions(
        principal,
        status=status,
        agent_name=agent_name,
        parent_id=parent_id,
        include_children=include_children,
        size=size,
        start=start,
        cursor=cursor,
        search=q,
    )


@router.get(
    "/agent/waiting",
    response_model=WaitingList,
    response_model_exclude_none=True,
    responses=answers(*PARAMETERS),
)
async def waiting(
    request: Request,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
) -> WaitingList:
    """The approvals inbox: executions waiting for a person (an approval, a form, a
    team's choice), across agents, newest first, each with what it waits for."""
    layer, principal = _edge(request)
    return await layer.executions.waiting(principal, size=size, cursor=cursor)


@router.get(
    "/agent/executions/{execution_id}/events",
    response_model=list[StreamEvent],
    response_model_exclude_none=True,
    responses=answers(ErrorCode.EXECUTION_NOT_FOUND, *PARAMETERS),
)
async def list_events(
    request: Request,
    execution_id: str,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[StreamEvent]:
    layer, principal = _edge(request)
    return await layer.executions.events(principal, execution_id, after=after, limit=limit)


# --- human in the loop and control ------------------------------------------------------


@router.post(
    "/agent/{execution_id}/respond",
    response_model=RespondResult,
    responses=answers(
        ErrorCode.EXECUTION_NOT_FOUND,
        ErrorCode.NOT_WAITING,
        ErrorCode.ALREADY_DECIDED,
        ErrorCode.INVALID_STATE,
        ErrorCode.LIMIT_EXCEEDED,
        *BODY,
        *WRITES,
    ),
)
async def respond(
    request: Request,
    execution_id: str,
    body: RespondRequest,
    actor: Annotated[str | None, Header(alias="X-Agentspan-Actor")] = None,
) -> RespondResult:
    """Answer a waiting execution: an approval decision, or a manual team's next agent."""
    layer, principal = _edge(request)
    who = actor or (f"http:{request.client.host}" if request.client else "unknown")
    return await layer.executions.respond(principal, execution_id, body, who)


@router.post(
    "/agent/{execution_id}/fork",
    response_model=ForkResponse,
    status_code=201,
    responses=answers(
        ErrorCode.EXECUTION_NOT_FOUND,
        ErrorCode.INVALID_FORK_POINT,
        ErrorCode.INVALID_MODEL,
        ErrorCode.LIMIT_EXCEEDED,
        *BODY,
        *WRITES,
    ),
)
async def fork(request: Request, execution_id: str, body: ForkRequest) -> ForkResponse:
    """Run the execution again from one of its model calls (``fromStep``: that step's
    event id): a new execution with the steps before it copied (nothing before it runs
    again), optionally with other ``instructions`` or ``model``."""
    layer, principal = _edge(request)
    return await layer.executions.fork(principal, execution_id, body)


@router.put("/agent/{execution_id}/pause", status_code=204, responses=_BODILESS_CONTROL)
async def pause(request: Request, execution_id: str) -> None:
    layer, principal = _edge(request)
    await layer.executions.control(principal, execution_id, "pause")


@router.put("/agent/{execution_id}/resume", status_code=204, responses=_BODILESS_CONTROL)
async def resume(request: Request, execution_id: str) -> None:
    layer, principal = _edge(request)
    await layer.executions.control(principal, execution_id, "resume")


@router.delete("/agent/{execution_id}/cancel", status_code=204, responses=answers(*_CONTROL_CODES))
async def cancel(request: Request, execution_id: str, reason: str = "") -> None:
    layer, principal = _edge(request)
    await layer.executions.control(principal, execution_id, "cancel", reason)


@router.post("/agent/{execution_id}/stop", status_code=204, responses=_BODILESS_CONTROL)
async def stop(request: Request, execution_id: str) -> None:
    layer, principal = _edge(request)
    await layer.executions.control(principal, execution_id, "stop")


@router.get(
    "/agent/{execution_id}/media/{media_id}",
    response_class=Response,
    responses={
        200: {"description": "The file, with its content type.", "content": {"application/octet-stream": {}}},
        **answers(ErrorCode.NOT_FOUND),
    },
)
async def media(request: Request, execution_id: str, media_id: str) -> Response:
    """A file a media tool of the execution made (``image_tool``, ``audio_tool``): the
    ``url`` of the tool's result."""
    layer, principal = _edge(request)
    content_type, data = await layer.executions.media(principal, execution_id, media_id)
    return Response(content=data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})


# --- messages and signals ---------------------------------------------------------------


@router.post(
    "/agent/{execution_id}/messages",
    response_model=MessageQueued,
    responses=answers(
        ErrorCode.EXECUTION_NOT_FOUND,
        ErrorCode.INVALID_STATE,
        ErrorCode.LIMIT_EXCEEDED,
        ErrorCode.QUEUE_FULL,
        *BODY,
        *WRITES,
    ),
)
async def send_message(
    request: Request,
    execution_id: str,
    body: dict[str, Any],
    idempotency_key: Annotated[str | None, Query(alias="idempotencyKey", max_length=200)] = None,
) -> MessageQueued:
    """Queue a message (any JSON object) for the execution's ``wait_for_message_tool``
    calls: durable, taken in order, each by one call. With ``idempotencyKey`` (or an
    ``Idempotency-Key`` header), a send repeated with the same key is queued once; the
    repeat answers with the first one's ``seq`` and ``duplicate: true``."""
    layer, principal = _edge(request)
    key = idempotency_key or request.headers.get("idempotency-key")
    return await layer.executions.send_message(principal, execution_id, body, key)


@router.post(
    "/agent/{execution_id}/signal",
    status_code=204,
    responses=answers(
        ErrorCode.EXECUTION_NOT_FOUND, ErrorCode.INVALID_STATE, ErrorCode.LIMIT_EXCEEDED, *BODY, *WRITES
    ),
)
async def signal(request: Request, execution_id: str, body: SignalRequest) -> None:
    """Set the standing note shown to the model with every later call (``""`` clears it)."""
    layer, principal = _edge(request)
    await layer.executions.signal(principal, execution_id, body.message)


# --- worker tasks -----------------------------------------------------------------------


@router.post(
    "/tasks/poll",
    response_model=PollResponse,
    response_model_exclude_none=True,
    # With a ``domain``: the execution it names is unknown (404) or ended (409).
    responses=answers(ErrorCode.EXECUTION_NOT_FOUND, ErrorCode.INVALID_STATE, *BODY, *WRITES),
)
async def poll(request: Request, body: PollRequest) -> PollResponse:
    layer, principal = _edge(request)
    tasks = await layer.tasks.poll(
        principal,
        body.names,
        body.worker_id,
        body.count,
        body.wait_ms,
        gone=request.is_disconnected,
        domain=body.domain,
    )
    return PollResponse(tasks=tasks)


@router.post("/tasks/{task_id}/heartbeat", response_model=HeartbeatResponse, responses=_LEASED)
async def heartbeat(request: Request, task_id: str, body: HeartbeatRequest) -> HeartbeatResponse:
    layer, principal = _edge(request)
    ttl = await layer.tasks.heartbeat(principal, task_id, body.lease_id)
    return HeartbeatResponse(lease_ttl_ms=ttl)


@router.post("/tasks/{task_id}/complete", status_code=204, responses=_LEASED)
async def complete(request: Request, task_id: str, body: CompleteRequest) -> None:
    layer, principal = _edge(request)
    await layer.tasks.complete(principal, task_id, body.lease_id, body.output, body.state_updates)


@router.post("/tasks/{task_id}/fail", status_code=204, responses=_LEASED)
async def fail(request: Request, task_id: str, body: FailRequest) -> None:
    layer, principal = _edge(request)
    await layer.tasks.fail(principal, task_id, body.lease_id, body.error, body.retryable)
