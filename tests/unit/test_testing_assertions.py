"""Assertions over an ``AgentResult`` from ``agentspan.agents.testing``: the tool, output,
status, event, guardrail and turn assertions, the ``expect`` chain, and ``validate_strategy``
checking a run against its team's strategy. Results are built by hand (``result_of``) rather
than run; running them is in ``test_testing_toolkit.py``.
"""

from __future__ import annotations

import re

import pytest

from agentspan.agents import Agent, AgentEvent, AgentResult, EventType, Status, agent_tool
from agentspan.agents.testing import (
    AgentResultExpectation,
    MockEvent,
    StrategyViolation,
    assert_agent_ran,
    assert_event_sequence,
    assert_events_contain,
    assert_guardrail_failed,
    assert_guardrail_passed,
    assert_handoff_to,
    assert_max_turns,
    assert_no_errors,
    assert_output_contains,
    assert_output_matches,
    assert_output_type,
    assert_status,
    assert_tool_call_order,
    assert_tool_called_with,
    assert_tool_not_used,
    assert_tool_used,
    assert_tools_used_exactly,
    expect,
    validate_strategy,
)
from agentspan.agents.testing._assertions import count_turns

from support.agent_results import ROUTED, Point, make, result_of, team


def handoffs(*targets: str) -> AgentResult:
    return result_of(*(MockEvent.handoff(t) for t in targets), MockEvent.done("ok"))


# --------------------------------------------------------------------------- tool assertions


SEARCHED = result_of(
    MockEvent.tool_call("search", {"q": "paris", "limit": 3}),
    MockEvent.tool_call("fetch", {"url": "u"}),
    MockEvent.tool_call("search", {"q": "rome"}),
    MockEvent.done("Paris is nice"),
)


def test_assert_tool_used() -> None:
    assert_tool_used(SEARCHED, "search")
    with pytest.raises(
        AssertionError, match=r"expected tool 'book' to be used; tools used: \['search', 'fetch'"
    ):
        assert_tool_used(SEARCHED, "book")


def test_assert_tool_not_used() -> None:
    assert_tool_not_used(SEARCHED, "book")
    with pytest.raises(AssertionError, match="'search' not to be used, but it was called 2 time"):
        assert_tool_not_used(SEARCHED, "search")


def test_assert_tool_called_with() -> None:
    assert_tool_called_with(SEARCHED, "search", args={"q": "rome"})
    assert_tool_called_with(SEARCHED, "search", args={"q": "paris", "limit": 3})
    assert_tool_called_with(SEARCHED, "fetch")
    with pytest.raises(AssertionError, match=r"call to 'search' with arguments including \{'q': 'oslo'\}"):
        assert_tool_called_with(SEARCHED, "search", args={"q": "oslo"})
    with pytest.raises(AssertionError, match="including"):
        assert_tool_called_with(SEARCHED, "search", args={"missing": None})
    with pytest.raises(AssertionError, match="'book' to be used"):
        assert_tool_called_with(SEARCHED, "book", args={"q": "x"})


def test_assert_tool_call_order() -> None:
    assert_tool_call_order(SEARCHED, ["search", "fetch"])
    assert_tool_call_order(SEARCHED, ["search", "search"])
    assert_tool_call_order(SEARCHED, [])
    with pytest.raises(AssertionError, match=r"'search' \(position 2\) was not called after"):
        assert_tool_call_order(SEARCHED, ["fetch", "search", "search"])


def test_assert_tools_used_exactly() -> None:
    assert_tools_used_exactly(SEARCHED, ["fetch", "search"])
    with pytest.raises(AssertionError, match=r"not used: \['book'\]; unexpected: \['fetch'\]"):
        assert_tools_used_exactly(SEARCHED, ["search", "book"])


def test_tool_assertions_prefer_result_tool_calls() -> None:
    # A live result carries the server's call list; events alone are the fallback.
    live = AgentResult(tool_calls=[{"name": "lookup", "args": {"id": 1}}])
    assert_tool_called_with(live, "lookup", args={"id": 1})


# --------------------------------------------------------------------------- output and status


def test_assert_output_contains() -> None:
    assert_output_contains(SEARCHED, "Paris")
    assert_output_contains(SEARCHED, "paris", case_sensitive=False)
    with pytest.raises(AssertionError, match="to contain 'paris'; output: 'Paris is nice'"):
        assert_output_contains(SEARCHED, "paris")
    with pytest.raises(AssertionError, match=r"'rome' \(ignoring case\)"):
        assert_output_contains(SEARCHED, "rome", case_sensitive=False)


def test_assert_output_matches() -> None:
    assert_output_matches(SEARCHED, r"^Paris\b")
    assert_output_matches(SEARCHED, re.compile("NICE", re.IGNORECASE))
    with pytest.raises(AssertionError, match=r"to match /\\d\+/"):
        assert_output_matches(SEARCHED, r"\d+")


def test_assert_output_type() -> None:
    assert_output_type(SEARCHED, str)
    assert_output_type(AgentResult(output=Point(x=1, y=2)), Point)
    assert_output_type(AgentResult(output=3), (str, int))
    with pytest.raises(AssertionError, match="expected output of type dict, got str: 'Paris is nice'"):
        assert_output_type(SEARCHED, dict)
    with pytest.raises(AssertionError, match="of type int | float, got str"):
        assert_output_type(SEARCHED, (int, float))


def test_assert_status() -> None:
    assert_status(SEARCHED, "COMPLETED")
    assert_status(SEARCHED, Status.COMPLETED)
    failed = AgentResult(status="FAILED", error="model call failed")
    with pytest.raises(
        AssertionError, match="expected status 'COMPLETED', got 'FAILED' \\(error: model call failed\\)"
    ):
        assert_status(failed, "COMPLETED")


def test_assert_no_errors() -> None:
    assert_no_errors(SEARCHED)
    failed = result_of(MockEvent.error("timeout"), MockEvent.error("again"))
    with pytest.raises(AssertionError, match=r"no error events, found 2: \['timeout', 'again'\]"):
        assert_no_errors(failed)


# --------------------------------------------------------------------------- event assertions


# ROUTED (support/agent_results.py): thinks, passes a guardrail, hands off to billing, calls
# and gets a refund tool result, fails a guardrail, and is done.


def test_assert_events_contain() -> None:
    assert_events_contain(ROUTED, EventType.HANDOFF)
    assert_events_contain(ROUTED, "tool_call", tool_name="refund", args={"order": 7})
    assert_events_contain(ROUTED, "tool_result", result="ok")  # "result" is an event field too
    assert_events_contain(ROUTED, "error", expected=False)
    with pytest.raises(
        AssertionError, match=r"expected a tool_call event with \{'tool_name': 'x'\}; events: thinking"
    ):
        assert_events_contain(ROUTED, "tool_call", tool_name="x")
    with pytest.raises(AssertionError, match=r"expected no handoff event, found 1: handoff\(->billing\)"):
        assert_events_contain(ROUTED, EventType.HANDOFF, expected=False)
    with pytest.raises(TypeError, match="no field"):
        assert_events_contain(ROUTED, "tool_call", tool="refund")


def test_assert_event_sequence() -> None:
    assert_event_sequence(ROUTED, [EventType.THINKING, "handoff", "tool_call", "done"])
    with pytest.raises(AssertionError, match=r"no 'handoff' event \(position 1\)"):
        assert_event_sequence(ROUTED, ["tool_call", "handoff"])


def test_assert_handoff_to_and_agent_ran() -> None:
    assert_handoff_to(ROUTED, "billing")
    assert_agent_ran(ROUTED, make("billing"))
    with pytest.raises(AssertionError, match=r"handoff to 'tech'; handoffs: \['billing'\]"):
        assert_handoff_to(ROUTED, "tech")
    with pytest.raises(AssertionError, match="handoffs: none"):
        assert_agent_ran(SEARCHED, "billing")


def test_assert_guardrails() -> None:
    assert_guardrail_passed(ROUTED, "pii")
    assert_guardrail_failed(ROUTED, "tone")
    with pytest.raises(AssertionError, match=r"'tone' to pass; passed: \['pii'\], failed: \['tone'\]"):
        assert_guardrail_passed(ROUTED, "tone")
    with pytest.raises(AssertionError, match=r"'pii' to fail; failed: \['tone'\], passed: \['pii'\]"):
        assert_guardrail_failed(ROUTED, "pii")


def test_assert_max_turns() -> None:
    assert_max_turns(SEARCHED, 4)  # three scripted calls and the answer
    with pytest.raises(AssertionError, match="at most 3 turn"):
        assert_max_turns(SEARCHED, 3)


def server_stream(*model_calls: list[AgentEvent], finish: str = "stop") -> list[AgentEvent]:
    """Events as our server emits them: a THINKING per model call, then that call's events."""
    events: list[AgentEvent] = []
    for number, emitted in enumerate(model_calls, start=1):
        events.append(MockEvent.thinking(f"agent: model call {number}"))
        events.extend(emitted)
    events.append(AgentEvent(type="done", output="x", data={"finishReason": finish}))
    return events


def test_turns_follow_the_servers_thinking_events() -> None:
    parallel = [MockEvent.tool_call("a"), MockEvent.tool_call("b"), MockEvent.tool_result("a")]
    results = [MockEvent.tool_result("b")]
    # Two model calls: the first asked for two tools at once, the second answered.
    assert count_turns(server_stream(parallel + results, [])) == 2
    # A turn limit or a stop ends the run without another model call.
    assert count_turns(server_stream(parallel + results, finish="max_turns")) == 1
    assert count_turns(server_stream(parallel + results, [], finish="stopped")) == 2
    # Scripted events without THINKING count each call and the answer, like the reference.
    assert count_turns([MockEvent.tool_call("a"), MockEvent.tool_call("b"), MockEvent.done("x")]) == 3
    # A THINKING followed by calls and the answer still means two model responses.
    sparse = [
        MockEvent.thinking("t"),
        MockEvent.tool_call("a"),
        MockEvent.tool_result("a"),
        MockEvent.done("x"),
    ]
    assert count_turns(sparse) == 2
    live = result_of(*server_stream([MockEvent.tool_call("a")], [MockEvent.tool_call("b")], []))
    assert_max_turns(live, 3)
    with pytest.raises(AssertionError, match="at most 2 turn.*got 3"):
        assert_max_turns(live, 2)


# --------------------------------------------------------------------------- expect


def test_expect_chains_every_check() -> None:
    chain = (
        expect(ROUTED)
        .completed()
        .status("COMPLETED")
        .no_errors()
        .used_tool("refund")
        .used_tool("refund", args={"order": 7})
        .did_not_use_tool("search")
        .tool_call_order(["refund"])
        .tools_used_exactly(["refund"])
        .output_contains("REFUNDED", case_sensitive=False)
        .output_matches("^ref")
        .output_type(str)
        .events_contain("tool_result", result="ok")
        .event_sequence(["handoff", "done"])
        .handoff_to("billing")
        .agent_ran("billing")
        .guardrail_passed("pii")
        .guardrail_failed("tone")
        .max_turns(2)
    )
    assert isinstance(chain, AgentResultExpectation)
    assert chain.result is ROUTED
    expect(AgentResult(status="FAILED")).failed()


def test_expect_raises_the_failing_assertion() -> None:
    with pytest.raises(AssertionError, match="expected status 'FAILED', got 'COMPLETED'"):
        expect(ROUTED).completed().failed()
    with pytest.raises(AssertionError, match="'search' to be used"):
        expect(ROUTED).used_tool("search")


# --------------------------------------------------------------------------- strategies


def violations_of(agent: Agent, result: AgentResult) -> list[str]:
    with pytest.raises(StrategyViolation) as caught:
        validate_strategy(agent, result)
    assert caught.value.strategy == agent.strategy.value
    assert isinstance(caught.value, AssertionError)
    return caught.value.violations


def test_sequential_strategy() -> None:
    agent = team("sequential", "a", "b", "c")
    validate_strategy(agent, handoffs("a", "b", "c"))
    problems = violations_of(agent, handoffs("b", "a", "a"))
    assert problems == [
        "sub-agent(s) 'c' did not run",
        "sub-agent(s) 'a' ran more than once",
        "sub-agents ran in the order ['b', 'a'], not as defined ['a', 'b', 'c']",
    ]
    pipeline = make("x") >> make("y")
    validate_strategy(pipeline, handoffs("x", "y"))


def test_parallel_strategy() -> None:
    agent = team("parallel", "a", "b")
    validate_strategy(agent, handoffs("b", "a"))
    assert violations_of(agent, handoffs("a")) == ["sub-agent(s) 'b' did not run"]


def test_router_strategy() -> None:
    agent = team("router", "a", "b", router=make("picker"))
    validate_strategy(agent, handoffs("picker", "b", "b"))
    assert "selected no sub-agent" in violations_of(agent, handoffs("picker"))[0]
    assert violations_of(agent, handoffs("a", "b")) == [
        "the router must select exactly one sub-agent, but 'a', 'b' ran"
    ]


def test_round_robin_strategy() -> None:
    agent = team("round_robin", "a", "b", max_turns=4)
    validate_strategy(agent, handoffs("a", "b", "a", "b"))
    problems = violations_of(agent, handoffs("a", "a"))
    assert problems == [
        "sub-agent(s) 'b' never took a turn",
        "'a' took two turns in a row (turns 1 and 2)",
        "turn 2 went to 'a'; the rotation expects 'b'",
    ]
    assert violations_of(agent, handoffs("b", "a")) == ["turn 1 went to 'b'; the rotation expects 'a'"]
    assert violations_of(agent, handoffs(*["a", "b"] * 3)) == ["6 turns exceed max_turns=4"]


def test_handoff_strategy() -> None:
    agent = team("handoff", "billing", "tech")
    validate_strategy(agent, handoffs("tech"))
    assert violations_of(agent, handoffs()) == ["no handoff to any sub-agent (sub-agents: 'billing', 'tech')"]


def test_swarm_strategy() -> None:
    agent = team("swarm", "a", "b", max_turns=10)
    validate_strategy(agent, handoffs("a", "b", "a", "b"))
    assert violations_of(agent, handoffs()) == ["no sub-agent ran (sub-agents: 'a', 'b')"]
    ping_pong = violations_of(agent, handoffs("a", "b", "a", "b", "a", "b"))
    assert ping_pong == [
        "the transfer 'a' -> 'b' happened 3 times (more than 2: the agents are ping-ponging)"
    ]
    short = team("swarm", "a", "b", max_turns=2)
    assert violations_of(short, handoffs("a", "b", "a")) == ["3 transfers exceed max_turns=2"]


def test_allowed_transitions_are_checked_on_handoff_events() -> None:
    agent = team("swarm", "triage", "billing", "tech", allowed_transitions={"triage": ["billing", "tech"]})
    validate_strategy(agent, handoffs("triage", "billing"))
    validate_strategy(agent, handoffs("triage", "tech", "billing"))  # 'tech' is unconstrained
    assert violations_of(agent, handoffs("billing", "triage", "triage")) == [
        "transition 'triage' -> 'triage' is not allowed (from 'triage' only: 'billing', 'tech')"
    ]
    # When the map names the parent, the parent is where the chain starts.
    rooted = team("random", "a", "b", allowed_transitions={"team": ["a"], "a": ["b"]})
    validate_strategy(rooted, handoffs("a", "b"))
    assert violations_of(rooted, handoffs("b")) == [
        "transition 'team' -> 'b' is not allowed (from 'team' only: 'a')"
    ]


def test_strategies_without_rules_and_strangers() -> None:
    validate_strategy(team("random", "a", "b"), handoffs())
    validate_strategy(team("manual", "a", "b"), handoffs("b"))
    validate_strategy(make("solo"), handoffs())  # no sub-agents: nothing to orchestrate
    helper = make("helper")
    agent = team("handoff", "a", tools=[agent_tool(helper)])
    validate_strategy(agent, handoffs("helper", "a"))
    assert violations_of(agent, handoffs("a", "ghost")) == ["handoff to 'ghost', not an agent of 'team'"]
    assert str(StrategyViolation("parallel", ["x", "y"])) == "strategy 'parallel' violated:\n  - x\n  - y"
