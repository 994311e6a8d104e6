"""Agent guardrails: checks on an execution's input and on the agent's final answer.

The guardrails of one position run in list order, each a recorded step:

* ``regex`` ones are evaluated here, inside the step that reached them (pure);
* ``custom``/``external`` ones are the user's functions, run as worker tasks
  (``PendingFn(purpose="guardrail")``, with the leases, retries and idempotency key of
  every decision function);
* ``llm`` ones are a judge model call made by the server (a task of the ``llm_guardrail``
  executor kind; its tokens and cost are added to the execution's usage).

A verdict is a ``guardrail_pass``/``guardrail_fail`` event. What a failure does:

* input (before any model call): ``fix`` with a fixed text replaces the prompt; anything
  else fails the run (``finish_reason="guardrail"``) — the reference product's outcome;
* output (a reply without tool calls; a turn that only calls tools is never checked):
  ``retry`` sends the message back to the model and asks again, up to ``maxRetries`` times,
  then fails the run; ``raise`` fails it; ``fix`` replaces the answer with
  ``fixed_output`` (without one it is a ``raise``); ``human`` waits for a person, who
  approves (optionally with an edited output) or rejects (the run fails).

Tool guardrails (``guardrails`` on a tool) check a call's arguments (input, as JSON)
before it runs — before a human is asked to approve it — and its result (output) before
the model sees it. A failure there: ``fix`` replaces the arguments (a JSON object) or
the result; ``raise`` fails the run; ``human`` on the arguments asks a person to approve
the call; anything else answers the call with ``{"error": "Blocked by guardrail …",
"blocked": true}`` (output: "Output blocked by guardrail …"), which the model sees.

Turn hooks (``hooks.py``) are pure and synchronous; a guardrail may have to wait for a
worker, a model or a person, so it keeps its own record (``ExecState.guard``) instead.
"""

from __future__ import annotations

import json
from typing import Any

from agentspan.protocol.spec import AgentConfig, ToolConfig
from agentspan.protocol.spec.guardrails import (
    GuardrailPosition,
    GuardrailSpec,
    LlmGuardrailSpec,
    RegexGuardrailSpec,
)
from agentspan.server.engine import regex_check
from agentspan.server.engine.answers import accept_answer
from agentspan.server.engine.functions import call_fn
from agentspan.server.engine.model import (
    ApprovalDecided,
    CallState,
    EventDraft,
    GuardState,
    LlmResult,
    PendingFn,
    Rejected,
    Start,
    ToolFailed,
    ToolSucceeded,
)
from agentspan.server.engine.steps import Step, add_messages, finish, next_model_call, record_usage
from agentspan.server.engine.waits import guard_ref, guard_wait_text, pending_guard

LLM_JUDGE = "llm_guardrail"
"""The executor kind (and task name) of an LLM guardrail's judge call."""
DEFAULT_MAX_RETRIES = 3
DEFAULT_REGEX_MESSAGES = {
    "block": "Content matched a blocked pattern.",
    "allow": "Content did not match any allowed pattern.",
}
_EDITED_OUTPUT_KEYS = ("edited_output", "editedOutput", "output")


def rails_at(spec: AgentConfig, position: GuardrailPosition) -> list[GuardrailSpec]:
    """The agent's guardrails of one position, in the order they run."""
    return [g for g in spec.guardrails or () if (g.position or "output") == position]


def tool_rails(tool: ToolConfig | None, position: GuardrailPosition) -> list[GuardrailSpec]:
    """A tool's guardrails of one position (``input``/``tool_input`` check the arguments,
    ``output``/``tool_output`` the result), in the order they run."""
    same = {"input": ("input", "tool_input"), "output": ("output", "tool_output")}[position]
    return [
        g for g in (tool.guardrails if tool is not None else None) or () if (g.position or "output") in same
    ]


def _rails(spec: AgentConfig, d: Step, g: GuardState) -> list[GuardrailSpec]:
    if g.call_id is None:
        return rails_at(spec, g.position)
    return tool_rails(spec.tool(d.state.calls[g.call_id].name), g.position)


def _clear(d: Step, g: GuardState) -> None:
    """The check is over."""
    if g.call_id is None:
        d.state.guard = None
    else:
        d.state.calls[g.call_id].guard = None


def regex_verdict(rail: RegexGuardrailSpec, content: str) -> tuple[bool, str]:
    """``block``: fails when any pattern is found; ``allow``: fails when none is; either
    fails when a pattern runs out of time (``regex_check.py``)."""
    mode = rail.mode or "block"
    outcome, pattern = regex_check.first(rail.patterns, content)
    if outcome == "timeout":  # no verdict on the content: fail closed, saying why
        limit = regex_check.MATCH_TIMEOUT_SECONDS
        return (
            False,
            f"Pattern {pattern!r} took longer than {limit:g} s on this content; treated as a failure.",
        )
    found = outcome == "found"
    passed = not found if mode == "block" else found
    return passed, "" if passed else (rail.message or DEFAULT_REGEX_MESSAGES[mode])


# --- starting a check ---------------------------------------------------------------------


def check_input(spec: AgentConfig, d: Step, start: Start) -> bool:
    """Check the request before anything else happens; ``False`` if there is nothing to
    check (the strategy starts at once), else it starts once the checks pass."""
    if not rails_at(spec, "input"):
        return False
    d.state.guard = GuardState(position="input", content=start.prompt, start=start.model_dump())
    _run(spec, d, d.state.guard)
    return True


def check_output(spec: AgentConfig, d: Step, text: str) -> None:
    """Check a final answer before it is accepted."""
    # Until it passed, the answer must not become the output some other way (a stop,
    # max_turns): those finish with ``last_text``.
    d.state.last_text = None
    d.state.guard = GuardState(position="output", content=text)
    _run(spec, d, d.state.guard)


def check_tool_call(spec: AgentConfig, d: Step, call: CallState) -> bool:
    """Check a call's arguments before it runs; ``False`` if its tool has no input
    guardrails (carry on at once), else the check carries on with the call."""
    if not tool_rails(spec.tool(call.name), "input"):
        return False
    call.guard = GuardState(position="input", content=json.dumps(call.args), call_id=call.call_id)
    _run(spec, d, call.guard)
    return True


def check_tool_result(spec: AgentConfig, d: Step, call: CallState, result: Any) -> bool:
    """Check a call's result before the model sees it; ``False`` if its tool has no
    output guardrails, else the check resolves the call when it is done."""
    if not tool_rails(spec.tool(call.name), "output"):
        return False
    text = result if isinstance(result, str) else json.dumps(result, default=str)
    call.guard = GuardState(position="output", content=text, call_id=call.call_id, result=result)
    _run(spec, d, call.guard)
    return True


def _run(spec: AgentConfig, d: Step, g: GuardState) -> None:
    """Run the guardrails from ``g.index`` on until one has to be waited for or failed."""
    rails = _rails(spec, d, g)
    while g.index < len(rails):
        rail = rails[g.index]
        if isinstance(rail, RegexGuardrailSpec):
            passed, message = regex_verdict(rail, g.content)
            if not _apply(spec, d, g, rail, passed, message, None):
                return
            continue
        if isinstance(rail, LlmGuardrailSpec):
            args: dict[str, Any] = {"content": g.content, "policy": rail.policy, "model": rail.model}
            if rail.max_tokens is not None:
                args["maxTokens"] = rail.max_tokens
            if rail.scripted_turns is not None:
                args["scriptedTurns"] = rail.scripted_turns
                args["iteration"] = d.state.guard_failures.get(rail.name, 0) if g.call_id is None else 0
            g.waiting_fn = call_fn(d, "guardrail", LLM_JUDGE, args, executor=LLM_JUDGE)
        else:
            iteration = d.state.guard_failures.get(rail.name, 0) if g.call_id is None else 0
            g.waiting_fn = call_fn(
                d, "guardrail", rail.task_name, {"content": g.content, "iteration": iteration}
            )
        return
    _clear(d, g)
    _passed(spec, d, g)


def _passed(spec: AgentConfig, d: Step, g: GuardState) -> None:
    if g.call_id is not None:
        _tool_passed(spec, d, g)
        return
    if g.position == "output":
        accept_answer(spec, d, g.content)
        return
    # The strategies import the agent loop, which imports this module: import at use.
    from agentspan.server.engine.strategies import strategy_for

    d.state.prompt = g.content
    start = Start.model_validate({**(g.start or {}), "prompt": g.content})
    strategy_for(spec).start(spec, d, start)


# --- verdicts -----------------------------------------------------------------------------


def on_guardrail_result(spec: AgentConfig, d: Step, fn: PendingFn, inp: ToolSucceeded | ToolFailed) -> None:
    """A guardrail task answered (retries of a failed one are already spent)."""
    g = _awaiting(d, fn.call_id)
    if g is None:
        return  # the check it belonged to is over (a late or duplicate answer)
    g.waiting_fn = None
    rail = _rails(spec, d, g)[g.index]
    if isinstance(inp, ToolFailed):
        # Fail closed: a guardrail that cannot give a verdict does not let content through.
        passed, message, fixed = False, f"Guardrail error: {inp.error}", None
    else:
        out = inp.output if isinstance(inp.output, dict) else {}
        judge = out.get("llm")
        if fn.executor == LLM_JUDGE and isinstance(judge, dict):
            record_usage(d, LlmResult.model_validate(judge), purpose="guardrail")
        passed = out.get("passed") is True
        message = str(out.get("message") or "")
        fixed = out.get("fixed_output", out.get("fixedOutput"))
    if _apply(spec, d, g, rail, passed, message, fixed):
        _run(spec, d, g)


def _awaiting(d: Step, fn_call_id: str) -> GuardState | None:
    """The check (the agent's, or a tool call's) waiting for this guardrail task."""
    guards = [d.state.guard, *(c.guard for c in d.state.calls.values())]
    return next((g for g in guards if g is not None and g.waiting_fn == fn_call_id), None)


def _verdict_event(d: Step, g: GuardState, rail: GuardrailSpec, passed: bool, message: str) -> str:
    """Record the verdict; returns the failure mode in force (``""`` when it passed)."""
    on_fail = "" if passed else rail.on_fail or "retry"
    fields: dict[str, Any] = {"guardrail_name": rail.name}
    if not passed:
        fields["content"] = message
    if g.call_id is not None:
        fields["tool_name"] = d.state.calls[g.call_id].name
        fields["call_id"] = g.call_id
    position = g.position if g.call_id is None else f"tool_{g.position}"
    fields["data"] = {"position": position, **({"onFail": on_fail} if on_fail else {})}
    d.events.append(EventDraft("guardrail_pass" if passed else "guardrail_fail", fields))
    return on_fail


def _apply(
    spec: AgentConfig, d: Step, g: GuardState, rail: GuardrailSpec, passed: bool, message: str, fixed: Any
) -> bool:
    """Record one verdict and act on it; ``True``: go on with the next guardrail."""
    on_fail = _verdict_event(d, g, rail, passed, message)
    if passed:
        g.index += 1
        return True
    if on_fail == "fix" and fixed is not None and _fixable(g, fixed):
        g.content = fixed if isinstance(fixed, str) else json.dumps(fixed, default=str)
        g.fixed = True
        g.index += 1
        return True
    if g.call_id is not None:
        _tool_failed(spec, d, g, rail, on_fail, message)
    elif g.position == "input":
        _fail(d, f"Input guardrail '{rail.name}' failed", message)
    elif on_fail == "retry":
        _send_back(spec, d, rail, message)
    elif on_fail == "human":
        _ask_human(d, rail, message)
    else:  # raise, or a fix without a fixed output
        _fail(d, f"Guardrail '{rail.name}' failed", message)
    return False


def _fixable(g: GuardState, fixed: Any) -> bool:
    """A tool call's fixed arguments must be a JSON object; any other fix is text."""
    if g.call_id is None or g.position == "output":
        return True
    try:
        value = json.loads(fixed) if isinstance(fixed, str) else fixed
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict)


def _fail(d: Step, what: str, message: str, reason: str = "guardrail") -> None:
    d.state.guard = None
    finish(d, "FAILED", error=f"{what}: {message}" if message else what, finish_reason=reason)


def _send_back(spec: AgentConfig, d: Step, rail: GuardrailSpec, message: str) -> None:
    """``retry``: the model sees why and answers again, up to ``maxRetries`` times."""
    s = d.state
    failures = s.guard_failures.get(rail.name, 0) + 1
    s.guard_failures[rail.name] = failures
    limit = rail.max_retries or DEFAULT_MAX_RETRIES
    if failures > limit:
        _fail(d, f"Guardrail '{rail.name}' failed after {limit} retries", message)
        return
    if s.turn >= spec.max_turns:
        _fail(d, f"Guardrail '{rail.name}' failed and max_turns ({spec.max_turns}) is reached", message)
        return
    s.guard = None
    feedback = message or f"Your answer did not pass the '{rail.name}' check."
    add_messages(d, [{"role": "user", "content": f"{feedback} Please answer again."}])
    next_model_call(spec, d)


def _ask_human(d: Step, rail: GuardrailSpec, message: str) -> None:
    """``human``: wait, durably, for a person to approve, edit or reject the answer."""
    g = d.state.guard
    assert g is not None
    g.human, g.rail, g.message = True, rail.name, message
    d.events.append(
        EventDraft(
            "waiting",
            {
                "tool_name": rail.name,
                "call_id": guard_ref(rail.name),
                "content": guard_wait_text(g),
                "pending_tool": pending_guard(g),
            },
        )
    )


def waiting_for_human(d: Step) -> bool:
    g = d.state.guard
    return g is not None and g.human


def on_human_decision(spec: AgentConfig, d: Step, inp: ApprovalDecided) -> None:
    """A person answered a ``human`` guardrail: approve (keeping or editing the answer) or
    reject (the run fails). Taken once: the next answer finds nothing waiting (409)."""
    g = d.state.guard
    assert g is not None and g.human
    ref = guard_ref(g.rail)
    if inp.call_id is not None and inp.call_id not in (ref, g.rail):
        raise Rejected("not_waiting", f"the execution is waiting for guardrail {ref}, not {inp.call_id}")
    approval: dict[str, Any] = {
        "approved": inp.approved,
        "reason": inp.reason,
        "decidedBy": inp.decided_by,
        "decidedAt": inp.decided_at,
        **({"extra": inp.extra} if inp.extra else {}),
    }
    d.events.append(EventDraft("approval", {"tool_name": g.rail, "call_id": ref, "data": approval}))
    g.human = False
    if not inp.approved:
        why = inp.reason or "no reason given"
        _fail(d, f"Guardrail '{g.rail}' failed and a person rejected the answer", why, reason="rejected")
        return
    # An empty edit is no edit: a form filled from the response schema sends "" for it.
    edited = next((inp.extra[k] for k in _EDITED_OUTPUT_KEYS if inp.extra.get(k) not in (None, "")), None)
    if edited is not None:
        g.content = edited if isinstance(edited, str) else json.dumps(edited, default=str)
    g.index += 1
    _run(spec, d, g)


# --- tool calls ---------------------------------------------------------------------------


def _tool_passed(spec: AgentConfig, d: Step, g: GuardState) -> None:
    # The tool-call module dispatches calls through this one: import at use.
    from agentspan.server.engine.tool_calls import proceed_with_call, show_result

    call = d.state.calls[g.call_id or ""]
    if g.position == "input":
        if g.fixed:
            call.args = json.loads(g.content)
        proceed_with_call(spec, d, call)
    else:
        show_result(spec, d, call, g.content if g.fixed else g.result)


def _tool_failed(
    spec: AgentConfig, d: Step, g: GuardState, rail: GuardrailSpec, on_fail: str, message: str
) -> None:
    from agentspan.server.engine.tool_calls import await_human, show_result

    call = d.state.calls[g.call_id or ""]
    _clear(d, g)
    if on_fail == "raise":
        _fail(d, f"Guardrail '{rail.name}' failed on tool '{call.name}'", message)
    elif on_fail == "human" and g.position == "input":
        await_human(d, call, "approval")  # a person decides whether the call runs
    elif g.position == "input":
        blocked = {"error": f"Blocked by guardrail '{rail.name}': {message}", "blocked": True}
        show_result(spec, d, call, blocked)
    else:
        blocked = {"error": f"Output blocked by guardrail '{rail.name}': {message}", "blocked": True}
        show_result(spec, d, call, blocked)
