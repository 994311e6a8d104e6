"""``manual``: a human picks who speaks next (``respond({"selected": name})``)."""

from __future__ import annotations

from typing import Any

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import ChildFinished, EventDraft, Rejected, Selection, Start
from agentspan.server.engine.steps import Step
from agentspan.server.engine.strategies.base import Strategy
from agentspan.server.engine.strategies.members import (
    begin_team,
    conversation,
    finish_team,
    names,
    nothing_held,
    on_member_finished,
    record_turn,
    run_member,
    stop_team,
    transcript_output,
)


def selection_pending(spec: AgentConfig) -> dict[str, Any]:
    """The ``pendingTool`` document of the choice (shown in status and events)."""
    options = names(spec)
    return {
        "taskRefName": "select_agent",
        "tool_name": "select_agent",
        "parameters": {"options": options},
        "kind": "selection",
        "response_schema": {
            "type": "object",
            "properties": {"selected": {"type": ["string", "null"], "enum": [*options, None]}},
            "required": ["selected"],
        },
    }


def _await_selection(spec: AgentConfig, d: Step) -> None:
    s = d.state
    if s.team_turn >= spec.max_turns:
        finish_team(spec, d, "max_turns")
        return
    s.selecting = True
    s.pending_choice = selection_pending(spec)
    d.events.append(
        EventDraft(
            "waiting",
            {
                "content": f"choose the next agent: {', '.join(names(spec))}",
                "pending_tool": selection_pending(spec),
            },
        )
    )


def start(spec: AgentConfig, d: Step, inp: Start) -> None:
    begin_team(spec, d)
    _await_selection(spec, d)


def on_selection(spec: AgentConfig, d: Step, inp: Selection) -> None:
    s = d.state
    if not s.selecting:
        raise Rejected("not_waiting", "the execution is not waiting for an agent to be chosen")
    s.selecting = False
    s.pending_choice = None
    d.events.append(EventDraft("selection", {"target": inp.selected, "data": {"decidedBy": inp.decided_by}}))
    if inp.selected is None:
        finish_team(spec, d, "stop")
        return
    options = names(spec)
    choice = inp.selected if inp.selected in options else None
    if choice is None and inp.selected.isdigit() and int(inp.selected) < len(options):
        choice = options[int(inp.selected)]
    if choice is None:
        raise Rejected(
            "invalid_state", f"unknown agent {inp.selected!r}; choose one of: {', '.join(options)}"
        )
    run_member(spec, d, choice, conversation(spec, d, choice))


def member_finished(spec: AgentConfig, d: Step, inp: ChildFinished, name: str) -> None:
    record_turn(d, inp, name)
    if d.state.stop_requested:
        finish_team(spec, d, "stopped")
        return
    _await_selection(spec, d)


STRATEGY = Strategy(
    name="manual",
    start=start,
    child_finished=on_member_finished(member_finished, answer=transcript_output),
    resume=nothing_held,
    stop=stop_team,
    inputs={Selection: on_selection},
)
