"""Why an execution waits, as status and events show it."""

from __future__ import annotations

from typing import Any

from agentspan.protocol.api import split_scope
from agentspan.server.engine.model import CallState, ExecState, GuardState

_NAMED_MISSING = 10
"""Tools a waiting reason names; more are counted (one per tool would make every status
of an agent waiting for thousands of tools as long as its tool list)."""


def wait_text(call: CallState) -> str:
    if call.wait_kind == "human":
        question = call.args.get("question")
        if isinstance(question, str) and question.strip():
            return f"Tool '{call.name}' asks: {question.strip()}"
        return f"Tool '{call.name}' waits for a person's answer."
    if call.wait_kind == "messages":
        return f"Tool '{call.name}' waits for a message (send_message)."
    if call.wait_kind == "outcome_unknown":
        return (
            f"Tool '{call.name}' is not retryable and its worker was lost mid-call: "
            "approve to run it again, reject to give up on it."
        )
    return f"Tool '{call.name}' requires approval."


APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "description": "Approve this call?"},
        "reason": {"type": "string", "description": "Why (the model sees it when the call is rejected)"},
    },
    "required": ["approved"],
}
"""What a person answers to an approval, unless the tool declares a richer schema."""


def pending_tool(call: CallState) -> dict[str, Any]:
    """The ``pendingTool`` document shown in status and ``waiting`` events."""
    if call.wait_kind == "messages":  # answered by send_message, not /respond
        return {
            "taskRefName": call.call_id,
            "tool_name": call.name,
            "parameters": call.args,
            "kind": "messages",
        }
    return {
        "taskRefName": call.call_id,
        "tool_name": call.name,
        "parameters": call.args,
        "kind": call.wait_kind or "approval",
        "response_schema": call.response_schema or APPROVAL_SCHEMA,
    }


GUARD_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean"},
        "reason": {"type": "string"},
        "edited_output": {"type": "string", "description": "The answer to use instead"},
    },
    "required": ["approved"],
}


def guard_ref(rail: str) -> str:
    """The ``taskRefName`` of a ``human`` guardrail's question."""
    return f"guardrail.{rail}"


def guard_wait_text(g: GuardState) -> str:
    why = f": {g.message}" if g.message else ""
    return (
        f"Guardrail '{g.rail}' failed{why}. Waiting for a person to approve the answer, "
        "approve it with an edited output, or reject it."
    )


def pending_guard(g: GuardState) -> dict[str, Any]:
    """The ``pendingTool`` document of a ``human`` guardrail's question."""
    return {
        "taskRefName": guard_ref(g.rail),
        "tool_name": g.rail,
        "parameters": {"content": g.content, "message": g.message},
        "kind": "guardrail",
        "response_schema": GUARD_RESPONSE_SCHEMA,
    }


def human_guard(state: ExecState) -> GuardState | None:
    """The guardrail a person is asked about, if any."""
    g = state.guard
    return g if g is not None and g.human and not state.terminal else None


def waiting_calls(state: ExecState) -> list[CallState]:
    """The calls of a live execution that wait for someone: a person's answer, or a
    message (``wait_for_message_tool``)."""
    if state.terminal:
        return []
    calls = [state.calls[i] for i in state.call_order]
    return [
        c
        for c in calls
        if c.status == "awaiting_approval" or (c.status == "running" and c.wait_kind == "messages")
    ]


START_A_WORKER = (
    "start the program that defines it (a worker starts with runtime.run/start(agent), "
    "or serves it with runtime.serve(agent))"
)
"""How to get a stuck tool call going, said wherever the wait is shown (status, ``show``)."""


def waiting_reason(state: ExecState) -> str | None:
    """Why a non-terminal execution is not making progress, if it is not."""
    if state.terminal:
        return None
    if state.selecting:
        return "waiting for a human to choose the next agent"
    waiting = waiting_calls(state)
    if waiting:
        return wait_text(waiting[0])
    guard = human_guard(state)
    if guard is not None:
        return guard_wait_text(guard)
    if state.paused:
        return "paused"
    if state.missing_workers:
        missing = state.missing_workers
        names = ", ".join(_queue_text(n) for n in missing[:_NAMED_MISSING])
        if len(missing) > _NAMED_MISSING:
            names += f" and {len(missing) - _NAMED_MISSING} more"
        return f"no worker is polling for tool {names}: {START_A_WORKER}"
    return None


def _queue_text(name: str) -> str:
    tool, scope = split_scope(name)
    return (
        f"'{tool}'"
        if scope is None
        else f"'{tool}' (stateful: only the process that started execution {scope})"
    )
