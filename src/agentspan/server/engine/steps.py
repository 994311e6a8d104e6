"""Steps every strategy takes: finish, call the model, add messages, record a call's
outcome, hand over to a sub-agent. Public so strategy modules share them, not copy them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from agentspan.protocol.messages import ChatMessage
from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.functions import CONVERSATION, call_fn, callback_task
from agentspan.server.engine.hooks import NO_HOOKS, Block, Hooks, ModelRequest, Replace, Retry, consult
from agentspan.server.engine.model import (
    CallbackWait,
    CallLlm,
    CallState,
    CancelChild,
    ControlChild,
    Decision,
    DropTasks,
    EventDraft,
    ExecState,
    LlmResult,
    SetTimer,
    Start,
)
from agentspan.server.engine.session_state import keep_output


@dataclass(slots=True, kw_only=True)
class Step(Decision):
    """The decision being made, with what the steps need besides it (not persisted)."""

    spec: AgentConfig
    hooks: Hooks = NO_HOOKS


InputHandler = Callable[[AgentConfig, Step, Any], None]
"""Applies one input kind: (spec, step, input)."""


def begin(spec: AgentConfig, d: Step, inp: Start) -> None:
    """What every execution records at its start: the request, its seed and its deadline."""
    s = d.state
    s.prompt = inp.prompt
    s.seed = inp.seed
    timeout = inp.timeout_seconds if inp.timeout_seconds is not None else spec.timeout_seconds
    if timeout and timeout > 0:
        s.deadline = inp.now + timeout
        d.commands.append(SetTimer(at=s.deadline))


def record_usage(d: Step, inp: LlmResult, purpose: str | None = None) -> None:
    """Add a model call's tokens and cost to the execution's usage; an ``llm_call`` event
    records it (``purpose``: why the server made it, when not for the agent's own turn)."""
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
    if purpose is None:
        # Where this call stands in the run, for a fork that makes it again (fork.py).
        data["messageCount"] = d.state.message_count
        data["turn"] = d.state.turn
    else:
        data["purpose"] = purpose
    fields: dict[str, Any] = {"data": data}
    if inp.thinking:
        fields["content"] = inp.thinking
    d.events.append(EventDraft("llm_call", fields))


def add_messages(d: Step, messages: list[ChatMessage]) -> None:
    d.messages.extend(messages)
    d.state.message_count += len(messages)


def next_model_call(spec: AgentConfig, d: Step) -> None:
    """The agent loop's next model call, unless the run should end or wait first."""
    s = d.state
    if s.stop_requested:
        finish(d, "COMPLETED", output=s.last_text, finish_reason="stopped")
        return
    if s.turn >= spec.max_turns:
        finish(d, "COMPLETED", output=s.last_text, finish_reason="max_turns")
        return
    if s.paused:
        s.llm_due = True
        return
    stop_when = spec.stop_when
    if stop_when is not None and s.turn > 0 and not s.pending:
        # Ask the user's stop_when function (a worker task) before the next model call.
        context = {
            "result": s.last_text or "",
            "messages": [],
            "iteration": s.turn,
            "token_usage": s.usage.model_dump(),
        }
        call_fn(d, "stop_when", stop_when.task_name, context)
        return
    request_model_call(spec, d)


def request_model_call(spec: AgentConfig, d: Step, purpose: Literal["turn", "plan"] = "turn") -> None:
    """Issue a model call now (the ``before_model`` hooks may block it)."""
    s = d.state
    if purpose == "turn" and not s.model_hooked:
        task = callback_task(spec, "before_model")
        if task is not None:
            # The user's before_model callback answers first (callbacks.py carries on).
            args = {"position": "before_model", "agent_name": spec.name, "messages": CONVERSATION}
            s.hook = CallbackWait(position="before_model", fn=call_fn(d, "callback", task, args))
            return
    s.model_hooked = False
    if d.hooks.before_model:
        verdict = consult(d.hooks.before_model, spec, s, ModelRequest(purpose, s.turn + 1))
        if isinstance(verdict, Block):
            finish(d, "FAILED", error=verdict.reason, finish_reason="blocked")
            return
        if isinstance(verdict, Replace | Retry):
            raise ValueError(f"before_model hooks may only continue or block, not {verdict!r}")
    s.llm_due = False
    s.awaiting_llm = True
    if purpose == "plan":
        s.planning = True
        d.commands.append(CallLlm(purpose="plan"))
        d.events.append(EventDraft("thinking", {"content": f"{spec.name}: planning"}))
        return
    d.commands.append(CallLlm())
    d.events.append(EventDraft("thinking", {"content": f"{spec.name}: model call {s.turn + 1}"}))


def resolve(d: Step, call: CallState, *, result: Any = None, error: str | None = None) -> None:
    """Record a call's final outcome (a value, or an error the model will see)."""
    call.status = "done"
    call.result = result
    call.error = error
    if d.hooks.after_tool:
        verdict = consult(d.hooks.after_tool, d.spec, d.state, call)
        if isinstance(verdict, Replace):
            call.result, call.error = verdict.value, None
        elif isinstance(verdict, Block):
            call.result, call.error = None, verdict.reason
    shown = {"error": call.error} if call.error is not None else call.result
    d.events.append(
        EventDraft("tool_result", {"tool_name": call.name, "result": shown, "call_id": call.call_id})
    )


def running_children(s: ExecState) -> list[str]:
    ids = [c.child_id for c in s.calls.values() if c.status == "child_running" and c.child_id]
    if s.step_child:
        ids.append(s.step_child)
    ids.extend(s.children)
    return ids


def control_children(d: Step, action: Literal["pause", "resume", "stop"]) -> None:
    """Pass a pause, resume or stop on to every running child: a paused team pauses the
    members at work, and a stopped one does not wait for them to finish on their own."""
    for child_id in running_children(d.state):
        d.commands.append(ControlChild(child_id=child_id, action=action))


def finish(
    d: Step,
    status: str,
    *,
    output: Any = None,
    error: str | None = None,
    finish_reason: str,
) -> None:
    """End the execution: cancel its children, withdraw its tasks, say how it ended.

    A run about to complete asks the agent's ``after_agent`` callback first, once (it may
    replace the output; ``callbacks.py`` finishes when it answered)."""
    s = d.state
    if status == "COMPLETED" and not s.ended_hooked:
        task = callback_task(d.spec, "after_agent")
        if task is not None:
            s.ended_hooked = True
            s.awaiting_llm = False
            args = {"position": "after_agent", "agent_name": d.spec.name, "output": output}
            data = {"output": output, "finish_reason": finish_reason}
            s.hook = CallbackWait(position="after_agent", fn=call_fn(d, "callback", task, args), data=data)
            return
    for child_id in running_children(s):
        d.commands.append(CancelChild(child_id=child_id, reason=f"parent {status.lower()}"))
    s.status = status  # type: ignore[assignment]
    s.awaiting_llm = False
    s.finish_reason = finish_reason
    s.output = output
    s.error = error
    s.missing_workers = []
    if status == "COMPLETED":
        keep_output(d.spec, s.tool_state, output)  # ADK's output_key (session_state.py)
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


def output_text(output: Any) -> str:
    """A sub-agent's output as text for the next agent (JSON for structured answers)."""
    return output if isinstance(output, str) else json.dumps(output, default=str)


def handoff_prompt(s: ExecState, sub: AgentConfig, note: Any = None) -> str:
    """What a sub-agent receives: the request, plus the conversation unless it asked
    for a fresh context (``include_contents="none"``)."""
    if sub.include_contents == "none":
        return s.prompt
    parts = [s.prompt]
    parts += [f"[{line['agent']}]: {line['text']}" for line in s.transcript]
    if s.last_text and not s.transcript:
        parts.append(f"[previous agent]: {s.last_text}")
    if isinstance(note, str) and note.strip():
        parts.append(f"[handoff note]: {note.strip()}")
    return "\n\n".join(p for p in parts if p)


def blocked_transition(spec: AgentConfig, source: str, target: str) -> str | None:
    """Why ``allowed_transitions`` forbids ``source`` -> ``target``, if it does."""
    allowed = spec.allowed_transitions
    if allowed is None or source not in allowed:
        return None
    permitted = allowed[source]
    if target in permitted:
        return None
    return (
        f"Transfer from {source} to {target} is not allowed. "
        f"Allowed from {source}: {', '.join(permitted) or 'none'}. Continue yourself or pick an allowed agent."
    )
