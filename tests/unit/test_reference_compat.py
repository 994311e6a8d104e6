"""Issue 17: what reference users rely on beyond the names — ``@agent`` functions,
termination and handoff conditions that answer False to malformed input, and a testing
toolkit (``mock_run``, ``expect``, the strategy validators, ``CorrectnessEval``) that
works on duck-typed agents."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from agentspan.agents import (
    Agent,
    AgentDef,
    AgentResult,
    MaxMessageTermination,
    OnTextMention,
    OnToolResult,
    StopMessageTermination,
    TextMentionTermination,
    TokenUsageTermination,
    agent,
    tool,
)
from agentspan.agents.testing import (
    CorrectnessEval,
    EvalCase,
    MockEvent,
    StrategyViolation,
    expect,
    mock_run,
    validate_strategy,
)
from agentspan.agents.testing.strategy_validators import (
    validate_constrained_transitions,
    validate_handoff,
    validate_parallel,
    validate_round_robin,
    validate_router,
    validate_sequential,
    validate_swarm,
)

# --- @agent / AgentDef -------------------------------------------------------------------


@tool
def lookup(order: str) -> str:
    """Look an order up."""
    return f"order {order}"


@agent(model="openai/gpt-4o", tools=[lookup])
def clerk() -> None:
    """You answer questions about orders."""


@agent
def writer() -> str:
    return "You write short replies."


def test_an_agent_function_keeps_working_and_carries_its_definition() -> None:
    definition = clerk._agent_def  # type: ignore[attr-defined]
    assert isinstance(definition, AgentDef) and definition.name == "clerk"
    assert clerk() is None  # still the function
    built = definition.to_agent()
    assert isinstance(built, Agent) and built.model == "openai/gpt-4o" and built.tools == [lookup]
    # The docstring is what a docstring-only function meant (the reference sends nothing).
    assert built.instructions == "You answer questions about orders."
    assert writer._agent_def.to_agent().instructions == "You write short replies."  # type: ignore[attr-defined]


def test_agent_functions_are_sub_agents_that_take_the_parents_model() -> None:
    team = Agent(name="team", model="anthropic/claude-sonnet-4", agents=[clerk, writer])
    assert [(a.name, a.model) for a in team.agents] == [
        ("clerk", "openai/gpt-4o"),
        ("writer", "anthropic/claude-sonnet-4"),
    ]


def test_an_unknown_agent_option_is_refused_at_decoration() -> None:
    with pytest.raises(TypeError, match="unexpected option.*colour"):
        agent(colour="blue")


# --- conditions on malformed input --------------------------------------------------------

MALFORMED: list[Any] = [
    None,
    5,
    "text",
    {"result": 5},
    {"messages": 3},
    {"iteration": "many"},
    {"token_usage": "lots"},
    {"token_usage": {"total_tokens": "many"}},
    {"result": None, "messages": None},
]


@pytest.mark.parametrize("context", MALFORMED, ids=repr)
def test_termination_conditions_answer_false_to_malformed_input(context: Any) -> None:
    conditions = [
        TextMentionTermination("DONE"),
        StopMessageTermination(),
        MaxMessageTermination(2),
        TokenUsageTermination(max_total_tokens=10),
        TextMentionTermination("DONE") | MaxMessageTermination(2),
        TextMentionTermination("DONE") & TokenUsageTermination(max_total_tokens=10),
    ]
    assert [c.should_terminate(context).should_terminate for c in conditions] == [False] * 6
    assert not OnToolResult("x", tool_name="t").should_handoff(context)
    assert not OnTextMention("x", text="DONE").should_handoff(context)


def test_well_formed_input_still_triggers() -> None:
    assert MaxMessageTermination(2).should_terminate({"messages": [{}, {}]}).should_terminate
    assert MaxMessageTermination(2).should_terminate({"iteration": "3"}).should_terminate
    usage = TokenUsageTermination(max_total_tokens=10).should_terminate({"token_usage": {"total_tokens": 12}})
    assert usage.should_terminate and "12" in usage.reason


# --- the testing toolkit on duck-typed agents ---------------------------------------------


def _duck(name: str, **fields: Any) -> SimpleNamespace:
    base: dict[str, Any] = {"name": name, "agents": [], "tools": [], "strategy": "handoff"}
    return SimpleNamespace(**{**base, **fields})


def test_mock_run_and_expect_work_on_an_object_shaped_like_an_agent() -> None:
    duck = _duck("shop", tools=[lookup])
    result = mock_run(
        duck, "where is A1?", [MockEvent.tool_call("lookup", {"order": "A1"}), MockEvent.done("ok")]
    )
    expect(result).completed().used_tool("lookup", args={"order": "A1"}).output_contains("ok")
    assert result.tool_calls[0]["result"] == "order A1"


def _handoffs(*targets: str) -> AgentResult:
    return mock_run(_duck("x"), "go", [*(MockEvent.handoff(t) for t in targets), MockEvent.done("ok")])


def test_the_strategy_validators_take_duck_typed_agents() -> None:
    team = _duck("team", agents=[_duck("a"), _duck("b")], strategy="sequential", max_turns=5)
    validate_strategy(team, _handoffs("a", "b"))
    validate_sequential(team, _handoffs("a", "b"))
    with pytest.raises(StrategyViolation) as wrong_order:
        validate_strategy(team, _handoffs("b", "a"))
    assert wrong_order.value.strategy == "sequential" and "order" in str(wrong_order.value)
    validate_parallel(team, _handoffs("b", "a"))  # any order will do for a parallel team
    with pytest.raises(StrategyViolation, match="did not run"):
        validate_parallel(team, _handoffs("a"))
    validate_round_robin(team, _handoffs("a", "b", "a"))
    with pytest.raises(StrategyViolation, match="two turns in a row"):
        validate_round_robin(team, _handoffs("a", "a"))
    validate_router(team, _handoffs("b"))
    with pytest.raises(StrategyViolation, match="exactly one"):
        validate_router(team, _handoffs("a", "b"))
    validate_handoff(team, _handoffs("a"))
    with pytest.raises(StrategyViolation, match="no handoff"):
        validate_handoff(team, _handoffs())
    validate_swarm(team, _handoffs("a", "b"))
    with pytest.raises(StrategyViolation, match="ping-ponging"):
        validate_swarm(team, _handoffs("a", "b", "a", "b", "a", "b", "a"))


def test_constrained_transitions_are_checked_on_their_own() -> None:
    team = _duck("team", agents=[_duck("a"), _duck("b")], allowed_transitions={"a": ["b"], "b": []})
    validate_constrained_transitions(team, _handoffs("a", "b"))
    with pytest.raises(StrategyViolation, match="'b' -> 'a' is not allowed"):
        validate_constrained_transitions(team, _handoffs("a", "b", "a"))


def test_correctness_eval_runs_duck_typed_agents_on_a_duck_typed_runtime() -> None:
    class Runtime:
        def run(self, agent: Any, prompt: str) -> AgentResult:
            return mock_run(agent, prompt, [MockEvent.handoff("a"), MockEvent.done("Order A1 shipped")])

    team = _duck("team", agents=[_duck("a")], strategy="handoff")
    cases = [
        EvalCase(
            name="ok", agent=team, prompt="ship", expect_output_contains="order a1", expect_handoff_to="a"
        ),
        EvalCase(name="bad", agent=team, prompt="ship", expect_output_contains="refund"),
    ]
    suite = CorrectnessEval(Runtime()).run(cases)
    assert [c.passed for c in suite.cases] == [True, False]
    assert "orchestration" in [c.check for c in suite.cases[0].checks]
