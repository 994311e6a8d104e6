"""The strategies, one module each, and the registry ``decide`` picks one from."""

from __future__ import annotations

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.specs import is_pipeline, is_team
from agentspan.server.engine.strategies import (
    graph,
    handoff,
    manual,
    parallel,
    plan_execute,
    round_robin,
    router,
    sequential,
    swarm,
    user_proxy,
)
from agentspan.server.engine.strategies.base import Strategy

STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        handoff.STRATEGY,
        sequential.STRATEGY,
        parallel.STRATEGY,
        router.STRATEGY,
        round_robin.ROUND_ROBIN,
        round_robin.RANDOM,
        swarm.STRATEGY,
        manual.STRATEGY,
        plan_execute.STRATEGY,
    )
}
"""Every strategy by name; a new one is a module plus a line here."""


def strategy_for(spec: AgentConfig) -> Strategy:
    """The strategy that runs ``spec``: its team strategy, a pipeline, a person (a user
    proxy), a LangGraph graph, or else the agent loop (which hands over to sub-agents when it has any)."""
    if is_team(spec):
        return STRATEGIES[str(spec.strategy)]
    if user_proxy.is_user_proxy(spec):
        return user_proxy.STRATEGY
    if graph.is_graph(spec):
        return graph.STRATEGY
    if is_pipeline(spec):
        return sequential.STRATEGY
    return handoff.STRATEGY


__all__ = ["STRATEGIES", "Strategy", "strategy_for"]
