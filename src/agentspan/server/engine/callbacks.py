"""Lifecycle callbacks: the user's functions asked before/after the agent, each model call
and each tool call (reference API §10), each a worker task whose answer is a recorded
step (a ``callback`` event), so a crash never asks a recorded callback again.

The worker answers ``{"override": {...}, "errors": [...]}``: the first non-empty dict a
handler returned (handlers chain in list order in the SDK) and the handler errors it
logged. What an override does:

* ``before_agent`` ``{"response": x}``: the agent does not run; the run completes with ``x``;
* ``before_model`` ``{"response": text}``: the model is not called; ``text`` is its reply;
* ``after_model`` ``{"response": text}``: the reply is replaced by ``text`` (a final
  answer: tool calls the model asked for are dropped);
* ``before_tool`` ``{"result": x}``: the tool does not run; ``x`` is its result;
* ``after_tool`` ``{"result": x}``: the model sees ``x`` instead of the tool's result;
* ``after_agent`` ``{"response": x}``: the run's output is ``x``.

Other keys are ignored. A callback that fails (after the retries of every decision
function) changes nothing: the run goes on and the event carries the error.
"""

from __future__ import annotations

import json
from typing import Any

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.guardrails import check_input
from agentspan.server.engine.model import (
    CallState,
    EventDraft,
    LlmResult,
    PendingFn,
    Start,
    ToolFailed,
    ToolSucceeded,
)
from agentspan.server.engine.model_turn import act_on_reply
from agentspan.server.engine.steps import Step, finish, request_model_call, resolve
from agentspan.server.engine.tool_calls import continue_call, maybe_finish_turn, shown_result

_OVERRIDE_KEY = {
    "before_agent": "response",
    "after_agent": "response",
    "before_model": "response",
    "after_model": "response",
    "before_tool": "result",
    "after_tool": "result",
}


def start_run(spec: AgentConfig, d: Step, start: Start) -> None:
    """The run proper begins: input guardrails, then the strategy."""
    if not check_input(spec, d, start):
        # The strategies import the agent loop, which imports this module: import at use.
        from agentspan.server.engine.strategies import strategy_for

        strategy_for(spec).start(spec, d, start)


def on_callback_result(spec: AgentConfig, d: Step, fn: PendingFn, inp: ToolSucceeded | ToolFailed) -> None:
    """A callback task answered (retries of a failed one are already spent)."""
    if isinstance(inp, ToolSucceeded) and inp.state_updates:
        d.state.tool_state.update(inp.state_updates)  # a hook that changed the run's state
    position = str(fn.args.get("position", ""))
    key = _OVERRIDE_KEY.get(position, "response")
    override, errors = _answer(inp)
    used = key in override and override[key] is not None
    call = d.state.calls.get(str(fn.args.get("call_id", "")))
    if position in ("before_tool", "after_tool"):
        if call is None or call.hook != fn.call_id:
            return  # the turn it belonged to is over
        _record(d, fn, position, used, errors, call)
        call.hook = None
        _tool_answered(spec, d, call, position, override[key] if used else None, used)
        return
    hook = d.state.hook
    if hook is None or hook.fn != fn.call_id:
        return  # a late or duplicate answer
    _record(d, fn, position, used, errors, None)
    d.state.hook = None
    value = override[key] if used else None
    if position == "before_agent":
        start = Start.model_validate(hook.data["start"])
        if used:
            d.state.ended_hooked = True  # the agent did not run: nothing to end
            finish(d, "COMPLETED", output=value, finish_reason="stop")
        else:
            start_run(spec, d, start)
    elif position == "before_model":
        if used:
            d.state.awaiting_llm = False
            act_on_reply(spec, d, LlmResult(content=_text(value), model="callback"))
        elif d.state.stop_requested:
            finish(d, "COMPLETED", output=d.state.last_text, finish_reason="stopped")
        elif d.state.paused:
            d.state.model_hooked = True
            d.state.llm_due = True
        else:
            d.state.model_hooked = True
            request_model_call(spec, d)
    elif position == "after_model":
        reply = LlmResult.model_validate(hook.data["reply"])
        if used:
            reply = reply.model_copy(update={"content": _text(value), "tool_calls": []})
        act_on_reply(spec, d, reply)
    else:  # after_agent
        output = value if used else hook.data.get("output")
        finish(d, "COMPLETED", output=output, finish_reason=str(hook.data.get("finish_reason") or "stop"))


def _tool_answered(
    spec: AgentConfig, d: Step, call: CallState, position: str, value: Any, used: bool
) -> None:
    if used:
        # before_tool: the tool does not run; after_tool: this is what the model sees.
        shown_result(spec, d, call, value)
    elif position == "before_tool":
        continue_call(spec, d, call)
    elif call.error is not None:
        resolve(d, call, error=call.error)
        maybe_finish_turn(spec, d)
    else:
        shown_result(spec, d, call, call.result)


def _answer(inp: ToolSucceeded | ToolFailed) -> tuple[dict[str, Any], list[str]]:
    if isinstance(inp, ToolFailed):
        return {}, [inp.error]
    out = inp.output if isinstance(inp.output, dict) else {}
    override = out.get("override")
    errors = out.get("errors")
    return (
        override if isinstance(override, dict) else {},
        [str(e) for e in errors] if isinstance(errors, list) else [],
    )


def _record(
    d: Step, fn: PendingFn, position: str, used: bool, errors: list[str], call: CallState | None
) -> None:
    data: dict[str, Any] = {"position": position, "task": fn.task, "overridden": used}
    if errors:
        data["errors"] = errors[:20]
    fields: dict[str, Any] = {"content": position}
    if call is not None:
        fields["tool_name"] = call.name
        fields["call_id"] = call.call_id
    fields["data"] = data
    d.events.append(EventDraft("callback", fields))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)
