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


def is_pipeline(spec: AgentConfig) -> bool:
    return spec.strategy == "sequential" and bool(spec.agents)


def decide(spec: AgentConfig, state: ExecState, inp: Input) -> Decision:
    """Apply one input to one execution's state."""
    if state.terminal:
        if inp.kind in _LATE_INPUTS:
            return Decision(state=state)
        raise Rejected("invalid_state", f"the execution already ended ({state.status})")
    d = Decision(state=state.model_copy(deep=True))
    _HANDLERS[type(inp)](spec, d, inp)
    return d


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
    s.llm_due = False
    s.awaiting_llm = True
    d.commands.append(CallLlm())
    d.events.append(EventDraft("thinking", {"content": f"{spec.name}: model call {s.turn + 1}"}))


def _on_llm_result(spec: AgentConfig, d: Decision, inp: LlmResult) -> None:
    s = d.state
    if not s.awaiting_llm:
        return  # a duplicate delivery of a result already recorded
    s.awaiting_llm = False
    s.turn += 1
    _record_usage(d, inp)
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
    tool = spec.tool(call.name)
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
                "content": _wait_text(call),
                "pending_tool": pending_tool(call),
            },
        )
    )


def _wait_text(call: CallState) -> str:
    if call.wait_kind == "outcome_unknown":
        return (
            f"Tool '{call.name}' is not retryable and its worker was lost mid-call: "
            "approve to run it again, reject to give up on it."
        )
    return f"Tool '{call.name}' requires approval."


def pending_tool(call: CallState) -> dict[str, Any]:
    """The ``pendingTool`` document shown in status and ``waiting`` events."""
    return {
        "taskRefName": call.call_id,
        "tool_name": call.name,
        "parameters": call.args,
        "kind": call.wait_kind or "approval",
    }


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
    if tool is not None and inp.retryable and call.attempt <= retries:
        base = tool.retry_delay_seconds
        base = DEFAULT_TOOL_RETRY_DELAY_SECONDS if base is None else base
        delay = min(base * (2 ** (call.attempt - 1)), MAX_RETRY_DELAY_SECONDS)
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
        if inp.status != "COMPLETED":
            _finish(
                d, "FAILED", error=f"step '{inp.agent_name}' {inp.status}: {inp.error}", finish_reason="error"
            )
            return
        text = inp.output if isinstance(inp.output, str) else json.dumps(inp.output, default=str)
        s.last_text = text
        if s.step + 1 < len(spec.agents) and not s.stop_requested:
            _start_step(spec, d, s.step + 1, text)
        else:
            reason = "stopped" if s.stop_requested else "stop"
            _finish(d, "COMPLETED", output=inp.output, finish_reason=reason)
        return
    for call in s.calls.values():
        if call.child_id == inp.child_id and call.status == "child_running":
            if inp.status == "COMPLETED":
                _resolve(d, call, result=inp.output)
            else:
                _resolve(d, call, error=f"sub-agent '{inp.agent_name}' {inp.status}: {inp.error}")
            _maybe_finish_turn(spec, d)
            return


def link_child(state: ExecState, link: str, child_id: str) -> None:
    """Record the id the driver gave a child started for ``link`` (see StartChild)."""
    if link.startswith("step:"):
        state.step_child = child_id
    elif link in state.calls:
        state.calls[link].child_id = child_id


def _running_children(s: ExecState) -> list[str]:
    ids = [c.child_id for c in s.calls.values() if c.status == "child_running" and c.child_id]
    if s.step_child:
        ids.append(s.step_child)
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
    if s.llm_due:
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


def waiting_reason(state: ExecState) -> str | None:
    """Why a non-terminal execution is not making progress, if it is not."""
    if state.terminal:
        return None
    waiting = state.awaiting_approval()
    if waiting:
        return _wait_text(waiting[0])
    if state.paused:
        return "paused"
    if state.missing_workers:
        names = ", ".join(f"'{n}'" for n in state.missing_workers)
        return f"no worker is polling for tool {names}"
    return None
