"""The tool calls of one model turn: dispatching them, their outcomes and approvals,
and the tool messages that close the turn."""

from __future__ import annotations

import json
from typing import Any

from agentspan.protocol.messages import ChatMessage
from agentspan.protocol.spec import (
    DEFAULT_TOOL_RETRIES,
    DEFAULT_TOOL_RETRY_DELAY_SECONDS,
    AgentConfig,
    AgentTool,
    HandoffTool,
    HumanTool,
    MessageWaitTool,
    ToolConfig,
    WorkerTool,
)
from agentspan.server.engine.callback_points import ask_after_tool, ask_before_tool
from agentspan.server.engine.conditions import tool_result_handoff
from agentspan.server.engine.functions import DELAY, call_fn
from agentspan.server.engine.guardrails import (
    check_output,
    check_tool_call,
    check_tool_result,
    on_human_decision,
    rails_at,
    waiting_for_human,
)
from agentspan.server.engine.hooks import Block, Replace, Retry, consult
from agentspan.server.engine.human_tools import ask_person
from agentspan.server.engine.message_waits import await_messages
from agentspan.server.engine.model import (
    ApprovalDecided,
    CallState,
    ChildFinished,
    EventDraft,
    PendingFn,
    Rejected,
    RunTool,
    StartChild,
    ToolFailed,
    ToolSucceeded,
)
from agentspan.server.engine.required_tools import note_call
from agentspan.server.engine.specs import find_tool
from agentspan.server.engine.steps import (
    Step,
    add_messages,
    blocked_transition,
    finish,
    handoff_prompt,
    next_model_call,
    record_usage,
    resolve,
)
from agentspan.server.engine.waits import pending_tool, wait_text

MAX_RETRY_DELAY_SECONDS = 60.0
MAX_LEASE_LOSSES = 5
"""A call whose worker is lost more often than this is given up (an error to the model)."""


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


def dispatch_call(spec: AgentConfig, d: Step, call: CallState, raw_args: str) -> None:
    args, problem = _parse_arguments(raw_args)
    call.args = args or {}
    d.events.append(
        EventDraft("tool_call", {"tool_name": call.name, "args": call.args, "call_id": call.call_id})
    )
    tool = find_tool(spec, call.name)
    if problem is not None:
        resolve(
            d, call, error=f"Invalid call to tool '{call.name}': {problem}. Call it again with a JSON object."
        )
    elif tool is None:
        names = ", ".join(t.name for t in spec.tools) or "none"
        resolve(d, call, error=f"Unknown tool '{call.name}'. Available tools: {names}.")
    elif not ask_before_tool(spec, d, call):
        continue_call(spec, d, call)


def continue_call(spec: AgentConfig, d: Step, call: CallState) -> None:
    """A known tool's call, its ``before_tool`` callback (if any) answered: the turn
    hooks, then its input guardrails, then approval or the run itself."""
    if d.hooks.before_tool and not _tool_allowed(spec, d, call):
        return
    if not check_tool_call(spec, d, call):
        proceed_with_call(spec, d, call)


def proceed_with_call(spec: AgentConfig, d: Step, call: CallState) -> None:
    """A known tool's call with acceptable arguments: ask a human first, or run it."""
    tool = find_tool(spec, call.name)
    if tool is None:  # the spec is fixed for the run, so this cannot happen after dispatch
        resolve(d, call, error=f"Unknown tool '{call.name}'.")
        maybe_finish_turn(spec, d)
    elif tool.approval_required:
        await_human(d, call, "approval")
    else:
        start_call(spec, d, call, tool)


def refuse_over_limit(d: Step, call: CallState, raw_args: str, limit: int, asked: int) -> None:
    """A call past the server's limit on tool calls per model reply: it is recorded and
    answered with an error the model sees (the first ``limit`` calls run as usual), so
    the model can ask again in a later reply; the run itself goes on."""
    args, _ = _parse_arguments(raw_args)
    call.args = args or {}
    d.events.append(
        EventDraft("tool_call", {"tool_name": call.name, "args": call.args, "call_id": call.call_id})
    )
    resolve(
        d,
        call,
        error=(
            f"Not run: the reply asked for {asked} tool calls and this server runs at most {limit} "
            f"per reply (AGENTSPAN_MAX_PARALLEL_TOOL_CALLS); the first {limit} ran. "
            f"Call '{call.name}' again in a later reply if it is still needed."
        ),
    )


def start_call(spec: AgentConfig, d: Step, call: CallState, tool: ToolConfig) -> None:
    """Carry a call out: the engine itself for agent tools and handoffs; for every other
    tool type, the executor of that type (``RunTool.executor``; the driver answers a call
    no executor on this server serves as unsupported)."""
    match tool:
        case AgentTool():
            _start_agent_tool(d, call, tool)
        case HandoffTool(tool_type="handoff"):
            _start_handoff(spec, d, call, tool)
        case HandoffTool():
            _request_transfer(d, call, tool)
        case HumanTool():
            ask_person(d, call, tool)
        case MessageWaitTool():
            await_messages(d, call, tool)
        case _:
            run_tool(d, call, tool)


def _tool_allowed(spec: AgentConfig, d: Step, call: CallState) -> bool:
    """Consult the ``before_tool`` hooks: new arguments, or the call refused (resolved
    with the reason as its error, which the model sees)."""
    verdict = consult(d.hooks.before_tool, spec, d.state, call)
    if isinstance(verdict, Replace):
        call.args = dict(verdict.value)
    elif isinstance(verdict, Block):
        resolve(d, call, error=verdict.reason)
        return False
    elif isinstance(verdict, Retry):
        raise ValueError(f"before_tool hooks may continue, replace or block, not {verdict!r}")
    return True


def await_human(d: Step, call: CallState, kind: str) -> None:
    call.status = "awaiting_approval"
    call.wait_kind = "approval" if kind == "approval" else "outcome_unknown"
    call.approval = None  # a new question: earlier answers stay in the event log
    tool = d.spec.tool(call.name)
    call.response_schema = tool.response_schema if tool is not None else None
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


def run_tool(d: Step, call: CallState, tool: ToolConfig, delay: float = 0.0) -> None:
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
            executor=executor_of(tool) or "worker",
        )
    )


def executor_of(tool: ToolConfig) -> str | None:
    """Who runs a call of ``tool``: the executor named after its type (``worker``: an
    external worker polling the task queue), or ``None`` when the engine carries the call
    out itself (agent tools start a child, handoff and transfer tools pass control)."""
    if isinstance(tool, WorkerTool):
        return "worker"
    if isinstance(tool, AgentTool | HandoffTool | HumanTool | MessageWaitTool):
        return None
    return tool.tool_type


def _start_agent_tool(d: Step, call: CallState, tool: AgentTool) -> None:
    child_spec = tool.config.agent_config
    if child_spec is None:
        resolve(d, call, error=f"Tool '{tool.name}' has no agentConfig.")
        return
    request = call.args.get("request")
    prompt = request if isinstance(request, str) else json.dumps(call.args)
    call.status = "child_running"
    call.attempt += 1
    d.commands.append(StartChild(spec=child_spec, prompt=prompt, link=call.call_id))
    d.events.append(EventDraft("handoff", {"target": child_spec.name}))


def _start_handoff(spec: AgentConfig, d: Step, call: CallState, tool: HandoffTool) -> None:
    """Hand the run over to a sub-agent: its answer becomes this execution's answer."""
    target = tool.config.target
    sub = next((a for a in spec.agents if a.name == target), None)
    blocked = blocked_transition(spec, spec.name, target)
    if sub is None or blocked is not None or d.state.handed_to is not None:
        resolve(d, call, error=blocked or f"Cannot hand over to {target!r} now.")
        return
    reason = call.args.get("reason")
    call.status = "child_running"
    call.attempt += 1
    d.state.handed_to = call.call_id
    d.commands.append(StartChild(spec=sub, prompt=handoff_prompt(d.state, sub, reason), link=call.call_id))
    d.events.append(
        EventDraft("handoff", {"target": target, "data": {"source": spec.name, "reason": reason}})
    )


def _request_transfer(d: Step, call: CallState, tool: HandoffTool) -> None:
    """A swarm member passes control to a peer once this turn's calls are done."""
    target = tool.config.target
    if tool.config.blocked:
        resolve(d, call, error=tool.config.blocked_reason or f"Transfer to {target} is not allowed.")
        return
    d.state.transfer_to = d.state.transfer_to or target
    resolve(d, call, result=f"Transferring to {target}.")


def maybe_finish_turn(spec: AgentConfig, d: Step) -> None:
    s = d.state
    if any(s.calls[c].status != "done" for c in s.call_order):
        return
    messages: list[ChatMessage] = []
    for call_id in s.call_order:
        call = s.calls[call_id]
        messages.append(
            {"role": "tool", "tool_call_id": call.llm_id, "name": call.name, "content": _tool_content(call)}
        )
    add_messages(d, messages)
    if s.transfer_to is not None:
        finish(d, "COMPLETED", output=s.last_text, finish_reason="transfer")
        return
    next_model_call(spec, d)


def _rejection_reason(approval: dict[str, Any]) -> str:
    """Why a person said no: the ``reason``, else the ``feedback`` a tool's response
    schema asked for (what the model is told, and what the call's result records)."""
    return str(approval.get("reason") or (approval.get("extra") or {}).get("feedback") or "")


def _tool_content(call: CallState) -> str:
    if call.rejected:
        reason = _rejection_reason(call.approval or {}) or "no reason given"
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


def on_tool_succeeded(spec: AgentConfig, d: Step, inp: ToolSucceeded) -> None:
    s = d.state
    call = s.calls.get(inp.call_id)
    if call is None or call.status != "running" or call.guard is not None or call.hook is not None:
        return  # stale: the call was already resolved (or its result is being checked)
    if inp.state_updates:
        s.tool_state.update(inp.state_updates)
    if inp.usage is not None:
        record_usage(d, inp.usage, purpose="embedding")
    note_call(spec, d, call)  # it ran: a required tool counts as called
    if not check_tool_result(spec, d, call, inp.output):
        show_result(spec, d, call, inp.output)


def show_result(spec: AgentConfig, d: Step, call: CallState, result: Any) -> None:
    """Resolve a call with the result the model will see (once its ``after_tool``
    callback, if any, answered), then maybe end the turn."""
    if not ask_after_tool(spec, d, call, result=result):
        shown_result(spec, d, call, result)


def shown_result(spec: AgentConfig, d: Step, call: CallState, result: Any) -> None:
    s = d.state
    resolve(d, call, result=result)
    target = tool_result_handoff(spec.swarm_handoffs, call.name, result, spec.name)
    if target is not None and s.transfer_to is None:
        s.transfer_to = target
    maybe_finish_turn(spec, d)


def on_tool_failed(spec: AgentConfig, d: Step, inp: ToolFailed) -> None:
    s = d.state
    call = s.calls.get(inp.call_id)
    if call is None or call.status != "running" or call.guard is not None or call.hook is not None:
        return  # stale, or its arguments or result are being checked (no task of it runs)
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
        run_tool(d, call, tool, delay)
        return
    if not ask_after_tool(spec, d, call, error=inp.error):
        resolve(d, call, error=inp.error)
        maybe_finish_turn(spec, d)


def _on_lease_lost(spec: AgentConfig, d: Step, call: CallState, tool: ToolConfig) -> None:
    """The worker running the call vanished (its lease expired).

    Durability means the call runs again, at once and with the same idempotency key, no
    matter the failure-retry budget; a tool marked non-retryable waits for a human instead.
    A call that keeps losing its worker (a crash loop) is given up after a bound.
    """
    if not tool.retryable:
        await_human(d, call, "outcome_unknown")
        return
    call.lost += 1
    if call.lost > MAX_LEASE_LOSSES:
        resolve(d, call, error=f"the worker running '{call.name}' was lost {call.lost} times; giving up")
        maybe_finish_turn(spec, d)
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
    run_tool(d, call, tool)


def on_approval(spec: AgentConfig, d: Step, inp: ApprovalDecided) -> None:
    if waiting_for_human(d):
        on_human_decision(spec, d, inp)
        return
    waiting = [c for c in d.state.awaiting_approval() if c.wait_kind != "human"]  # questions: human_tools
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
    call.response_schema = None
    if inp.approved and tool is not None:
        call.wait_kind = None
        edited = inp.extra.get("arguments")
        if isinstance(edited, dict):
            call.args = edited  # a person corrected the arguments (checked by the service)
        start_call(spec, d, call, tool)
        return
    call.rejected = True
    d.state.turn_had_rejection = True
    resolve(d, call, result={"rejected": True, "reason": _rejection_reason(call.approval)})
    maybe_finish_turn(spec, d)


def on_call_child_finished(spec: AgentConfig, d: Step, inp: ChildFinished) -> None:
    """A child started for a call (``agent_tool``, or a handoff) finished."""
    s = d.state
    for call in s.calls.values():
        if call.child_id == inp.child_id and call.status == "child_running" and call.call_id == s.handed_to:
            # The agent we handed over to answered: that is the answer of the run.
            if inp.status == "COMPLETED":
                resolve(d, call, result=inp.output)
            else:
                resolve(d, call, error=f"'{inp.agent_name}' {inp.status}: {inp.error}")
            if inp.status == "COMPLETED" and rails_at(spec, "output"):
                # The parent's output guardrails check the answer it hands back; a
                # "retry" asks the parent's model again, free to hand over anew.
                s.handed_to = None
                text = inp.output if isinstance(inp.output, str) else json.dumps(inp.output, default=str)
                check_output(spec, d, text)
            elif inp.status == "COMPLETED":
                s.last_text = inp.output if isinstance(inp.output, str) else s.last_text
                # The agent handed over to ran out of budget: so did this run.
                reason = "budget_exceeded" if inp.finish_reason == "budget_exceeded" else "stop"
                if s.stop_requested and reason == "stop":
                    reason = "stopped"  # the agent handed over to was stopped with this run
                finish(d, "COMPLETED", output=inp.output, finish_reason=reason)
            else:
                finish(
                    d, "FAILED", error=f"'{inp.agent_name}' {inp.status}: {inp.error}", finish_reason="error"
                )
            return
        if call.child_id == inp.child_id and call.status == "child_running":
            if inp.status == "COMPLETED":
                note_call(spec, d, call)
                resolve(d, call, result=inp.output)
            else:
                error = f"sub-agent '{inp.agent_name}' {inp.status}: {inp.error}"
                tool = find_tool(spec, call.name)
                if isinstance(tool, AgentTool) and _retry_agent_tool(d, call, tool, error):
                    return
                resolve(d, call, error=error)
                if isinstance(tool, AgentTool) and tool.config.optional is False:
                    # agent_tool(optional=False) / scatter_gather(fail_fast=True)
                    finish(d, "FAILED", error=error, finish_reason="error")
                    return
            maybe_finish_turn(spec, d)
            return


def _retry_agent_tool(d: Step, call: CallState, tool: AgentTool, error: str) -> bool:
    """``agent_tool(retry_count=n, retry_delay_seconds=s)``: a failed child runs again (a
    new child execution), up to ``n`` more times, ``s`` times the attempt number later
    (linear backoff, capped). The wait is a durable ``delay`` task, not a sleep: a restart
    during it neither skips nor repeats it, and the call stays in flight meanwhile."""
    retries = tool.retry_count if tool.retry_count is not None else tool.config.retry_count
    if not retries or call.attempt > retries:
        return False
    base = (
        tool.retry_delay_seconds if tool.retry_delay_seconds is not None else tool.config.retry_delay_seconds
    )
    delay = min((base or 0.0) * call.attempt, MAX_RETRY_DELAY_SECONDS)
    d.events.append(
        EventDraft(
            "tool_retry",
            {
                "tool_name": call.name,
                "call_id": call.call_id,
                "content": error,
                "data": {"attempt": call.attempt, "delaySeconds": delay},
            },
        )
    )
    call.child_id = None
    if delay > 0:
        call_fn(d, "retry_wait", DELAY, {"call_id": call.call_id}, executor=DELAY, delay_seconds=delay)
    else:
        _start_agent_tool(d, call, tool)
    return True


def on_retry_wait_over(spec: AgentConfig, d: Step, fn: PendingFn) -> None:
    """The pause before an agent tool's retry is over: start the child again (unless the
    call was settled meanwhile). A stop asked for during the pause ends the call instead:
    the run stops at the turn's end rather than after one more child."""
    call = d.state.calls.get(str(fn.args.get("call_id", "")))
    tool = find_tool(spec, call.name) if call is not None else None
    if call is None or call.status != "child_running" or call.child_id is not None:
        return
    if d.state.stop_requested or not isinstance(tool, AgentTool):
        resolve(d, call, error=f"'{call.name}' was not run again: the run is stopping")
        maybe_finish_turn(spec, d)
        return
    _start_agent_tool(d, call, tool)
