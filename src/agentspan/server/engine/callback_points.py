"""Where an agent's lifecycle callbacks are asked: each ``ask_*`` starts the callback's
worker task (a decision function with purpose ``callback``) and records what to carry on
with; ``callbacks.py`` carries on when it answered. Each returns ``False`` when the agent
has no callback at that point (go on at once).

``before_model`` and ``after_agent`` are asked from ``steps.py`` (``request_model_call``,
``finish``), which every strategy goes through.
"""

from __future__ import annotations

import json
from typing import Any

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.functions import call_fn, callback_task
from agentspan.server.engine.model import CallbackWait, CallState, Decision, LlmResult, Start

MAX_CALLBACK_TEXT = 64_000
"""Longest result or output text sent to a tool/agent callback (the rest is cut)."""


def ask_before_agent(spec: AgentConfig, d: Decision, start: Start) -> bool:
    task = callback_task(spec, "before_agent")
    if task is None:
        return False
    args = {"position": "before_agent", "agent_name": spec.name, "prompt": start.prompt}
    fn = call_fn(d, "callback", task, args)
    d.state.hook = CallbackWait(position="before_agent", fn=fn, data={"start": start.model_dump()})
    return True


def ask_after_model(spec: AgentConfig, d: Decision, reply: LlmResult) -> bool:
    task = callback_task(spec, "after_model")
    if task is None:
        return False
    args = {
        "position": "after_model",
        "agent_name": spec.name,
        "llm_result": reply.content or "",
        "tool_calls": [{"name": tc.name, "arguments": tc.arguments} for tc in reply.tool_calls],
    }
    fn = call_fn(d, "callback", task, args)
    d.state.hook = CallbackWait(position="after_model", fn=fn, data={"reply": reply.model_dump()})
    return True


def ask_before_tool(spec: AgentConfig, d: Decision, call: CallState) -> bool:
    task = callback_task(spec, "before_tool")
    if task is None or call.hooked:
        return False
    call.hooked = True
    args = {
        "position": "before_tool",
        "agent_name": spec.name,
        "tool_name": call.name,
        "call_id": call.call_id,
        "arguments": call.args,
    }
    call.hook = call_fn(d, "callback", task, args)
    return True


def ask_after_tool(
    spec: AgentConfig, d: Decision, call: CallState, *, result: Any = None, error: str | None = None
) -> bool:
    """Kept on the call until the callback answered: the result (or error) to show."""
    task = callback_task(spec, "after_tool")
    if task is None:
        return False
    args: dict[str, Any] = {
        "position": "after_tool",
        "agent_name": spec.name,
        "tool_name": call.name,
        "call_id": call.call_id,
        "arguments": call.args,
    }
    if error is not None:
        args["error"] = error
    else:
        args["result"] = _bounded(result)
    call.result, call.error = result, error
    call.hook = call_fn(d, "callback", task, args)
    return True


def _bounded(value: Any) -> Any:
    """A result as sent to a callback: as is, unless its JSON is too long to send."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) <= MAX_CALLBACK_TEXT:
        return value
    return text[:MAX_CALLBACK_TEXT]
