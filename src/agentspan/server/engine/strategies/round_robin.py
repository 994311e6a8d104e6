"""``round_robin`` and ``random``: sub-agents take turns on a shared transcript until
``max_turns``, a termination condition or ``stop_when`` says stop. One algorithm; only
the pick of the next speaker differs."""

from __future__ import annotations

import random
from collections.abc import Callable

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.conditions import TerminationContext, should_terminate
from agentspan.server.engine.functions import call_fn, fn_answer
from agentspan.server.engine.model import (
    ChildFinished,
    EventDraft,
    ExecState,
    PendingFn,
    Start,
    ToolFailed,
    ToolSucceeded,
)
from agentspan.server.engine.session_state import stopped_by_state
from agentspan.server.engine.steps import Step
from agentspan.server.engine.strategies.base import Strategy
from agentspan.server.engine.strategies.members import (
    begin_team,
    conversation,
    finish_team,
    names,
    on_member_finished,
    record_turn,
    run_member,
    stop_team,
    transcript_messages,
    transcript_output,
)

Picker = Callable[[AgentConfig, ExecState, list[str]], str]
"""Chooses the next speaker among the allowed ones."""


def _in_turn(spec: AgentConfig, s: ExecState, allowed: list[str]) -> str:
    everyone = names(spec)
    name = everyone[s.team_turn % len(everyone)]
    return name if name in allowed else allowed[0]


def _at_random(spec: AgentConfig, s: ExecState, allowed: list[str]) -> str:
    # Derived from the seed drawn at start, so a replay picks the same speakers.
    return allowed[random.Random(s.seed * 1_000_003 + s.team_turn).randrange(len(allowed))]


def _allowed_next(spec: AgentConfig, last: str | None) -> list[str]:
    everyone = names(spec)
    transitions = spec.allowed_transitions
    if last is None or transitions is None or last not in transitions:
        return everyone
    allowed = [n for n in everyone if n in transitions[last]]
    return allowed or everyone


def _next_turn(spec: AgentConfig, d: Step, pick: Picker) -> None:
    s = d.state
    if s.paused:
        s.llm_due = True  # resumed later
        return
    if s.stop_requested:
        finish_team(spec, d, "stopped")
        return
    if s.team_turn >= spec.max_turns:
        finish_team(spec, d, "max_turns")
        return
    last = s.transcript[-1]["agent"] if s.transcript else None
    allowed = _allowed_next(spec, last if last in names(spec) else None)
    name = pick(spec, s, allowed)
    run_member(spec, d, name, conversation(spec, d, name))


def _turn_finished(spec: AgentConfig, d: Step, inp: ChildFinished, name: str, pick: Picker) -> None:
    s = d.state
    text = record_turn(d, inp, name)
    ctx = TerminationContext(
        result=text,
        message_count=len(s.transcript),
        iteration=s.team_turn,
        prompt_tokens=s.usage.prompt_tokens,
        completion_tokens=s.usage.completion_tokens,
        total_tokens=s.usage.total_tokens,
    )
    reason = should_terminate(spec.termination, ctx)
    if reason is None and stopped_by_state(spec, s.tool_state):
        reason = f"'{spec.session_state.stop_key if spec.session_state else ''}' was set in the state"
    if reason is not None:
        d.events.append(EventDraft("terminated", {"content": reason}))
        finish_team(spec, d, "termination")
        return
    if spec.stop_when is not None:
        args = {
            "result": text,
            "messages": transcript_messages(d),
            "iteration": s.team_turn,
            "token_usage": s.usage.model_dump(),
        }
        call_fn(d, "stop_when", spec.stop_when.task_name, args)
        return
    _next_turn(spec, d, pick)


def _turns(name: str, pick: Picker) -> Strategy:
    def start(spec: AgentConfig, d: Step, inp: Start) -> None:
        begin_team(spec, d)
        _next_turn(spec, d, pick)

    def resume(spec: AgentConfig, d: Step) -> None:
        d.state.llm_due = False
        _next_turn(spec, d, pick)

    def turn_finished(spec: AgentConfig, d: Step, inp: ChildFinished, member: str) -> None:
        _turn_finished(spec, d, inp, member, pick)

    def on_stop_when(spec: AgentConfig, d: Step, fn: PendingFn, inp: ToolSucceeded | ToolFailed) -> None:
        if fn_answer(inp, "should_stop", False):
            d.events.append(EventDraft("terminated", {"content": "stop_when returned true"}))
            finish_team(spec, d, "stop_when")
        else:
            _next_turn(spec, d, pick)

    return Strategy(
        name=name,
        start=start,
        child_finished=on_member_finished(turn_finished, answer=transcript_output),
        resume=resume,
        stop=stop_team,
        fn_results={"stop_when": on_stop_when},
    )


ROUND_ROBIN = _turns("round_robin", _in_turn)
RANDOM = _turns("random", _at_random)
