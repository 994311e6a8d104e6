"""The single-agent loop (no strategy, or a handoff parent): the model calls tools until it
answers. With sub-agents it also gets ``transfer_to_<agent>`` tools; calling one hands the
run over, and that child's answer becomes this execution's answer (``tool_calls``)."""

from __future__ import annotations

from typing import Any

from agentspan.protocol.messages import UserMessage
from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.functions import fn_answer
from agentspan.server.engine.human_tools import on_human_answer
from agentspan.server.engine.model import (
    ApprovalDecided,
    EventDraft,
    HumanAnswered,
    LlmResult,
    PendingFn,
    Start,
    ToolFailed,
    ToolSucceeded,
)
from agentspan.server.engine.model_turn import on_llm_result
from agentspan.server.engine.steps import (
    InputHandler,
    Step,
    add_messages,
    finish,
    next_model_call,
    request_model_call,
)
from agentspan.server.engine.strategies.base import Strategy
from agentspan.server.engine.tool_calls import (
    on_approval,
    on_call_child_finished,
    on_tool_failed,
    on_tool_succeeded,
)


def start(spec: AgentConfig, d: Step, inp: Start) -> None:
    message: UserMessage = {"role": "user", "content": inp.prompt}
    if inp.media:
        message["media"] = list(inp.media)
    add_messages(d, [*inp.history, message])
    d.state.remembered_replies = sum(1 for m in inp.history if m["role"] == "assistant")
    if spec.planner:
        request_model_call(spec, d, "plan")
        return
    next_model_call(spec, d)


def stop(spec: AgentConfig, d: Step) -> None:
    """Stop now when idle; otherwise at the next model call (``next_model_call``)."""
    s = d.state
    s.stop_requested = True
    busy = (
        s.awaiting_llm
        or any(c.status in ("running", "child_running") for c in s.calls.values())
        or (s.guard is not None and not s.guard.human)  # a verdict is on its way
        or s.hook is not None  # so is a callback's answer
    )
    if not busy:
        finish(d, "COMPLETED", output=s.last_text, finish_reason="stopped")


def on_stop_when(spec: AgentConfig, d: Step, fn: PendingFn, inp: ToolSucceeded | ToolFailed) -> None:
    if fn_answer(inp, "should_stop", False):
        d.events.append(EventDraft("terminated", {"content": "stop_when returned true"}))
        finish(d, "COMPLETED", output=d.state.last_text, finish_reason="stop_when")
        return
    # Straight to the model: the checks before it were made when stop_when was asked.
    request_model_call(spec, d)


# The inputs of an agent loop (a pipeline takes them too: they find nothing to act on).
MODEL_LOOP_INPUTS: dict[type[Any], InputHandler] = {
    LlmResult: on_llm_result,
    ToolSucceeded: on_tool_succeeded,
    ToolFailed: on_tool_failed,
    ApprovalDecided: on_approval,
    HumanAnswered: on_human_answer,
}

STRATEGY = Strategy(
    name="handoff",
    start=start,
    child_finished=on_call_child_finished,
    resume=next_model_call,
    stop=stop,
    fn_results={"stop_when": on_stop_when},
    inputs=MODEL_LOOP_INPUTS,
)
