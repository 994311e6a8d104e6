"""``UserProxyAgent``: a person's turn in a team is a durable wait answered through the
team's own handle; and waits of sub-agents show on their team's status."""

from __future__ import annotations

import time
from typing import Any

import pytest

from agentspan.agents import Agent, AgentRuntime, ConfigurationError, tool
from agentspan.agents.ext import GPTAssistantAgent, UserProxyAgent
from agentspan.agents.testing import ScriptedModel, ToolCall


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_person_takes_a_turn_in_a_team(runtime: AgentRuntime) -> None:
    writer = Agent(name="proposer", model=ScriptedModel(["Proposal: ship on Friday."]))
    boss = UserProxyAgent(name="boss")
    team = Agent(
        name="meeting", model="offline/basic", agents=[writer, boss], strategy="round_robin", max_turns=2
    )
    handle = runtime.start(team, "when do we ship?")
    wait_for(lambda: handle.get_status().is_waiting)
    status = handle.get_status()
    pending = status.pending_tool
    assert pending is not None and pending["kind"] == "human"
    assert "Proposal: ship on Friday." in pending["parameters"]["question"]
    assert pending["executionId"] != handle.execution_id  # the person's own execution
    assert "boss" in (status.waiting_reason or "")
    handle.send("Friday is fine, go.")  # answered through the team's handle
    result = handle.join(timeout=15)
    assert result.status == "COMPLETED"
    assert result.output == "[proposer]: Proposal: ship on Friday.\n\n[boss]: Friday is fine, go."
    assert result.sub_results["boss"] == "Friday is fine, go."


@pytest.mark.parametrize(
    ("mode", "prompt"),
    [("NEVER", "anything"), ("TERMINATE", "keep going")],
)
def test_modes_that_do_not_ask_answer_with_the_default(runtime: AgentRuntime, mode: str, prompt: str) -> None:
    proxy = UserProxyAgent(name=f"quiet_{mode.lower()}", human_input_mode=mode, default_response="Carry on.")
    result = runtime.run(proxy, prompt, timeout=15)
    assert result.status == "COMPLETED" and result.output == "Carry on."


def test_terminate_mode_asks_when_the_conversation_says_terminate(runtime: AgentRuntime) -> None:
    proxy = UserProxyAgent(name="closer", human_input_mode="TERMINATE")
    handle = runtime.start(proxy, "We are done. TERMINATE")
    wait_for(lambda: handle.get_status().is_waiting)
    handle.respond({"message": "Agreed, stop."})
    assert handle.join(timeout=10).output == "Agreed, stop."


def test_a_sub_agents_approval_is_answered_from_the_parent(runtime: AgentRuntime) -> None:
    @tool(approval_required=True)
    def wire_money(amount: int) -> str:
        """Send money."""
        return f"sent {amount}"

    payer = Agent(
        name="payer",
        model=ScriptedModel([ToolCall("wire_money", {"amount": 5}), "Paid."]),
        tools=[wire_money],
    )
    desk = Agent(name="pay_desk", model=ScriptedModel([ToolCall("transfer_to_payer")]), agents=[payer])
    handle = runtime.start(desk, "pay five")
    wait_for(lambda: handle.get_status().is_waiting)
    pending = handle.get_status().pending_tool
    assert pending is not None and pending["tool_name"] == "wire_money" and pending["executionId"]
    handle.approve()
    result = handle.join(timeout=15)
    assert result.status == "COMPLETED" and result.output == "Paid."


def test_user_proxy_checks_its_mode_and_gpt_assistants_are_refused() -> None:
    with pytest.raises(ValueError, match="human_input_mode"):
        UserProxyAgent(human_input_mode="SOMETIMES")
    with pytest.raises(ConfigurationError, match="Assistants"):
        GPTAssistantAgent(name="helper", assistant_id="asst_123")
