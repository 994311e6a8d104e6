"""REST routes. Paths and camelCase fields follow the reference product where it has an
endpoint for the same job; the worker task endpoints are ours (docs/api.md)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request

from agentspan.protocol.api import (
    TERMINAL_STATUSES,
    CompleteRequest,
    ExecutionDetail,
    ExecutionList,
    FailRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    PollRequest,
    PollResponse,
    RespondResult,
    StartRequest,
    StartResponse,
    StatusResponse,
    StreamEvent,
    TokenUsageWire,
)
from agentspan.protocol.errors import ErrorCode
from agentspan.server.engine.model import ApprovalDecided, Cancel, Pause, Resume, Selection, Stop
from agentspan.server.errors import ApiError, not_found
from agentspan.server.services import Services
from agentspan.server.store.base import ExecutionRow
from agentspan.server.views import (
    add_usage,
    detail_view,
    event_view,
    state_of,
    status_view,
    summary_view,
    usage_view,
)

router = APIRouter(prefix="/api")


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


# --- executions -------------------------------------------------------------------------


@router.post(
    "/agent/start",
    response_model=StartResponse,
    response_model_by_alias=True,
    response_model_exclude_none=True,
)
async def start(
    request: Request,
    body: StartRequest,
    wait_ms: Annotated[int, Query(alias="waitMs", ge=0, le=120_000)] = 0,
) -> StartResponse:
    """Start (or, with a known ``idempotencyKey``, find) an execution. With ``waitMs`` the
    answer waits for the run to end and carries its detail as ``result``: a quick run
    costs the client one round trip."""
    # Served by api/fast.py; this route documents it (OpenAPI) and serves apps without it.
    return await start_and_wait(services(request), body, wait_ms)


async def start_and_wait(svc: Services, body: StartRequest, wait_ms: int) -> StartResponse:
    started = await svc.driver.start(body)
    if wait_ms:
        row = await _wait_terminal(svc, started.execution_id, wait_ms)
        if row.status in TERMINAL_STATUSES:
            started.result = await _detail_of(svc, row, include_events=True)
    return started


@router.get("/agent/{execution_id}/status", response_model=StatusResponse, response_model_exclude_none=True)
async def status(request: Request, execution_id: str) -> StatusResponse:
    row = await services(request).store.get_execution(execution_id)
    if row is None:
        raise not_found(execution_id)
    return status_view(row)


@router.get(
    "/agent/execution/{execution_id}", response_model=ExecutionDetail, response_model_exclude_none=True
)
async def detail(
    request: Request,
    execution_id: str,
    wait_ms: Annotated[int, Query(alias="waitMs", ge=0, le=120_000)] = 0,
    include_events: Annotated[bool, Query(alias="includeEvents")] = False,
) -> ExecutionDetail:
    """The execution's detail; with ``waitMs`` it answers once the execution is terminal
    or the time is up, whichever is first (one long-poll instead of a stream plus a read)."""
    svc = services(request)
    row = await _wait_terminal(svc, execution_id, wait_ms)
    return await _detail_of(svc, row, include_events=include_events)


async def _detail_of(svc: Services, row: ExecutionRow, *, include_events: bool) -> ExecutionDetail:
    events = await svc.store.list_events(row.id, 0, 100_000)
    messages = await svc.store.list_messages(row.id)
    children = await svc.store.children_of(row.id)
    view = detail_view(row, events, messages, children)
    view.token_usage = await _tree_usage(svc, children, view.token_usage)
    if include_events:
        view.events = [event_view(e) for e in events]
    return view


async def _wait_terminal(svc: Services, execution_id: str, wait_ms: int) -> ExecutionRow:
    deadline = time.monotonic() + wait_ms / 1000
    keys = [f"done:{execution_id}"]  # woken by the step that ends it, not by every step
    while True:
        wake = svc.hub.listen(keys)  # before reading, so no commit slips between
        try:
            row = await svc.store.get_execution(execution_id)
            if row is None:
                raise not_found(execution_id)
            remaining = deadline - time.monotonic()
            if row.status in TERMINAL_STATUSES or remaining <= 0:
                return row
            await svc.hub.wait_for(wake, remaining)
        finally:
            svc.hub.unlisten(keys, wake)


async def _tree_usage(svc: Services, children: list[ExecutionRow], own: TokenUsageWire) -> TokenUsageWire:
    """Token usage and cost of an execution (``own``) and all its descendants."""
    total = own.model_copy()
    level = children
    while level:
        next_level: list[ExecutionRow] = []
        for child in level:
            add_usage(total, usage_view(state_of(child)))
            next_level.extend(await svc.store.children_of(child.id))
        level = next_level
    return total


@router.get("/agent/executions", response_model=ExecutionList, response_model_exclude_none=True)
async def list_executions(
    request: Request,
    status: str | None = None,
    agent_name: Annotated[str | None, Query(alias="agentName")] = None,
    parent_id: Annotated[str | None, Query(alias="parentId")] = None,
    include_children: Annotated[bool, Query(alias="includeChildren")] = False,
    size: Annotated[int, Query(ge=1, le=1000)] = 20,
    start: Annotated[int, Query(ge=0)] = 0,
) -> ExecutionList:
    total, rows = await services(request).store.list_executions(
        status=status.upper() if status else None,
        agent_name=agent_name,
        parent_id=parent_id,
        roots_only=not include_children and parent_id is None,
        limit=size,
        offset=start,
    )
    return ExecutionList(total_hits=total, results=[summary_view(r) for r in rows])


@router.get(
    "/agent/executions/{execution_id}/events",
    response_model=list[StreamEvent],
    response_model_exclude_none=True,
)
async def list_events(
    request: Request,
    execution_id: str,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[StreamEvent]:
    store = services(request).store
    if await store.get_execution(execution_id) is None:
        raise not_found(execution_id)
    return [event_view(e) for e in await store.list_events(execution_id, after, limit)]


# --- human in the loop and control ------------------------------------------------------


def _approval_from(body: dict[str, Any], actor: str) -> ApprovalDecided:
    approved = body.get("approved")
    if isinstance(approved, str) and approved.strip().lower() in ("yes", "y", "true", "approve", "approved"):
        approved = True
    elif isinstance(approved, str) and approved.strip().lower() in ("no", "n", "false", "reject", "rejected"):
        approved = False
    if not isinstance(approved, bool):
        raise ApiError(
            400,
            ErrorCode.VALIDATION_FAILED,
            'the execution waits for an approval: send {"approved": true} or '
            '{"approved": false, "reason": "..."}',
        )
    reason = body.get("reason") or ""
    call_id = body.get("taskRefName") or body.get("callId")
    extra = {
        k: v for k, v in body.items() if k not in ("approved", "reason", "taskRefName", "callId", "decidedBy")
    }
    return ApprovalDecided(
        approved=approved,
        reason=str(reason),
        decided_by=str(body.get("decidedBy") or actor),
        decided_at=time.time(),
        call_id=str(call_id) if call_id else None,
        extra=extra,
    )


@router.post("/agent/{execution_id}/respond", response_model=RespondResult)
async def respond(
    request: Request,
    execution_id: str,
    body: Annotated[dict[str, Any], Body()],
    actor: Annotated[str | None, Header(alias="X-Agentspan-Actor")] = None,
) -> RespondResult:
    who = actor or (f"http:{request.client.host}" if request.client else "unknown")
    if "selected" in body or "agent" in body:
        # Manual strategy: a human picks the next agent (null ends the run).
        chosen = body.get("selected", body.get("agent"))
        selection = Selection(
            selected=None if chosen is None else str(chosen),
            decided_by=str(body.get("decidedBy") or who),
            decided_at=time.time(),
        )
        await services(request).driver.apply(execution_id, selection)
        return RespondResult(execution_id=execution_id, decided_by=selection.decided_by)
    decision = _approval_from(body, who)
    await services(request).driver.apply(execution_id, decision)
    return RespondResult(execution_id=execution_id, decided_by=decision.decided_by)


@router.put("/agent/{execution_id}/pause", status_code=204)
async def pause(request: Request, execution_id: str) -> None:
    await services(request).driver.apply(execution_id, Pause())


@router.put("/agent/{execution_id}/resume", status_code=204)
async def resume(request: Request, execution_id: str) -> None:
    await services(request).driver.apply(execution_id, Resume())


@router.delete("/agent/{execution_id}/cancel", status_code=204)
async def cancel(request: Request, execution_id: str, reason: str = "") -> None:
    await services(request).driver.apply(execution_id, Cancel(reason=reason))


@router.post("/agent/{execution_id}/stop", status_code=204)
async def stop(request: Request, execution_id: str) -> None:
    await services(request).driver.apply(execution_id, Stop())


# --- worker tasks -----------------------------------------------------------------------


@router.post("/tasks/poll", response_model=PollResponse, response_model_exclude_none=True)
async def poll(request: Request, body: PollRequest) -> PollResponse:
    if not body.names:
        raise ApiError(400, ErrorCode.VALIDATION_FAILED, "names: give at least one task name")
    tasks = await services(request).tasks.poll(
        body.names, body.worker_id, body.count, body.wait_ms, gone=request.is_disconnected
    )
    return PollResponse(tasks=tasks)


@router.post("/tasks/{task_id}/heartbeat", response_model=HeartbeatResponse)
async def heartbeat(request: Request, task_id: str, body: HeartbeatRequest) -> HeartbeatResponse:
    ttl = await services(request).tasks.heartbeat(task_id, body.lease_id)
    return HeartbeatResponse(lease_ttl_ms=ttl)


@router.post("/tasks/{task_id}/complete", status_code=204)
async def complete(request: Request, task_id: str, body: CompleteRequest) -> None:
    await services(request).tasks.complete(task_id, body.lease_id, body.output, body.state_updates)


@router.post("/tasks/{task_id}/fail", status_code=204)
async def fail(request: Request, task_id: str, body: FailRequest) -> None:
    await services(request).tasks.fail(task_id, body.lease_id, body.error, body.retryable)
