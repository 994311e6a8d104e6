"""Forks: run an execution again from one of its model calls.

A **step** is an event of the execution's log, numbered by its ``seq`` (the ids the
timeline, ``agentspan show`` and the SSE stream show). A fork starts from a step that is
one of the agent's own model calls (an ``llm_call`` event without a ``purpose``): the new
execution gets a copy of every event before it (same numbers), the conversation as that
model call saw it, and makes that model call again, with the spec's instructions or
model replaced if asked. So no model call or tool call before the fork point runs
again, an approval answered before it stays answered, and what those steps spent is
shown as inherited usage, never added to the fork's usage, budget or metrics.

Refused with ``invalid_fork_point`` (400): a step that does not exist or is no model call
of the agent, a sub-execution (fork its root), a team or pipeline (their strategy state
is not rebuilt from events yet), and model calls recorded before forks existed (their
event does not say where the conversation stood).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from agentspan.protocol.api import (
    ForkLink,
    ForkRequest,
    ForkResponse,
    StartRequest,
    TokenUsageWire,
)
from agentspan.protocol.spec import AgentConfig
from agentspan.server.driver import Driver
from agentspan.server.engine.model import Fork
from agentspan.server.engine.strategies.user_proxy import is_user_proxy
from agentspan.server.errors import InvalidForkPoint, not_found
from agentspan.server.service.limits import Limits, ModelProblem, check_start
from agentspan.server.service.queries import state_of
from agentspan.server.store.base import EventRow, ExecutionRow

_CALL_NUMBER = re.compile(r"c(\d+)")
_HINT_EVENTS = 10_000
"""How far a refusal looks for the model call steps it suggests."""


class Forks:
    """``fork``, and the links a detail shows (``links_of``)."""

    def __init__(self, driver: Driver, limits: Limits, model_problem: ModelProblem | None) -> None:
        self.driver = driver
        self.store = driver.store
        self.limits = limits
        self.model_problem = model_problem

    async def fork(self, execution_id: str, req: ForkRequest) -> ForkResponse:
        origin = await self.store.get_execution(execution_id)
        if origin is None:
            raise not_found(execution_id)
        spec = await self.driver.spec_of(origin)
        _check_forkable(origin, spec)
        step = req.from_step
        events = await self.store.list_events(origin.id, 0, step)
        point = events[step - 1] if len(events) >= step else None
        data = _model_call_data(point)
        if point is None or data is None:
            every = await self.store.list_events(origin.id, 0, _HINT_EVENTS)
            raise InvalidForkPoint(_not_a_model_call(step, point, every))
        if not isinstance(data.get("messageCount"), int) or not isinstance(data.get("turn"), int):
            raise InvalidForkPoint(
                f"step {step} was recorded by a server without forks: it does not say where the "
                "conversation stood, so it cannot be run again"
            )
        new_spec = _edited(spec, req)
        state = state_of(origin)
        check_start(StartRequest(agent_config=new_spec, prompt=state.prompt), self.limits, self.model_problem)
        copied = events[: step - 1]
        messages = (await self.store.list_messages(origin.id))[: data["messageCount"]]
        fork = Fork(
            prompt=state.prompt,
            now=time.time(),
            seed=state.seed,
            # The origin's timeout (from its start request or spec), counted from now.
            timeout_seconds=state.deadline - origin.created_at if state.deadline else None,
            messages=messages,
            turn=data["turn"],
            call_counter=_calls_before(copied),
            origin_id=origin.id,
            from_step=step,
        )
        budget = await self.store.get_budget(origin.root_id)
        row = await self.driver.start_fork(new_spec, origin, fork, copied, budget)
        return ForkResponse(
            execution_id=row.id,
            agent_name=row.agent_name,
            forked_from=ForkLink(execution_id=origin.id, step=step),
            inherited_usage=inherited_usage(copied),
        )

    async def origin_of(self, execution_id: str) -> ForkLink | None:
        """Where ``execution_id`` was forked from (one primary-key read)."""
        own = await self.store.fork_of(execution_id)
        return ForkLink(execution_id=own.origin_id, step=own.from_step) if own else None

    async def links_of(self, execution_id: str) -> tuple[ForkLink | None, list[ForkLink]]:
        """Where ``execution_id`` was forked from, and the forks made from it."""
        own = await self.store.fork_of(execution_id)
        made = await self.store.forks_from(execution_id)
        origin = ForkLink(execution_id=own.origin_id, step=own.from_step) if own else None
        return origin, [ForkLink(execution_id=f.execution_id, step=f.from_step) for f in made]


def inherited_usage(events: list[EventRow]) -> TokenUsageWire:
    """The tokens and cost of the model calls among ``events`` (a fork's copied steps)."""
    total = TokenUsageWire(cost_usd=0.0)
    for event in events:
        if event.type != "llm_call":
            continue
        data = json.loads(event.payload).get("data") or {}
        prompt, completion = int(data.get("promptTokens", 0)), int(data.get("completionTokens", 0))
        total.prompt_tokens += prompt
        total.completion_tokens += completion
        total.total_tokens += prompt + completion
        total.cached_tokens += int(data.get("cachedTokens", 0))
        total.reasoning_tokens += int(data.get("reasoningTokens", 0))
        cost = data.get("costUsd")
        total.cost_usd = None if cost is None or total.cost_usd is None else round(total.cost_usd + cost, 8)
    return total


def _check_forkable(origin: ExecutionRow, spec: AgentConfig) -> None:
    if origin.parent_id is not None:
        raise InvalidForkPoint(
            f"execution {origin.id} is a sub-execution of {origin.parent_id}: fork the execution "
            f"it belongs to (its root, {origin.root_id})"
        )
    if spec.agents or is_user_proxy(spec):
        raise InvalidForkPoint(
            f"agent '{spec.name}' runs sub-agents (or waits for a person): only single-agent "
            "executions can be forked yet"
        )


def _model_call_data(event: EventRow | None) -> dict[str, Any] | None:
    """The ``data`` of ``event`` if it is one of the agent's own model calls."""
    if event is None or event.type != "llm_call":
        return None
    data = json.loads(event.payload).get("data") or {}
    return data if isinstance(data, dict) and data.get("purpose") is None else None


def _not_a_model_call(step: int, point: EventRow | None, events: list[EventRow]) -> str:
    """Why ``step`` is refused, with the steps that would do (``events``: the log)."""
    choices = [str(e.seq) for e in events if _model_call_data(e) is not None]
    shown = ", ".join(choices[:20]) + (", ..." if len(choices) > 20 else "")
    hint = f"; its model call steps are {shown}" if choices else "; it has no model call step"
    if point is None:
        return f"step {step} does not exist (the execution has {len(events)} steps){hint}"
    return f"step {step} is a '{point.type}' event, not a model call of the agent{hint}"


def _calls_before(events: list[EventRow]) -> int:
    """The highest call number (``c<n>``) among ``events``: the fork numbers its calls on."""
    highest = 0
    for event in events:
        if event.type in ("tool_call", "tool_result"):
            match = _CALL_NUMBER.fullmatch(str(json.loads(event.payload).get("call_id", "")))
            if match:
                highest = max(highest, int(match.group(1)))
    return highest


def _edited(spec: AgentConfig, req: ForkRequest) -> AgentConfig:
    changes: dict[str, Any] = {}
    if req.instructions is not None:
        changes["instructions"] = req.instructions
    if req.model is not None:
        changes["model"] = req.model
    return spec.model_copy(update=changes) if changes else spec
