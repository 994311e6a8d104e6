"""``validate_strategy``: does a multi-agent run follow its agent's strategy?

Every rule reads the HANDOFF events: our server emits one each time it starts a child
agent (a pipeline step or an agent called as a tool), with the child's name as target.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from agentspan._core.tool import ToolDef, get_tool_def
from agentspan.agents._agent import Agent, Strategy
from agentspan.agents._result import AgentResult
from agentspan.agents.testing._assertions import handoff_targets

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

# A transfer between the same two agents seen more often than this is ping-ponging.
_MAX_PAIR_REPEATS = 2


class StrategyViolation(AssertionError):
    """A run broke the rules of its agent's strategy; ``violations`` says how."""

    def __init__(self, strategy: str, violations: list[str]) -> None:
        self.strategy = strategy
        self.violations = list(violations)
        lines = "\n".join(f"  - {v}" for v in self.violations)
        super().__init__(f"strategy {strategy!r} violated:\n{lines}")


# The validators read agents duck-typed (``name``, ``agents``, ``max_turns``, ...), as the
# reference's do: a test may pass any object shaped like an agent.
def _subs(agent: Any) -> list[Any]:
    return list(getattr(agent, "agents", None) or [])


def _sub_names(agent: Any) -> list[str]:
    return [str(getattr(sub, "name", sub)) for sub in _subs(agent)]


def _max_turns(agent: Any) -> int:
    value = getattr(agent, "max_turns", 25)
    return value if isinstance(value, int) else 25


def _listed(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names) or "none"


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _sequential(agent: Any, targets: list[str]) -> list[str]:
    names = _sub_names(agent)
    ran = [t for t in targets if t in names]
    problems = []
    missing = [n for n in names if n not in ran]
    if missing:
        problems.append(f"sub-agent(s) {_listed(missing)} did not run")
    repeated = sorted(n for n, count in Counter(ran).items() if count > 1)
    if repeated:
        problems.append(f"sub-agent(s) {_listed(repeated)} ran more than once")
    order = _unique(ran)
    if order != [n for n in names if n in order]:
        problems.append(f"sub-agents ran in the order [{_listed(order)}], not as defined [{_listed(names)}]")
    return problems


def _parallel(agent: Any, targets: list[str]) -> list[str]:
    missing = [n for n in _sub_names(agent) if n not in targets]
    return [f"sub-agent(s) {_listed(missing)} did not run"] if missing else []


def _round_robin(agent: Any, targets: list[str]) -> list[str]:
    names = _sub_names(agent)
    ran = [t for t in targets if t in names]
    problems = []
    missing = [n for n in names if n not in ran]
    if missing:
        problems.append(f"sub-agent(s) {_listed(missing)} never took a turn")
    if len(names) > 1:
        for i in range(1, len(ran)):
            if ran[i] == ran[i - 1]:
                problems.append(f"{ran[i]!r} took two turns in a row (turns {i} and {i + 1})")
                break
    for i, name in enumerate(ran):
        expected = names[i % len(names)]
        if name != expected:
            problems.append(f"turn {i + 1} went to {name!r}; the rotation expects {expected!r}")
            break
    if len(ran) > _max_turns(agent):
        problems.append(f"{len(ran)} turns exceed max_turns={_max_turns(agent)}")
    return problems


def _router(agent: Any, targets: list[str]) -> list[str]:
    names = _sub_names(agent)
    chosen = _unique([t for t in targets if t in names])
    if not chosen:
        return [f"the router selected no sub-agent (sub-agents: {_listed(names)})"]
    if len(chosen) > 1:
        return [f"the router must select exactly one sub-agent, but {_listed(chosen)} ran"]
    return []


def _handoff(agent: Any, targets: list[str]) -> list[str]:
    names = _sub_names(agent)
    if not any(t in names for t in targets):
        return [f"no handoff to any sub-agent (sub-agents: {_listed(names)})"]
    return []


def _swarm(agent: Any, targets: list[str]) -> list[str]:
    names = _sub_names(agent)
    # A parent with a model takes part as the first member, so transfers may involve it.
    ran = [t for t in targets if t in names or t == getattr(agent, "name", None)]
    if not ran:
        return [f"no sub-agent ran (sub-agents: {_listed(names)})"]
    problems = []
    for (source, target), count in Counter(zip(ran, ran[1:], strict=False)).items():
        if count > _MAX_PAIR_REPEATS:
            problems.append(
                f"the transfer {source!r} -> {target!r} happened {count} times "
                f"(more than {_MAX_PAIR_REPEATS}: the agents are ping-ponging)"
            )
    if len(ran) > _max_turns(agent):
        problems.append(f"{len(ran)} transfers exceed max_turns={_max_turns(agent)}")
    return problems


_VALIDATORS: dict[Strategy, Callable[[Any, list[str]], list[str]]] = {
    Strategy.SEQUENTIAL: _sequential,
    Strategy.PARALLEL: _parallel,
    Strategy.ROUND_ROBIN: _round_robin,
    Strategy.ROUTER: _router,
    Strategy.HANDOFF: _handoff,
    Strategy.SWARM: _swarm,
}


def _transitions(agent: Any, targets: list[str]) -> list[str]:
    """Each consecutive pair of handoff targets must be allowed.

    An agent missing from ``allowed_transitions`` is unconstrained. The parent counts as
    the start of the chain only when the map constrains it too.
    """
    allowed = getattr(agent, "allowed_transitions", None) or {}
    name = getattr(agent, "name", "")
    chain = ([name] if name in allowed else []) + targets
    problems = []
    for source, target in zip(chain, chain[1:], strict=False):
        if source in allowed and target not in allowed[source]:
            problems.append(
                f"transition {source!r} -> {target!r} is not allowed "
                f"(from {source!r} only: {_listed(list(allowed[source]))})"
            )
    return problems


def _known_agents(agent: Any) -> set[str]:
    """Names a handoff of ``agent`` may target: sub-agents, agent tools, an Agent router."""
    names = set(_sub_names(agent))
    if getattr(agent, "strategy", None) in (Strategy.SWARM, Strategy.PLAN_EXECUTE):
        names.add(getattr(agent, "name", ""))  # the parent takes part (first member; planner and summariser)
    router = getattr(agent, "router", None)
    if isinstance(router, Agent):
        names.add(router.name)
    for item in getattr(agent, "tools", None) or []:
        try:
            definition: ToolDef = get_tool_def(item)
        except TypeError:
            continue
        child = definition.config.get("agent")
        if definition.tool_type == "agent_tool" and isinstance(child, Agent):
            names.add(child.name)
    return names


def _strategy_of(agent: Any) -> Strategy | None:
    try:
        return Strategy(getattr(agent, "strategy", Strategy.HANDOFF))
    except ValueError:
        return None


def _raise(strategy: Any, problems: list[str]) -> None:
    if problems:
        raise StrategyViolation(str(getattr(strategy, "value", strategy)), problems)


def _one(strategy: Strategy) -> Callable[[Any, AgentResult], None]:
    rule = _VALIDATORS[strategy]

    def validate(agent: Any, result: AgentResult) -> None:
        _raise(strategy, rule(agent, handoff_targets(result)))

    validate.__name__ = validate.__qualname__ = f"validate_{strategy.value}"
    validate.__doc__ = (
        f"Check ``result`` against the {strategy.value} rules only (see ``validate_strategy``), "
        "whatever ``agent.strategy`` says; raises ``StrategyViolation``."
    )
    return validate


validate_sequential = _one(Strategy.SEQUENTIAL)
validate_parallel = _one(Strategy.PARALLEL)
validate_round_robin = _one(Strategy.ROUND_ROBIN)
validate_router = _one(Strategy.ROUTER)
validate_handoff = _one(Strategy.HANDOFF)
validate_swarm = _one(Strategy.SWARM)


def validate_constrained_transitions(agent: Any, result: AgentResult) -> None:
    """Each consecutive pair of handoff targets must be allowed by ``allowed_transitions``;
    raises ``StrategyViolation``."""
    _raise("constrained_transitions", _transitions(agent, handoff_targets(result)))


def validate_strategy(agent: Any, result: AgentResult) -> None:
    """Check ``result`` against ``agent``'s strategy and ``allowed_transitions``.

    Rules: sequential — every sub-agent ran once, in definition order; parallel — every
    sub-agent ran; round_robin — all took turns, in rotation, never twice in a row, at most
    ``max_turns``; router — exactly one sub-agent was selected; handoff — at least one
    handoff to a sub-agent; swarm — at least one sub-agent ran, no transfer between the same
    pair more than twice, at most ``max_turns`` transfers. A handoff to an agent that is
    neither a sub-agent nor an agent tool is reported for every strategy. ``random`` and
    ``manual`` have no rules of their own; an agent without sub-agents has no strategy rules.

    Raises:
        StrategyViolation: (an ``AssertionError``) listing every rule broken.
    """
    strategy = _strategy_of(agent)
    targets = handoff_targets(result)
    problems: list[str] = []
    if _subs(agent):
        known = _known_agents(agent)
        strangers = [t for t in _unique(targets) if t not in known]
        if strangers:
            problems.append(
                f"handoff to {_listed(strangers)}, not an agent of {getattr(agent, 'name', '')!r}"
            )
        validator = _VALIDATORS.get(strategy) if strategy is not None else None
        if validator is not None:
            problems.extend(validator(agent, targets))
    if getattr(agent, "allowed_transitions", None) is not None:
        problems.extend(_transitions(agent, targets))
    _raise(strategy if strategy is not None else getattr(agent, "strategy", ""), problems)
