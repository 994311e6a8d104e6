"""Read models: status, detail, list and event views built from stored rows.

They are what the API (and later the UI) shows; each is a pure function of rows, so the
service layer decides which rows to read and these only shape them.
"""

from __future__ import annotations

import json
from typing import Any, cast

from agentspan.protocol.api import (
    TERMINAL_STATUSES,
    ExecutionDetail,
    ExecutionSummary,
    StatusResponse,
    StreamEvent,
    TokenUsageWire,
    ToolCallRecord,
)
from agentspan.protocol.messages import ChatMessage
from agentspan.server.engine.model import ExecState
from agentspan.server.engine.waits import (
    human_guard,
    pending_guard,
    pending_tool,
    waiting_calls,
    waiting_reason,
)
from agentspan.server.store.base import EventRow, ExecutionRow


def state_of(row: ExecutionRow) -> ExecState:
    return ExecState.model_validate_json(row.state)


def usage_view(state: ExecState) -> TokenUsageWire:
    usage = state.usage
    return TokenUsageWire(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        cached_tokens=usage.cached_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        cost_usd=round(usage.cost_usd, 8) if usage.priced else None,
    )


def add_usage(total: TokenUsageWire, more: TokenUsageWire) -> None:
    total.prompt_tokens += more.prompt_tokens
    total.completion_tokens += more.completion_tokens
    total.total_tokens += more.total_tokens
    total.cached_tokens += more.cached_tokens
    total.reasoning_tokens += more.reasoning_tokens
    if total.cost_usd is None or more.cost_usd is None:
        total.cost_usd = None
    else:
        total.cost_usd = round(total.cost_usd + more.cost_usd, 8)


def status_view(row: ExecutionRow) -> StatusResponse:
    state = state_of(row)
    terminal = row.status in TERMINAL_STATUSES
    waiting = [] if terminal else waiting_calls(state)
    choice = state.pending_choice if state.selecting and not terminal else None
    guard = human_guard(state)
    if choice is None and guard is not None:
        choice = pending_guard(guard)
    return StatusResponse(
        execution_id=row.id,
        agent_name=row.agent_name,
        status=state.status,
        is_complete=terminal,
        is_running=not terminal,
        is_waiting=bool(waiting) or choice is not None,
        output=state.output if terminal else None,
        reason_for_incompletion=state.error if terminal else None,
        finish_reason=state.finish_reason,
        pending_tool=pending_tool(waiting[0]) if waiting else choice,
        waiting_reason=waiting_reason(state),
        current_turn=state.turn,
        token_usage=usage_view(state),
        parent_execution_id=row.parent_id,
    )


def summary_view(row: ExecutionRow) -> ExecutionSummary:
    state = state_of(row)
    ended = row.status in TERMINAL_STATUSES
    return ExecutionSummary(
        execution_id=row.id,
        agent_name=row.agent_name,
        status=row.status,  # type: ignore[arg-type]
        parent_execution_id=row.parent_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        waiting_reason=waiting_reason(state),
        token_usage=usage_view(state),
        duration_ms=round((row.updated_at - row.created_at) * 1000) if ended else None,
    )


def list_cursor(row: ExecutionRow) -> str:
    """The keyset cursor after ``row``: its start time (exact, as ``repr`` writes a
    float) and its id."""
    return f"{row.created_at!r}:{row.id}"


def parse_cursor(cursor: str) -> tuple[float, str] | None:
    """``list_cursor``'s ``(created_at, id)``; ``None`` when ``cursor`` is not one."""
    at, sep, execution_id = cursor.partition(":")
    try:
        created_at = float(at)
    except ValueError:
        return None
    if not sep or not execution_id or created_at != created_at or abs(created_at) == float("inf"):
        return None
    return created_at, execution_id


def event_view(event: EventRow) -> StreamEvent:
    fields: dict[str, Any] = json.loads(event.payload)
    return StreamEvent(
        id=event.seq,
        type=event.type,
        execution_id=event.execution_id,
        timestamp=int(event.ts * 1000),
        **fields,
    )


def tool_calls_from(events: list[EventRow]) -> list[ToolCallRecord]:
    """Pair ``tool_call``/``tool_result``/``approval`` events into one record per call."""
    calls: dict[str, ToolCallRecord] = {}
    for event in events:
        fields = json.loads(event.payload)
        call_id = fields.get("call_id")
        if not call_id:
            continue
        if event.type == "tool_call":
            calls[call_id] = ToolCallRecord(
                call_id=call_id, name=fields.get("tool_name", ""), args=fields.get("args") or {}
            )
            continue
        record = calls.get(call_id)
        if record is None:
            continue
        if event.type == "tool_result":
            result = fields.get("result")
            record.result = result
            if record.status != "rejected":
                record.status = "completed"
            if isinstance(result, dict) and set(result) == {"error"}:
                record.status = "failed"
                record.error = str(result["error"])
        elif event.type == "approval":
            record.approval = fields.get("data")
            if record.approval and not record.approval.get("approved"):
                record.status = "rejected"
        elif event.type == "tool_retry":
            record.attempts += 1
    for record in calls.values():
        record.attempts += 1 if record.status != "pending" or record.attempts else 0
    return list(calls.values())


def detail_view(
    row: ExecutionRow,
    events: list[EventRow],
    messages: list[ChatMessage],
    children: list[ExecutionRow],
) -> ExecutionDetail:
    state = state_of(row)
    return ExecutionDetail(
        execution_id=row.id,
        agent_name=row.agent_name,
        status=state.status,
        parent_execution_id=row.parent_id,
        root_execution_id=row.root_id,
        spec_hash=row.spec_hash,
        input=json.loads(row.input),
        output=state.output,
        finish_reason=state.finish_reason,
        error=state.error,
        token_usage=usage_view(state),
        tool_calls=tool_calls_from(events),
        messages=cast(list[dict[str, Any]], messages),  # TypedDicts are plain dicts
        sub_results=state.sub_results or None,
        children=[c.id for c in children],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
