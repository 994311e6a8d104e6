"""``human`` tools: the model asks a person; the person's answer is the call's result.

A call waits durably (``CallState.status`` ``awaiting_approval`` with ``wait_kind``
``human``; ``pendingTool.kind`` ``human`` with the question as ``parameters``) until
``/respond`` brings an answer that fits the tool's ``responseSchema`` (default:
``{"message": string}``, so ``AgentHandle.send(text)`` answers it). The answer is recorded
once (a ``human_input`` event; a second answer finds nothing waiting: 409).
"""

from __future__ import annotations

from typing import Any

from agentspan.protocol.spec import AgentConfig, ToolConfig
from agentspan.server.engine.model import CallState, EventDraft, HumanAnswered, Rejected
from agentspan.server.engine.steps import Step
from agentspan.server.engine.waits import pending_tool, wait_text


def human_schema(tool: ToolConfig | None) -> dict[str, Any]:
    """What a person answers a ``human`` tool with."""
    if tool is not None and tool.response_schema is not None:
        return tool.response_schema
    about = tool.description if tool is not None and tool.description else "Your answer"
    return {
        "type": "object",
        "properties": {"message": {"type": "string", "description": about}},
        "required": ["message"],
    }


def ask_person(d: Step, call: CallState, tool: ToolConfig) -> None:
    call.status = "awaiting_approval"
    call.wait_kind = "human"
    call.approval = None
    call.response_schema = human_schema(tool)
    d.events.append(
        EventDraft(
            "waiting",
            {
                "tool_name": call.name,
                "call_id": call.call_id,
                "content": wait_text(call),
                "pending_tool": pending_tool(call),
            },
        )
    )


def on_human_answer(spec: AgentConfig, d: Step, inp: HumanAnswered) -> None:
    """Record the answer as the call's result (once), then maybe end the turn."""
    waiting = [c for c in d.state.awaiting_approval() if c.wait_kind == "human"]
    if inp.call_id is not None:
        waiting = [c for c in waiting if c.call_id == inp.call_id]
    if not waiting:
        raise Rejected("not_waiting", "the execution is not waiting for an answer to a question")
    call = waiting[0]
    call.approval = {"decidedBy": inp.decided_by, "decidedAt": inp.decided_at}
    call.response_schema = None
    call.wait_kind = None
    d.events.append(
        EventDraft(
            "human_input",
            {
                "tool_name": call.name,
                "call_id": call.call_id,
                "result": inp.answer,
                "data": {"decidedBy": inp.decided_by, "decidedAt": inp.decided_at},
            },
        )
    )
    # A bare {"message": text} answer is that text; any richer answer is the object.
    answer: Any = inp.answer
    if set(answer) == {"message"}:
        answer = answer["message"]
    # The turn module dispatches calls through this one: import at use.
    from agentspan.server.engine.tool_calls import show_result

    show_result(spec, d, call, answer)
