"""``agentspan.agents.testing.strategy_validators``: does a run follow its strategy?"""

from agentspan.agents.testing._strategy import (
    StrategyViolation,
    validate_constrained_transitions,
    validate_handoff,
    validate_parallel,
    validate_round_robin,
    validate_router,
    validate_sequential,
    validate_strategy,
    validate_swarm,
)

__all__ = [
    "StrategyViolation",
    "validate_constrained_transitions",
    "validate_handoff",
    "validate_parallel",
    "validate_round_robin",
    "validate_router",
    "validate_sequential",
    "validate_strategy",
    "validate_swarm",
]
