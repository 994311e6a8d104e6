"""``decide(spec, state, input) -> Decision``: the whole agent loop as a pure function.

It performs no I/O and reads no clock: times arrive inside inputs. The driver persists the
returned state, events, messages and commands in one transaction, then carries the
commands out; their results come back as new inputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agentspan.protocol.spec import (
    DEFAULT_TOOL_RETRIES,
    DEFAULT_TOOL_RETRY_DELAY_SECONDS,
    AgentConfig,
    ToolConfig,
)
from agentspan.server.engine.conditions import TerminationContext, should_terminate, tool_result_handoff
from agentspan.server.engine.functions import call_fn, fn_answer, retry_fn
from agentspan.server.engine.model import (
    ApprovalDecided,
    BudgetExceeded,
    CallLlm,
    CallState,
    Cancel,
    CancelChild,
    ChildFinished,
    Decision,
    DropTasks,
    EventDraft,
    ExecState,
    Input,
    LlmFailed,
    LlmResult,
    Pause,
    Rejected,
    Resume,
    RunTool,
    Selection,
    SetTimer,
    Start,
    StartChild,
    Stop,
    TimedOut,
    ToolFailed,
    ToolSucceeded,
    WorkerFound,
    WorkerMissing,
)
from agentspan.server.engine.schema_check import check, parse_json_answer
from agentspan.server.engine.specs import (
    extra,
    find_tool,
    is_pipeline,
    is_team,
)
from agentspan.server.engine.waits import pending_tool, wait_text

MAX_RETRY_DELAY_SECONDS = 60.0
MAX_LEASE_LOSSES = 5
"""A call whose worker is lost more often than this is given up (an error to the model)."""
MAX_OUTPUT_RETRIES = 2
"""Structured answers that fail their schema are sent back this many times, then the run fails."""
TERMINAL = ("COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT")
# Inputs that may legitimately arrive after an execution ended (a late tool result, a
# child finishing after its parent was cancelled): they are dropped, not errors.
_LATE_INPUTS = (
    "llm_result",
    "llm_failed",
    "tool_succeeded",
    "tool_failed",
    "child_finished",
    "timed_out",
    "worker_missing",
    "worker_found",
    "budget_exceeded",
)


def decide(spec: AgentConfig, state: ExecState, inp: Input) -> Decision:
    """Apply one input to one execution's state."""
    if state.terminal:
        if inp.kind in _LATE_INPUTS:
            return Decision(state=state)
        raise Rejected("invalid_state", f"the execution already ended ({state.status})")
    # A private copy to change, made the way the store makes one (through JSON, which the
    # state must survive anyway): pydantic-core does that several times faster than
    # ``model_copy(deep=True)``'s Python-level deepcopy, which was the server's top cost.
    d = Decision(state=ExecState.model_validate_json(state.model_dump_json()))
    if is_team(spec):
        from agentspan.server.engine import team  # team builds on this module

        team.handle(spec, d, inp)
    elif isinstance(inp, ToolSucceeded | ToolFailed) and inp.call_id == state.pending_fn:
        _on_fn_result(spec, d, inp)
    elif isinstance(inp, Selection):
        raise Rejected("not_waiting", "the execution is not waiting for an agent to be chosen")
    else:
        _HANDLERS[type(inp)](spec, d, inp)
    return d


def _on_fn_result(spec: AgentConfig, d: Decision, inp: ToolSucceeded | ToolFailed) -> None:
    s = d.state
    if retry_fn(d, inp):
        return
    purpose = (s.pending_fn or "").split(".")[1]
    s.pending_fn = None
    s.pending_fn_call = None
    if isinstance(inp, ToolFailed):
        d.events.append(EventDraft("error_ignored", {"content": f"{purpose} function failed: {inp.error}"}))
    if purpose == "stop_when" and fn_answer(inp, "should_stop", False):
        d.events.append(EventDraft("terminated", {"content": "stop_when returned true"}))
        _finish(d, "COMPLETED", output=s.last_text, finish_reason="stop_when")
        return
    if purpose == "gate":
        _after_gate(spec, d, fn_answer(inp, "decision", "continue") != "stop")
        return
    s.llm_due = False
    s.awaiting_llm = True
    d.commands.append(CallLlm())
    d.events.append(EventDraft("thinking", {"content": f"{spec.name}: model call {s.turn + 1}"}))


def _on_llm_failed(spec: AgentConfig, d: Decision, inp: LlmFailed) -> None:
    _finish(d, "FAILED", error=f"model call failed: {inp.error}", finish_reason="error")


def _on_cancel(spec: AgentConfig, d: Decision, inp: Cancel) -> None:
    _finish(d, "TERMINATED", error=inp.reason or "Cancelled by user", finish_reason="cancelled")


def _on_budget_exceeded(spec: AgentConfig, d: Decision, inp: BudgetExceeded) -> None:
    d.state.awaiting_llm = False
    d.events.append(EventDraft("budget_exceeded", {"content": inp.reason}))
    _finish(d, "COMPLETED", output=d.state.last_text, finish_reason="budget_exceeded")


def _on_timed_out(spec: AgentConfig, d: Decision, inp: TimedOut) -> None:
    _finish(d, "TIMED_OUT", error="the execution exceeded its timeout", finish_reason="timeout")


# --- start and the model loop -----------------------------------------------------------


def _start(spec: AgentConfig, d: Decision, inp: Start) -> None:
    s = d.state
    s.prompt = inp.prompt
    s.seed = inp.seed
    timeout = inp.timeout_seconds if inp.timeout_seconds is not None else spec.timeout_seconds
    if timeout and timeout > 0:
        s.deadline = inp.now + timeout
        d.commands.append(SetTimer(at=s.deadline))
    if is_pipeline(spec):
        _start_step(spec, d, 0, inp.prompt)
        return
    message: dict[str, Any] = {"role": "user", "content": inp.prompt}
    if inp.media:
        message["media"] = list(inp.media)
    _add_messages(d, [message])
    if extra(spec, "planner"):
        s.planning = True
        s.awaiting_llm = True
        d.commands.append(CallLlm(purpose="plan"))
        d.events.append(EventDraft("thinking", {"content": f"{spec.name}: planning"}))
        return
    _call_llm(spec, d)


def _add_messages(d: Decision, messages: list[dict[str, Any]]) -> None:
    d.messages.extend(messages)
    d.state.message_count += len(messages)


def _call_llm(spec: AgentConfig, d: Decision) -> None:
    s = d.state
    if s.stop_requested:
        _finish(d, "COMPLETED", output=s.last_text, finish_reason="stopped")
        return
    if s.turn >= spec.max_turns:
        _finish(d, "COMPLETED", output=s.last_text, finish_reason="max_turns")
        return
    if s.paused:
        s.llm_due = True
        return
    stop_when = extra(spec, "stopWhen")
    if isinstance(stop_when, dict) and stop_when.get("taskName") and s.turn > 0 and s.pending_fn is None:
        # Ask the user's stop_when function (a worker task) before the next model call.
        context = {
            "result": s.last_text or "",
            "messages": [],
            "iteration": s.turn,
            "token_usage": s.usage.model_dump(),
        }
        call_fn(d, "stop_when", str(stop_when["taskName"]), context)
        return
    s.llm_due = False
    s.awaiting_llm = True
    d.commands.append(CallLlm())
    d.events.append(EventDraft("thinking", {"content": f"{spec.name}: model call {s.turn + 1}"}))


def _on_llm_result(spec: AgentConfig, d: Decision, inp: LlmResult) -> None:
    s = d.state
    if not s.awaiting_llm:
        return  # a duplicate delivery of a result already recorded
    s.awaiting_llm = False
    _record_usage(d, inp)
    if s.planning:
        _on_plan(spec, d, inp.content or "")
        return
    s.turn += 1
    if inp.content:
        s.last_text = inp.content
    _add_messages(
        d,
        [
            {
                "role": "assistant",
                "content": inp.content,
                "tool_calls": [tc.model_dump() for tc in inp.tool_calls],
            }
        ],
    )
    if not inp.tool_calls:
        _on_final_answer(spec, d, inp.content or "")
        return
    reason = _termination_reason(spec, s, inp.content or "")
    if reason is not None:
        d.events.append(EventDraft("terminated", {"content": reason}))
        _finish(d, "COMPLETED", output=inp.content or s.last_text, finish_reason="termination")
        return
    if inp.content:
        d.events.append(EventDraft("message", {"content": inp.content}))
    s.turn_had_rejection = False
    s.calls = {}
    s.call_order = []
    for tc in inp.tool_calls:
        s.call_counter += 1
        call = CallState(call_id=f"c{s.call_counter}", name=tc.name, llm_id=tc.id or f"c{s.call_counter}")
        s.calls[call.call_id] = call
        s.call_order.append(call.call_id)
        _dispatch_call(spec, d, call, tc.arguments)
    _maybe_finish_turn(spec, d)


def _on_plan(spec: AgentConfig, d: Decision, plan: str) -> None:
    """The plan becomes part of the conversation; then the agent carries it out."""
    d.state.planning = False
    d.events.append(EventDraft("plan", {"content": plan}))
    _add_messages(
        d,
        [
            {"role": "assistant", "content": plan, "tool_calls": []},
            {"role": "user", "content": "Now carry out the plan."},
        ],
    )
    _call_llm(spec, d)


def _termination_reason(spec: AgentConfig, s: ExecState, text: str) -> str | None:
    config = extra(spec, "termination")
    if config is None:
        return None
    ctx = TerminationContext(
        result=text,
        message_count=s.message_count,
        iteration=s.turn,
        prompt_tokens=s.usage.prompt_tokens,
        completion_tokens=s.usage.completion_tokens,
        total_tokens=s.usage.total_tokens,
    )
    return should_terminate(config, ctx)


def _record_usage(d: Decision, inp: LlmResult) -> None:
    usage = d.state.usage
    usage.prompt_tokens += inp.prompt_tokens
    usage.completion_tokens += inp.completion_tokens
    usage.total_tokens += inp.prompt_tokens + inp.completion_tokens
    usage.cached_tokens += inp.cached_tokens
    usage.reasoning_tokens += inp.reasoning_tokens
    if inp.cost_usd is None:
        usage.priced = False
    else:
        usage.cost_usd += inp.cost_usd
    data: dict[str, Any] = {
        "model": inp.model,
        "promptTokens": inp.prompt_tokens,
        "completionTokens": inp.completion_tokens,
        "cachedTokens": inp.cached_tokens,
        "reasoningTokens": inp.reasoning_tokens,
        "latencyMs": round(inp.latency_ms, 1),
        "costUsd": inp.cost_usd,
        "finishReason": inp.finish_reason,
    }
    fields: dict[str, Any] = {"data": data}
    if inp.thinking:
        fields["content"] = inp.thinking
    d.events.append(EventDraft("llm_call", fields))


def _on_final_answer(spec: AgentConfig, d: Decision, text: str) -> None:
    """Finish with the answer, or send a structured answer that fails its schema back."""
    s = d.state
    reason = "rejected" if s.turn_had_rejection else "stop"
    schema = (spec.output_type or {}).get("schema")
    if not isinstance(schema, dict):
        _finish(d, "COMPLETED", output=text, finish_reason=reason)
        return
    value, problem = parse_json_answer(text)
    problems = [problem] if problem else check(value, schema)
    if not problems:
        _finish(d, "COMPLETED", output=value, finish_reason=reason)
        return
    s.output_attempts += 1
    listed = "; ".join(problems)
    if s.output_attempts > MAX_OUTPUT_RETRIES or s.turn >= spec.max_turns:
        _finish(
            d,
            "FAILED",
            error=f"the answer did not match the output schema after {s.output_attempts} attempts: {listed}",
            finish_reason="error",
        )
        return
    d.events.append(EventDraft("output_invalid", {"content": listed, "data": {"attempt": s.output_attempts}}))
    _add_messages(
        d,
        [
            {
                "role": "user",
                "content": (
                    f"Your answer does not match the required JSON schema: {listed}. "
                    "Reply again with only a JSON document that matches the schema."
                ),
            }
        ],
    )
    _call_llm(spec, d)


def _parse_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"the arguments are not valid JSON ({exc.msg} at position {exc.pos})"
    if not isinstance(value, dict):
        return None, f"the arguments must be a JSON object, got {type(value).__name__}"
    return value, None


def _dispatch_call(spec: AgentConfig, d: Decision, call: CallState, raw_args: str) -> None:
    args, problem = _parse_arguments(raw_args)
    call.args = args or {}
    d.events.append(
        EventDraft("tool_call", {"tool_name": call.name, "args": call.args, "call_id": call.call_id})
    )
    tool = find_tool(spec, call.name)
    if problem is not None:
        _resolve(
            d, call, error=f"Invalid call to tool '{call.name}': {problem}. Call it again with a JSON object."
        )
    elif tool is None:
        names = ", ".join(t.name for t in spec.tools) or "none"
        _resolve(d, call, error=f"Unknown tool '{call.name}'. Available tools: {names}.")
    elif tool.approval_required:
        _await_human(d, call, "approval")
    elif tool.tool_type == "agent_tool":
        _start_agent_tool(d, call, tool)
    elif tool.tool_type == "handoff":
        _start_handoff(spec, d, call, tool)
    elif tool.tool_type == "transfer":
        _request_transfer(spec, d, call, tool)
    elif tool.tool_type == "worker":
        _run_tool(d, call, tool)
    else:
        _resolve(d, call, error=f"Tool type '{tool.tool_type}' is not supported by this server yet.")


def _await_human(d: Decision, call: CallState, kind: str) -> None:
    call.status = "awaiting_approval"
    call.wait_kind = "approval" if kind == "approval" else "outcome_unknown"
    call.approval = None  # a new question: earlier answers stay in the event log
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


def _run_tool(d: Decision, call: CallState, tool: ToolConfig, delay: float = 0.0) -> None:
    call.status = "running"
    call.attempt += 1
    d.commands.append(
        RunTool(
            call_id=call.call_id,
            name=call.name,
            args=call.args,
            delay_seconds=delay,
            timeout_seconds=tool.timeout_seconds,
            attempt=call.attempt,
        )
    )


def _start_agent_tool(d: Decision, call: CallState, tool: ToolConfig) -> None:
    child_spec = tool.config.get("agentConfig")
    if not isinstance(child_spec, dict):
        _resolve(d, call, error=f"Tool '{tool.name}' has no agentConfig.")
        return
    request = call.args.get("request")
    prompt = request if isinstance(request, str) else json.dumps(call.args)
    call.status = "child_running"
    call.attempt += 1
    d.commands.append(StartChild(spec=child_spec, prompt=prompt, link=call.call_id))
    d.events.append(EventDraft("handoff", {"target": str(child_spec.get("name", tool.name))}))


def _blocked(spec: AgentConfig, source: str, target: str) -> str | None:
    """Why ``allowed_transitions`` forbids ``source`` -> ``target``, if it does."""
    allowed = extra(spec, "allowedTransitions")
    if not isinstance(allowed, dict) or source not in allowed:
        return None
    permitted = [str(t) for t in allowed.get(source) or []]
    if target in permitted:
        return None
    return (
        f"Transfer from {source} to {target} is not allowed. "
        f"Allowed from {source}: {', '.join(permitted) or 'none'}. Continue yourself or pick an allowed agent."
    )


def _start_handoff(spec: AgentConfig, d: Decision, call: CallState, tool: ToolConfig) -> None:
    """Hand the run over to a sub-agent: its answer becomes this execution's answer."""
    target = str(tool.config.get("target", ""))
    sub = next((a for a in spec.agents if a.name == target), None)
    blocked = _blocked(spec, spec.name, target)
    if sub is None or blocked is not None or d.state.handed_to is not None:
        _resolve(d, call, error=blocked or f"Cannot hand over to {target!r} now.")
        return
    reason = call.args.get("reason")
    call.status = "child_running"
    call.attempt += 1
    d.state.handed_to = call.call_id
    d.commands.append(
        StartChild(spec=sub.wire(), prompt=handoff_prompt(d.state, sub, reason), link=call.call_id)
    )
    d.events.append(
        EventDraft("handoff", {"target": target, "data": {"source": spec.name, "reason": reason}})
    )


def handoff_prompt(s: ExecState, sub: AgentConfig, note: Any = None) -> str:
    """What a sub-agent receives: the request, plus the conversation unless it asked
    for a fresh context (``include_contents="none"``)."""
    if extra(sub, "includeContents") == "none":
        return s.prompt
    parts = [s.prompt]
    parts += [f"[{line['agent']}]: {line['text']}" for line in s.transcript]
    if s.last_text and not s.transcript:
        parts.append(f"[previous agent]: {s.last_text}")
    if isinstance(note, str) and note.strip():
        parts.append(f"[handoff note]: {note.strip()}")
    return "\n\n".join(p for p in parts if p)


def _request_transfer(spec: AgentConfig, d: Decision, call: CallState, tool: ToolConfig) -> None:
    """A swarm member passes control to a peer once this turn's calls are done."""
    target = str(tool.config.get("target", ""))
    if tool.config.get("blocked"):
        _resolve(
            d, call, error=str(tool.config.get("blockedReason") or f"Transfer to {target} is not allowed.")
        )
        return
    d.state.transfer_to = d.state.transfer_to or target
    _resolve(d, call, result=f"Transferring to {target}.")


def _resolve(d: Decision, call: CallState, *, result: Any = None, error: str | None = None) -> None:
    """Record a call's final outcome (a value, or an error the model will see)."""
    call.status = "done"
    call.result = result
    call.error = error
    shown = {"error": error} if error is not None else result
    d.events.append(
        EventDraft("tool_result", {"tool_name": call.name, "result": shown, "call_id": call.call_id})
    )


def _maybe_finish_turn(spec: AgentConfig, d: Decision) -> None:
    s = d.state
    if any(s.calls[c].status != "done" for c in s.call_order):
        return
    messages = []
    for call_id in s.call_order:
        call = s.calls[call_id]
        messages.append(
            {"role": "tool", "tool_call_id": call.llm_id, "name": call.name, "content": _tool_content(call)}
        )
    _add_messages(d, messages)
    if s.transfer_to is not None:
        _finish(d, "COMPLETED", output=s.last_text, finish_reason="transfer")
        return
    _call_llm(spec, d)


def _tool_content(call: CallState) -> str:
    if call.rejected:
        reason = (call.approval or {}).get("reason") or "no reason given"
        if call.attempt > 0:  # an "outcome unknown" call: it may have run before the loss
            return (
                f"The call to '{call.name}' was interrupted and may or may not have taken effect; "
                f"the user chose not to run it again. Reason: {reason}"
            )
        return f"The user rejected this call to '{call.name}'; it was not run. Reason: {reason}"
    if call.error is not None:
        return f"Error: {call.error}"
    if isinstance(call.result, str):
        return call.result
    return json.dumps(call.result, default=str)


# --- tool outcomes ----------------------------------------------------------------------


def _on_tool_succeeded(spec: AgentConfig, d: Decision, inp: ToolSucceeded) -> None:
    s = d.state
    call = s.calls.get(inp.call_id)
    if call is None or call.status != "running":
        return  # stale: the call was already resolved
    if inp.state_updates:
        s.tool_state.update(inp.state_updates)
    _resolve(d, call, result=inp.output)
    target = tool_result_handoff(extra(spec, "swarmHandoffs"), call.name, inp.output, spec.name)
    if target is not None and s.transfer_to is None:
        s.transfer_to = target
    _maybe_finish_turn(spec, d)


def _on_tool_failed(spec: AgentConfig, d: Decision, inp: ToolFailed) -> None:
    s = d.state
    call = s.calls.get(inp.call_id)
    if call is None or call.status != "running":
        return
    tool = spec.tool(call.name)
    retries = DEFAULT_TOOL_RETRIES if tool is None or tool.retry_count is None else tool.retry_count
    if tool is not None and inp.lease_lost:
        _on_lease_lost(spec, d, call, tool)
        return
    failures = call.attempt - call.lost  # runs lost with their worker do not use the budget
    if tool is not None and inp.retryable and failures <= retries:
        base = tool.retry_delay_seconds
        base = DEFAULT_TOOL_RETRY_DELAY_SECONDS if base is None else base
        delay = min(base * (2 ** (failures - 1)), MAX_RETRY_DELAY_SECONDS)
        d.events.append(
            EventDraft(
                "tool_retry",
                {
                    "tool_name": call.name,
                    "call_id": call.call_id,
                    "content": inp.error,
                    "data": {"attempt": call.attempt, "delaySeconds": delay},
                },
            )
        )
        _run_tool(d, call, tool, delay)
        return
    _resolve(d, call, error=inp.error)
    _maybe_finish_turn(spec, d)


def _on_lease_lost(spec: AgentConfig, d: Decision, call: CallState, tool: ToolConfig) -> None:
    """The worker running the call vanished (its lease expired).

    Durability means the call runs again, at once and with the same idempotency key, no
    matter the failure-retry budget; a tool marked non-retryable waits for a human instead.
    A call that keeps losing its worker (a crash loop) is given up after a bound.
    """
    if not tool.retryable:
        _await_human(d, call, "outcome_unknown")
        return
    call.lost += 1
    if call.lost > MAX_LEASE_LOSSES:
        _resolve(d, call, error=f"the worker running '{call.name}' was lost {call.lost} times; giving up")
        _maybe_finish_turn(spec, d)
        return
    d.events.append(
        EventDraft(
            "tool_retry",
            {
                "tool_name": call.name,
                "call_id": call.call_id,
                "content": "the worker was lost (lease expired); running the call again",
                "data": {"attempt": call.attempt, "reason": "lease_expired", "delaySeconds": 0},
            },
        )
    )
    _run_tool(d, call, tool)


def _on_approval(spec: AgentConfig, d: Decision, inp: ApprovalDecided) -> None:
    waiting = d.state.awaiting_approval()
    if inp.call_id is not None:
        target = d.state.calls.get(inp.call_id)
        if target is not None and target.approval is not None:
            raise Rejected("already_decided", f"call {inp.call_id} was already decided")
        waiting = [c for c in waiting if c.call_id == inp.call_id]
    if not waiting:
        raise Rejected("not_waiting", "the execution is not waiting for an approval")
    call = waiting[0]
    call.approval = {
        "approved": inp.approved,
        "reason": inp.reason,
        "decidedBy": inp.decided_by,
        "decidedAt": inp.decided_at,
        **({"extra": inp.extra} if inp.extra else {}),
    }
    d.events.append(
        EventDraft(
            "approval",
            {"tool_name": call.name, "call_id": call.call_id, "data": call.approval},
        )
    )
    tool = spec.tool(call.name)
    if inp.approved and tool is not None:
        call.wait_kind = None
        if tool.tool_type == "agent_tool":
            _start_agent_tool(d, call, tool)
        else:
            _run_tool(d, call, tool)
        return
    call.rejected = True
    d.state.turn_had_rejection = True
    _resolve(d, call, result={"rejected": True, "reason": inp.reason})
    _maybe_finish_turn(spec, d)


# --- children ---------------------------------------------------------------------------


def _start_step(spec: AgentConfig, d: Decision, step: int, prompt: str) -> None:
    s = d.state
    child = spec.agents[step]
    s.step = step
    s.step_child = None
    d.commands.append(StartChild(spec=child.wire(), prompt=prompt, link=f"step:{step}"))
    d.events.append(EventDraft("handoff", {"target": child.name}))


def _on_child_finished(spec: AgentConfig, d: Decision, inp: ChildFinished) -> None:
    s = d.state
    if is_pipeline(spec):
        if s.step_child != inp.child_id:
            return
        s.step_child = None
        s.sub_results[inp.agent_name] = inp.output
        if inp.finish_reason == "budget_exceeded":
            _finish(d, "COMPLETED", output=s.output, finish_reason="budget_exceeded")
            return
        if inp.status != "COMPLETED":
            _finish(
                d, "FAILED", error=f"step '{inp.agent_name}' {inp.status}: {inp.error}", finish_reason="error"
            )
            return
        text = inp.output if isinstance(inp.output, str) else json.dumps(inp.output, default=str)
        s.last_text = text
        s.output = inp.output
        gate = extra(spec.agents[s.step], "gate")
        if isinstance(gate, dict) and gate.get("taskName"):
            call_fn(d, "gate", str(gate["taskName"]), {"result": text})
            return
        if isinstance(gate, dict) and gate.get("type") == "text_contains":
            needle, hay = str(gate.get("text", "")), text
            if not gate.get("caseSensitive", True):
                needle, hay = needle.lower(), hay.lower()
            _after_gate(spec, d, not (needle and needle in hay))
            return
        _after_gate(spec, d, True)
        return
    for call in s.calls.values():
        if call.child_id == inp.child_id and call.status == "child_running" and call.call_id == s.handed_to:
            # The agent we handed over to answered: that is the answer of the run.
            if inp.status == "COMPLETED":
                _resolve(d, call, result=inp.output)
            else:
                _resolve(d, call, error=f"'{inp.agent_name}' {inp.status}: {inp.error}")
            if inp.status == "COMPLETED":
                s.last_text = inp.output if isinstance(inp.output, str) else s.last_text
                _finish(d, "COMPLETED", output=inp.output, finish_reason="stop")
            else:
                _finish(
                    d, "FAILED", error=f"'{inp.agent_name}' {inp.status}: {inp.error}", finish_reason="error"
                )
            return
        if call.child_id == inp.child_id and call.status == "child_running":
            if inp.status == "COMPLETED":
                _resolve(d, call, result=inp.output)
            else:
                error = f"sub-agent '{inp.agent_name}' {inp.status}: {inp.error}"
                _resolve(d, call, error=error)
                tool = find_tool(spec, call.name)
                if tool is not None and tool.config.get("optional") is False:
                    # agent_tool(optional=False) / scatter_gather(fail_fast=True)
                    _finish(d, "FAILED", error=error, finish_reason="error")
                    return
            _maybe_finish_turn(spec, d)
            return


def _after_gate(spec: AgentConfig, d: Decision, proceed: bool) -> None:
    """Continue a pipeline after a step, or stop it early when the step's gate says so."""
    s = d.state
    if proceed and s.paused and s.step + 1 < len(spec.agents):
        s.llm_due = True  # the next step starts on resume
        return
    if not proceed:
        d.events.append(
            EventDraft(
                "gate_stopped",
                {"content": f"the gate after '{spec.agents[s.step].name}' stopped the pipeline"},
            )
        )
        _finish(d, "COMPLETED", output=s.output, finish_reason="gate")
    elif s.step + 1 < len(spec.agents) and not s.stop_requested:
        _start_step(spec, d, s.step + 1, s.last_text or "")
    else:
        _finish(d, "COMPLETED", output=s.output, finish_reason="stopped" if s.stop_requested else "stop")


def link_child(state: ExecState, link: str, child_id: str) -> None:
    """Record the id the driver gave a child started for ``link`` (see StartChild)."""
    if link.startswith("team:"):
        state.children[child_id] = link[len("team:") :]
    elif link.startswith("step:"):
        state.step_child = child_id
    elif link in state.calls:
        state.calls[link].child_id = child_id


def _running_children(s: ExecState) -> list[str]:
    ids = [c.child_id for c in s.calls.values() if c.status == "child_running" and c.child_id]
    if s.step_child:
        ids.append(s.step_child)
    ids.extend(s.children)
    return ids


# --- control ----------------------------------------------------------------------------


def _on_pause(spec: AgentConfig, d: Decision, inp: Pause) -> None:
    s = d.state
    if s.paused:
        return
    s.paused = True
    s.status = "PAUSED"
    d.events.append(EventDraft("paused", {"content": "paused; no model call is made until resumed"}))


def _on_resume(spec: AgentConfig, d: Decision, inp: Resume) -> None:
    s = d.state
    if not s.paused:
        raise Rejected("invalid_state", "the execution is not paused")
    s.paused = False
    s.status = "RUNNING"
    d.events.append(EventDraft("resumed", {}))
    if s.llm_due and is_pipeline(spec):
        s.llm_due = False
        _after_gate(spec, d, True)
    elif s.llm_due:
        _call_llm(spec, d)


def _on_stop(spec: AgentConfig, d: Decision, inp: Stop) -> None:
    s = d.state
    s.stop_requested = True
    busy = s.awaiting_llm or any(c.status in ("running", "child_running") for c in s.calls.values())
    if not busy and not (is_pipeline(spec) and s.step_child):
        _finish(d, "COMPLETED", output=s.last_text, finish_reason="stopped")


def _on_worker_missing(spec: AgentConfig, d: Decision, inp: WorkerMissing) -> None:
    s = d.state
    if inp.tool_name in s.missing_workers:
        return
    s.missing_workers.append(inp.tool_name)
    d.events.append(
        EventDraft(
            "worker_missing",
            {
                "tool_name": inp.tool_name,
                "content": (
                    f"No worker is polling for tool '{inp.tool_name}' "
                    f"(waited {inp.waited_seconds:.0f}s). Start a worker that serves it, "
                    "e.g. runtime.serve(agent)."
                ),
            },
        )
    )


def _on_worker_found(spec: AgentConfig, d: Decision, inp: WorkerFound) -> None:
    s = d.state
    if inp.tool_name in s.missing_workers:
        s.missing_workers.remove(inp.tool_name)
        d.events.append(EventDraft("worker_found", {"tool_name": inp.tool_name}))


def _finish(
    d: Decision,
    status: str,
    *,
    output: Any = None,
    error: str | None = None,
    finish_reason: str,
) -> None:
    s = d.state
    for child_id in _running_children(s):
        d.commands.append(CancelChild(child_id=child_id, reason=f"parent {status.lower()}"))
    s.status = status  # type: ignore[assignment]
    s.awaiting_llm = False
    s.finish_reason = finish_reason
    s.output = output
    s.error = error
    s.missing_workers = []
    d.commands.append(DropTasks())
    if status == "COMPLETED":
        d.events.append(EventDraft("done", {"output": output, "data": {"finishReason": finish_reason}}))
    else:
        d.events.append(
            EventDraft(
                "error",
                {"content": error, "data": {"status": status, "finishReason": finish_reason}},
            )
        )


# One handler per input kind; each takes (spec, decision, input).
_HANDLERS: dict[type[Any], Callable[[AgentConfig, Decision, Any], None]] = {
    Start: _start,
    LlmResult: _on_llm_result,
    LlmFailed: _on_llm_failed,
    ToolSucceeded: _on_tool_succeeded,
    ToolFailed: _on_tool_failed,
    ApprovalDecided: _on_approval,
    ChildFinished: _on_child_finished,
    Cancel: _on_cancel,
    Pause: _on_pause,
    Resume: _on_resume,
    Stop: _on_stop,
    TimedOut: _on_timed_out,
    WorkerMissing: _on_worker_missing,
    WorkerFound: _on_worker_found,
    BudgetExceeded: _on_budget_exceeded,
}
