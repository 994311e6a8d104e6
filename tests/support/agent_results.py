"""Agents and results for the unit tests of ``agentspan.agents.testing``
(tests/unit/test_testing_*.py): ``make`` and ``team`` build agents, ``result_of`` a result as a
live run would return it, ``ROUTED`` a run with one event of each kind worth asserting on, and
``Point`` a structured output (and tool argument)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from agentspan.agents import Agent, AgentEvent, AgentResult
from agentspan.agents.testing import MockEvent

MODEL = "openai/gpt-4o-mini"


class Point(BaseModel):
    x: int
    y: int


def make(name: str, **kwargs: Any) -> Agent:
    return Agent(name=name, model=kwargs.pop("model", MODEL), **kwargs)


def result_of(*events: AgentEvent, **fields: Any) -> AgentResult:
    """A result made of ``events`` (and any other fields), as a live run would return it."""
    done = [e.output for e in events if e.type == "done"]
    fields.setdefault("output", done[-1] if done else None)
    return AgentResult(events=list(events), **fields)


def team(strategy: str, *names: str, **kwargs: Any) -> Agent:
    return make("team", agents=[make(n) for n in names], strategy=strategy, **kwargs)


ROUTED = result_of(
    MockEvent.thinking("t"),
    MockEvent.guardrail_pass("pii"),
    MockEvent.handoff("billing"),
    MockEvent.tool_call("refund", {"order": 7}),
    MockEvent.tool_result("refund", "ok"),
    MockEvent.guardrail_fail("tone", "rude"),
    MockEvent.done("refunded"),
)
