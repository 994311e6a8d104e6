"""Helpers for the engine tests (tests/unit/test_decide*.py): specs, inputs and ``Run``,
which drives ``decide`` input by input and checks it never changes its input state."""

from __future__ import annotations

import copy
import json
from typing import Any, TypeVar

from agentspan.protocol.messages import ChatMessage
from agentspan.protocol.spec import AgentConfig, ToolConfig, parse_tool
from agentspan.server.engine import decide
from agentspan.server.engine.hooks import Hooks
from agentspan.server.engine.model import (
    ApprovalDecided,
    CallLlm,
    ChildFinished,
    Decision,
    DropTasks,
    EventDraft,
    ExecState,
    Input,
    LlmFailed,
    LlmResult,
    RunTool,
    Start,
    StartChild,
    TimedOut,
    ToolCallIn,
    ToolFailed,
    ToolSucceeded,
    WorkerFound,
    WorkerMissing,
)

NOW = 1_000.0
C = TypeVar("C")


def tool(name: str, **kwargs: Any) -> ToolConfig:
    """The tool variant ``tool_type`` names (default: a worker tool)."""
    return parse_tool({"name": name, **kwargs})


def agent(*tools: ToolConfig, name: str = "assistant", **kwargs: Any) -> AgentConfig:
    return AgentConfig(name=name, model="offline/basic", tools=list(tools), **kwargs)


def call(name: str, args: dict[str, Any] | str | None = None, llm_id: str = "") -> ToolCallIn:
    """A tool call as the model returns it (``args`` as a dict, or raw argument text)."""
    raw = args if isinstance(args, str) else json.dumps(args or {})
    return ToolCallIn(id=llm_id, name=name, arguments=raw)


def commands(d: Decision, kind: type[C]) -> list[C]:
    return [c for c in d.commands if isinstance(c, kind)]


def events(d: Decision, type_: str) -> list[EventDraft]:
    return [e for e in d.events if e.type == type_]


def event_types(d: Decision) -> list[str]:
    return [e.type for e in d.events]


def approve(call_id: str | None = None, *, approved: bool = True, reason: str = "") -> ApprovalDecided:
    return ApprovalDecided(
        approved=approved, reason=reason, decided_by="alice", decided_at=NOW + 5, call_id=call_id
    )


def reject(call_id: str | None = None, reason: str = "") -> ApprovalDecided:
    return approve(call_id, approved=False, reason=reason)


class Run:
    """Feeds inputs to ``decide`` one at a time, keeping the latest state.

    Every step checks that ``decide`` did not mutate the state it was given.
    """

    def __init__(self, spec: AgentConfig, state: ExecState | None = None, hooks: Hooks | None = None) -> None:
        self.spec = spec
        self.state = state if state is not None else ExecState()
        self.hooks = hooks
        self.messages: list[ChatMessage] = []

    def apply(self, inp: Input) -> Decision:
        before = copy.deepcopy(self.state)
        dumped = self.state.model_dump()
        d = decide(self.spec, self.state, inp, self.hooks)
        assert self.state == before, "decide mutated its input state"
        assert self.state.model_dump() == dumped
        self.state = d.state
        self.messages.extend(d.messages)
        return d

    def start(self, prompt: str = "hello", timeout: float | None = None) -> Decision:
        return self.apply(Start(prompt=prompt, now=NOW, timeout_seconds=timeout))

    def llm(self, content: str | None = None, *calls: ToolCallIn, **kwargs: Any) -> Decision:
        return self.apply(LlmResult(content=content, tool_calls=list(calls), **kwargs))

    def ok(self, call_id: str, output: Any = "ok", **kwargs: Any) -> Decision:
        return self.apply(ToolSucceeded(call_id=call_id, output=output, **kwargs))

    def fail(self, call_id: str, error: str = "boom", **kwargs: Any) -> Decision:
        return self.apply(ToolFailed(call_id=call_id, error=error, **kwargs))


def started(spec: AgentConfig, prompt: str = "hello") -> Run:
    run = Run(spec)
    run.start(prompt)
    return run


def assert_finished(d: Decision, status: str, finish_reason: str) -> None:
    assert d.state.status == status
    assert d.state.terminal
    assert d.state.finish_reason == finish_reason
    assert d.state.awaiting_llm is False
    assert DropTasks() in d.commands
    assert not commands(d, CallLlm)
    assert not commands(d, RunTool)
    assert not commands(d, StartChild)
    ends = [e for e in d.events if e.type in ("done", "error")]
    assert len(ends) == 1
    assert ends[0].type == ("done" if status == "COMPLETED" else "error")
    assert ends[0].fields["data"]["finishReason"] == finish_reason


LOOKUP = tool("lookup", description="look something up")
WEATHER = tool("weather")


# Inputs that may arrive after an execution ended; each must change nothing.
LATE_INPUTS: list[Input] = [
    LlmResult(content="late"),
    LlmFailed(error="late"),
    ToolSucceeded(call_id="c1", output=1),
    ToolFailed(call_id="c1", error="late"),
    ChildFinished(child_id="k", agent_name="sub", status="COMPLETED"),
    TimedOut(),
    WorkerMissing(tool_names=["lookup"], waited_seconds=60),
    WorkerFound(tool_names=["lookup"]),
]
