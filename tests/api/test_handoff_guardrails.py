"""A handoff parent's output guardrails check the answer of the sub-agent it handed over
to (the reference's, and this server's before, let it through unchecked)."""

from __future__ import annotations

from typing import Any

from agentspan.agents import Agent, AgentRuntime, RegexGuardrail
from agentspan.agents.testing import ScriptedModel, ToolCall

SSN = r"\b\d{3}-\d{2}-\d{4}\b"


def says(*turns: Any) -> ScriptedModel:
    return ScriptedModel(list(turns))


def team(on_fail: str, *parent_turns: Any) -> Agent:
    leaky = Agent(name="leaky", model=says("The SSN is 123-45-6789."))
    careful = Agent(name="careful", model=says("I cannot share that."))
    return Agent(
        name="desk",
        model=says(*parent_turns),
        agents=[leaky, careful],
        strategy="handoff",
        guardrails=[RegexGuardrail([SSN], name="no_ssn", on_fail=on_fail, max_retries=2)],
    )


def test_a_blocked_answer_from_the_sub_agent_fails_the_parent(runtime: AgentRuntime) -> None:
    result = runtime.run(team("raise", ToolCall("transfer_to_leaky")), "what is my SSN?")
    assert result.status == "FAILED"
    assert "no_ssn" in (result.error or "")
    assert "123-45-6789" not in str(result.output)
    assert [e.type for e in result.events].count("guardrail_fail") == 1


def test_retry_asks_the_parent_again_and_it_may_hand_over_anew(runtime: AgentRuntime) -> None:
    desk = team("retry", ToolCall("transfer_to_leaky"), ToolCall("transfer_to_careful"))
    result = runtime.run(desk, "what is my SSN?")
    assert result.status == "COMPLETED", result.error
    assert result.output == "I cannot share that."
    assert [e.type for e in result.events].count("guardrail_fail") == 1
    assert [e.type for e in result.events].count("guardrail_pass") == 1
    assert [e.target for e in result.events if e.type == "handoff"] == ["leaky", "careful"]


def test_an_answer_that_passes_is_the_output(runtime: AgentRuntime) -> None:
    result = runtime.run(team("raise", ToolCall("transfer_to_careful")), "hello")
    assert result.status == "COMPLETED" and result.output == "I cannot share that."
    assert [e.type for e in result.events].count("guardrail_pass") == 1
