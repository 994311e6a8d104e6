"""Inputs every strategy takes the same way: cancel, pause and resume, timeouts, budget,
a failed model call, and workers going missing and coming back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentspan.protocol.api import split_scope
from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.condense import on_context_condensed
from agentspan.server.engine.fork import on_fork
from agentspan.server.engine.message_waits import on_message_arrived, on_signal
from agentspan.server.engine.model import (
    BudgetExceeded,
    Cancel,
    ContextCondensed,
    EventDraft,
    Fork,
    LlmFailed,
    MessageArrived,
    Pause,
    Rejected,
    SignalSet,
    TimedOut,
    WorkerFound,
    WorkerMissing,
)
from agentspan.server.engine.steps import InputHandler, Step, control_children, finish


def on_llm_failed(spec: AgentConfig, d: Step, inp: LlmFailed) -> None:
    finish(d, "FAILED", error=f"model call failed: {inp.error}", finish_reason="error")


def on_cancel(spec: AgentConfig, d: Step, inp: Cancel) -> None:
    finish(d, "TERMINATED", error=inp.reason or "Cancelled by user", finish_reason="cancelled")


def on_budget_exceeded(spec: AgentConfig, d: Step, inp: BudgetExceeded) -> None:
    d.state.awaiting_llm = False
    d.events.append(EventDraft("budget_exceeded", {"content": inp.reason}))
    finish(d, "COMPLETED", output=d.state.last_text, finish_reason="budget_exceeded")


def on_timed_out(spec: AgentConfig, d: Step, inp: TimedOut) -> None:
    finish(d, "TIMED_OUT", error="the execution exceeded its timeout", finish_reason="timeout")


def on_pause(spec: AgentConfig, d: Step, inp: Pause) -> None:
    s = d.state
    if s.paused:
        return
    s.paused = True
    s.status = "PAUSED"
    d.events.append(EventDraft("paused", {"content": "paused; no model call is made until resumed"}))
    control_children(d, "pause")


def on_resume(spec: AgentConfig, d: Step, held: Callable[[AgentConfig, Step], None]) -> None:
    """Resume, then take the step held back while paused (``held``), if one was."""
    s = d.state
    if not s.paused:
        raise Rejected("invalid_state", "the execution is not paused")
    s.paused = False
    s.status = "RUNNING"
    d.events.append(EventDraft("resumed", {}))
    control_children(d, "resume")
    if s.llm_due:
        held(spec, d)


def on_worker_missing(spec: AgentConfig, d: Step, inp: WorkerMissing) -> None:
    """One ``worker_missing`` event per tool name not reported yet (a set, not a scan of
    the list per name: an agent may wait for thousands of tools at once)."""
    s = d.state
    reported = set(s.missing_workers)
    for name in inp.tool_names:
        if name in reported:
            continue
        reported.add(name)
        s.missing_workers.append(name)
        tool, scope = split_scope(name)
        if scope is None:
            content = (
                f"No worker is polling for tool '{name}' "
                f"(waited {inp.waited_seconds:.0f}s). Start a worker that serves it, "
                "e.g. runtime.serve(agent)."
            )
        else:
            content = (
                f"No worker is polling for stateful tool '{tool}' of execution {scope} "
                f"(waited {inp.waited_seconds:.0f}s): its calls go only to the process that "
                "started the execution. Re-attach one with runtime.resume(execution_id, agent)."
            )
        if inp.note:
            content = f"{content} {inp.note}"
        d.events.append(EventDraft("worker_missing", {"tool_name": name, "content": content}))


def on_worker_found(spec: AgentConfig, d: Step, inp: WorkerFound) -> None:
    s = d.state
    found = set(inp.tool_names) & set(s.missing_workers)
    if not found:
        return
    s.missing_workers = [n for n in s.missing_workers if n not in found]
    for name in dict.fromkeys(inp.tool_names):  # in the order given, each once
        if name in found:
            d.events.append(EventDraft("worker_found", {"tool_name": name}))


SHARED: dict[type[Any], InputHandler] = {
    Cancel: on_cancel,
    Pause: on_pause,
    TimedOut: on_timed_out,
    WorkerMissing: on_worker_missing,
    WorkerFound: on_worker_found,
    BudgetExceeded: on_budget_exceeded,
    LlmFailed: on_llm_failed,
    ContextCondensed: on_context_condensed,
    MessageArrived: on_message_arrived,
    SignalSet: on_signal,
    Fork: on_fork,
}
