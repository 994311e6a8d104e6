"""Pause, resume and stop of a team or pipeline reach the sub-agents at work, and a budget
spent inside a team ends the team with ``budget_exceeded`` (issue 17)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ScriptedModel, ToolCall

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer


def says(*turns: Any) -> ScriptedModel:
    return ScriptedModel(list(turns))


@tool(approval_required=True)
def sign_off() -> str:
    """Waits for a person's approval."""
    return "signed"


def children_of(server: ThreadServer, execution_id: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{server.api_url}/agent/executions", params={"parentId": execution_id}, timeout=10)
    listed.raise_for_status()
    results: list[dict[str, Any]] = listed.json()["results"]
    return results


def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def waiting_child(server: ThreadServer, execution_id: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next((c for c in children_of(server, execution_id) if c.get("waitingReason")), None)

    child: dict[str, Any] = wait_for(found)
    return child


def status_of(runtime: AgentRuntime, execution_id: str) -> str:
    return runtime.get_status(execution_id).status


@pytest.mark.parametrize("strategy", ["round_robin", "sequential"])
def test_pausing_a_team_pauses_its_running_member_and_resume_resumes_it(
    runtime: AgentRuntime, server: ThreadServer, strategy: str
) -> None:
    first = Agent(name=f"held_{strategy}", model=says(ToolCall("sign_off"), "first done"), tools=[sign_off])
    second = Agent(name=f"next_{strategy}", model=says("second done"))
    team = Agent(
        name=f"paused_{strategy}",
        model="offline/basic",
        agents=[first, second],
        strategy=strategy,
        max_turns=2,
    )
    handle = runtime.start(team, "go")
    member = waiting_child(server, handle.execution_id)

    handle.pause()
    assert status_of(runtime, member["executionId"]) == "PAUSED"  # in the same step as the team
    runtime.approve(member["executionId"])  # the tool runs; the member's next model call is held
    time.sleep(0.5)
    assert status_of(runtime, member["executionId"]) == "PAUSED"
    assert status_of(runtime, handle.execution_id) == "PAUSED"
    assert len(children_of(server, handle.execution_id)) == 1

    handle.resume()
    result = handle.join(timeout=20)
    assert result.status == "COMPLETED"
    assert "second done" in str(result.output)
    events = httpx.get(f"{server.api_url}/agent/executions/{member['executionId']}/events", timeout=10).json()
    kinds = [e["type"] for e in events]
    assert kinds.index("paused") < kinds.index("resumed") < kinds.index("done")


def test_resume_leaves_a_member_running_and_pausing_twice_is_harmless(
    runtime: AgentRuntime, server: ThreadServer
) -> None:
    member = Agent(name="twice_member", model=says(ToolCall("sign_off"), "member done"), tools=[sign_off])
    team = Agent(name="twice_team", model="offline/basic", agents=[member], strategy="sequential")
    handle = runtime.start(team, "go")
    child = waiting_child(server, handle.execution_id)
    handle.pause()
    handle.pause()
    runtime.resume(child["executionId"])  # the member resumed on its own; the team stays paused
    assert status_of(runtime, handle.execution_id) == "PAUSED"
    handle.resume()  # the member is not paused any more: nothing to pass on, no error
    runtime.approve(child["executionId"])
    assert handle.join(timeout=20).output == "member done"


def test_stop_ends_a_manual_team_while_its_member_waits(runtime: AgentRuntime, server: ThreadServer) -> None:
    member = Agent(name="slow_member", model=says(ToolCall("sign_off"), "never"), tools=[sign_off])
    other = Agent(name="other_member", model=says("unused"))
    team = Agent(name="stoppable_manual", model="offline/basic", agents=[member, other], strategy="manual")
    handle = runtime.start(team, "go")
    wait_for(lambda: handle.get_status().is_waiting)
    handle.respond({"selected": "slow_member"})
    child = waiting_child(server, handle.execution_id)

    handle.stop()  # before: the team ended only when this member finished (after approval)
    result = handle.join(timeout=10)
    assert result.status == "COMPLETED" and result.finish_reason == "stopped"
    assert status_of(runtime, child["executionId"]) == "COMPLETED"


@pytest.mark.parametrize("strategy", ["round_robin", "parallel", "sequential", "swarm", "router", "handoff"])
def test_stop_ends_other_strategies_without_waiting_for_members(
    runtime: AgentRuntime, server: ThreadServer, strategy: str
) -> None:
    waiting = Agent(name=f"waits_{strategy}", model=says(ToolCall("sign_off"), "never"), tools=[sign_off])
    quick = Agent(name=f"quick_{strategy}", model=says("quick answer"))
    agents = [waiting, quick]
    options: dict[str, Any] = {"model": "offline/basic"}
    if strategy == "swarm":
        options["model"] = ""  # a swarm parent without a model starts its first member
    elif strategy == "router":
        options["router"] = Agent(name="stop_picker", model=says(waiting.name))
    elif strategy == "handoff":
        options["model"] = says(ToolCall(f"transfer_to_{waiting.name}"))
    team = Agent(name=f"stop_{strategy}", agents=agents, strategy=strategy, max_turns=4, **options)
    handle = runtime.start(team, "go")
    waiting_child(server, handle.execution_id)
    handle.stop()
    result = handle.join(timeout=10)
    assert result.status == "COMPLETED"
    if strategy == "parallel":  # the branches ended; the team gathers what they said
        assert result.finish_reason == "stop" and "quick answer" in str(result.output)
    else:
        assert result.finish_reason == "stopped"
        assert "quick answer" not in str(result.output)  # the next member never started


@tool
def look_up(topic: str = "") -> str:
    """Looks something up."""
    return f"facts about {topic}"


def test_a_budget_spent_inside_a_nested_team_ends_every_level_with_budget_exceeded(
    runtime: AgentRuntime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reset()
    fake_openai.script(FakeOpenAI.text("alpha speaks"), FakeOpenAI.text("beta speaks"))
    alpha = Agent(name="alpha_spender", model="openai/gpt-4o")
    beta = Agent(name="beta_spender", model="openai/gpt-4o")
    chat = Agent(
        name="inner_chat", model="offline/basic", agents=[alpha, beta], strategy="round_robin", max_turns=6
    )
    closing = Agent(name="closing_step", model=says("never reached"))
    pipeline = chat >> closing
    # Each fake call uses 15 tokens: alpha and beta get one turn each, alpha's second is refused.
    result = runtime.run(pipeline, "discuss", max_tokens_total=20)
    assert result.status == "COMPLETED" and result.finish_reason == "budget_exceeded"
    assert result.output == "[alpha_spender]: alpha speaks\n\n[beta_spender]: beta speaks"
    assert fake_openai.request_count == 2
    assert any(e.type == "budget_exceeded" for e in result.events)  # on the pipeline's own log
    assert [e.target for e in result.events if e.type == "handoff"] == ["inner_chat"]
    fake_openai.reset()


def test_a_budget_spent_by_the_agent_handed_over_to_ends_the_handoff(
    runtime: AgentRuntime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reset()
    fake_openai.script(FakeOpenAI.tool_calls([("look_up", {"topic": "tides"})]))
    expert = Agent(name="tide_expert", model="openai/gpt-4o", tools=[look_up])
    desk = Agent(name="front_desk", model=says(ToolCall("transfer_to_tide_expert")), agents=[expert])
    result = runtime.run(desk, "when is high tide?", max_tokens_total=10)
    assert result.status == "COMPLETED" and result.finish_reason == "budget_exceeded"
    assert fake_openai.request_count == 1
    fake_openai.reset()
