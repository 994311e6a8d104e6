"""A person taking a turn as an agent (``agentspan.agents.ext.UserProxyAgent``).

When a user proxy runs — a member's turn in a team, a pipeline step, a handoff — no
model is called: the execution waits durably for a person, with the conversation so far
as the question (``pendingTool.kind`` ``human``, answered with ``respond({"message": …})``
or ``AgentHandle.send(text)``), and the answer is its output. The wait survives restarts
like any other; the answer is recorded once (a ``human_input`` event).

``human_input_mode`` says when to ask: ``ALWAYS``; ``TERMINATE`` only when the
conversation says ``TERMINATE`` (AutoGen's meaning), otherwise the default response is
the answer; ``NEVER`` answers with the default response without asking.
"""

from __future__ import annotations

from typing import Any

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import CallState, ChildFinished, EventDraft, HumanAnswered, Rejected, Start
from agentspan.server.engine.steps import Step, finish
from agentspan.server.engine.strategies.base import Strategy
from agentspan.server.engine.waits import pending_tool, wait_text

AGENT_TYPE = "user_proxy"
MODES = ("ALWAYS", "TERMINATE", "NEVER")
CALL_ID = "human_input"
"""The one wait a user proxy has (its ``pendingTool.taskRefName``)."""


def is_user_proxy(spec: AgentConfig) -> bool:
    return not spec.agents and (spec.metadata or {}).get("_agent_type") == AGENT_TYPE


def _mode(spec: AgentConfig) -> str:
    mode = str((spec.metadata or {}).get("_human_input_mode", "ALWAYS")).upper()
    return mode if mode in MODES else "ALWAYS"


def _default_response(spec: AgentConfig) -> str:
    return str((spec.metadata or {}).get("_default_response", "Continue."))


def start(spec: AgentConfig, d: Step, inp: Start) -> None:
    mode = _mode(spec)
    if mode == "NEVER" or (mode == "TERMINATE" and "TERMINATE" not in inp.prompt):
        finish(d, "COMPLETED", output=_default_response(spec), finish_reason="stop")
        return
    s = d.state
    call = CallState(
        call_id=CALL_ID,
        name=f"{spec.name}_input",
        args={"question": inp.prompt},
        status="awaiting_approval",
        wait_kind="human",
        response_schema={
            "type": "object",
            "properties": {"message": {"type": "string", "description": f"What {spec.name} says"}},
            "required": ["message"],
        },
    )
    s.calls[CALL_ID] = call
    s.call_order.append(CALL_ID)
    d.events.append(
        EventDraft(
            "waiting",
            {
                "tool_name": call.name,
                "call_id": CALL_ID,
                "content": wait_text(call),
                "pending_tool": pending_tool(call),
            },
        )
    )


def on_answer(spec: AgentConfig, d: Step, inp: HumanAnswered) -> None:
    call = d.state.calls.get(CALL_ID)
    if call is None or call.status != "awaiting_approval":
        raise Rejected("not_waiting", "the execution is not waiting for an answer")
    call.status = "done"
    call.approval = {"decidedBy": inp.decided_by, "decidedAt": inp.decided_at}
    call.response_schema = None
    call.wait_kind = None
    answer: Any = inp.answer
    if set(answer) == {"message"}:
        answer = answer["message"]
    call.result = answer
    d.events.append(
        EventDraft(
            "human_input",
            {
                "tool_name": call.name,
                "call_id": CALL_ID,
                "result": inp.answer,
                "data": {"decidedBy": inp.decided_by, "decidedAt": inp.decided_at},
            },
        )
    )
    finish(d, "COMPLETED", output=answer, finish_reason="stop")


def _no_children(spec: AgentConfig, d: Step, inp: ChildFinished) -> None:
    """A user proxy starts no children; a late notice of one has nothing to act on."""


def _resume(spec: AgentConfig, d: Step) -> None:
    d.state.llm_due = False


def _stop(spec: AgentConfig, d: Step) -> None:
    finish(d, "COMPLETED", output=None, finish_reason="stopped")


STRATEGY = Strategy(
    name=AGENT_TYPE,
    start=start,
    child_finished=_no_children,
    resume=_resume,
    stop=_stop,
    inputs={HumanAnswered: on_answer},
)
