"""``decide(spec, state, input) -> Decision``: the whole agent loop as a pure function.

It performs no I/O and reads no clock: times arrive inside inputs. The driver persists the
returned state, events, messages and commands in one transaction, then carries the
commands out; their results come back as new inputs.

This module only routes: an input goes to the spec's strategy (``strategies/``), to the
handlers every strategy shares (``control.py``), or, for the answer of a decision
function, to the strategy's handler for that function's purpose.
"""

from __future__ import annotations

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.control import SHARED, on_resume
from agentspan.server.engine.hooks import Hooks, hooks_for
from agentspan.server.engine.model import (
    STATE_SCHEMA_VERSION,
    ChildFinished,
    Decision,
    ExecState,
    Input,
    Rejected,
    Resume,
    Start,
    Stop,
    ToolFailed,
    ToolSucceeded,
    upgraded,
)
from agentspan.server.engine.recall import ask_recall, begin_run
from agentspan.server.engine.session_state import merge_child
from agentspan.server.engine.steps import Step, begin, control_children
from agentspan.server.engine.strategies import strategy_for
from agentspan.server.engine.strategies.base import on_fn_result, refuse

# Inputs that may legitimately arrive after an execution ended (a late tool result, a
# child finishing after its parent was cancelled): they are dropped, not errors.
_LATE_INPUTS = (
    "llm_result",
    "llm_failed",
    "context_condensed",
    "tool_succeeded",
    "tool_failed",
    "child_finished",
    "timed_out",
    "worker_missing",
    "worker_found",
    "budget_exceeded",
)


def decide(spec: AgentConfig, state: ExecState, inp: Input, hooks: Hooks | None = None) -> Decision:
    """Apply one input to one execution's state.

    ``hooks``: the turn hooks in force (see ``hooks.py``); by default those ``spec`` asks for.
    """
    if state.terminal:
        if inp.kind in _LATE_INPUTS:
            return Decision(state=state)
        raise Rejected("invalid_state", f"the execution already ended ({state.status})")
    if state.schema_version < STATE_SCHEMA_VERSION:
        state = upgraded(state)  # stored by an older engine
    # A private copy to change, made the way the store makes one (through JSON, which the
    # state must survive anyway): pydantic-core does that several times faster than
    # ``model_copy(deep=True)``'s Python-level deepcopy, which was the server's top cost.
    d = Step(
        state=ExecState.model_validate_json(state.model_dump_json()),
        spec=spec,
        hooks=hooks_for(spec) if hooks is None else hooks,
    )
    strategy = strategy_for(spec)
    match inp:
        case ToolSucceeded() | ToolFailed() if inp.call_id in state.pending:
            on_fn_result(spec, d, inp, strategy)
        case Start():
            begin(spec, d, inp)
            if not ask_recall(spec, d, inp):
                begin_run(spec, d, inp)
        case ChildFinished():
            merge_child(d.state.tool_state, inp.state)  # a child sharing the run's state
            strategy.child_finished(spec, d, inp)
        case Resume():
            on_resume(spec, d, strategy.resume)
        case Stop():
            strategy.stop(spec, d)
            if not d.state.terminal:
                control_children(d, "stop")  # members at work end now, not on their own
        case _:
            handler = strategy.inputs.get(type(inp)) or SHARED.get(type(inp))
            if handler is None:
                raise refuse(spec, inp.kind)
            handler(spec, d, inp)
    return d


def link_child(state: ExecState, link: str, child_id: str) -> None:
    """Record the id the driver gave a child started for ``link`` (see StartChild)."""
    if link.startswith("team:"):
        state.children[child_id] = link[len("team:") :]
    elif link.startswith("step:"):
        state.step_child = child_id
    elif link in state.calls:
        state.calls[link].child_id = child_id
