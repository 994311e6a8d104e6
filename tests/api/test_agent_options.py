"""Agent options beyond the loop: honoured (``required_tools``, ``metadata``) or refused at
start with a 400 naming the option — never accepted and silently ignored."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from agentspan.agents import Agent, AgentAPIError, AgentRuntime, RegexGuardrail, ToolContext, agent_tool, tool

from fakes.openai_server import FakeOpenAI


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


class SemanticMemory:
    """What the reference's SemanticMemory looks like to the serialiser (not built here;
    conversation memory is, see test_memory.py)."""

    def search(self, query: str, top_k: int | None = None) -> list[str]:
        return []


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"memory": SemanticMemory()}, "memory"),
    ],
)
def test_an_option_the_server_cannot_honour_is_refused_at_start(
    runtime: AgentRuntime, fake: FakeOpenAI, options: dict[str, Any], option: str
) -> None:
    agent = Agent(name="opts", model="openai/gpt-4o", **options)
    with pytest.raises(AgentAPIError) as err:
        runtime.start(agent, "hi")
    assert err.value.status_code == 400 and err.value.code == "invalid_agent"
    assert f"option '{option}'" in str(err.value) and "agent 'opts'" in str(err.value)
    assert fake.request_count == 0


def test_a_sub_agent_with_semantic_memory_is_refused_too(runtime: AgentRuntime) -> None:
    team = Agent(
        name="team",
        agents=[
            Agent(name="a", model="openai/gpt-4o"),
            Agent(name="b", model="openai/gpt-4o", memory=SemanticMemory()),
        ],
        strategy="sequential",
    )
    with pytest.raises(AgentAPIError) as err:
        runtime.start(team, "hi")
    assert "agent 'team/b': option 'memory'" in str(err.value)


seen_metadata: list[dict[str, Any]] = []


@tool
def audit(note: str, context: ToolContext) -> str:
    """Record a note."""
    seen_metadata.append(dict(context.metadata))
    return f"noted {note}"


def test_required_tools_are_called_before_the_answer_is_accepted(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    seen_metadata.clear()
    fake.script(
        FakeOpenAI.text("Nothing to audit."),
        FakeOpenAI.tool_calls([("audit", {"note": "checked"})]),
        FakeOpenAI.text("Audited."),
    )
    agent = Agent(
        name="auditor",
        model="openai/gpt-4o",
        tools=[audit],
        required_tools=["audit"],
        metadata={"team": "risk", "tier": 2},
    )
    result = runtime.run(agent, "audit this")
    assert result.status == "COMPLETED" and result.output == "Audited."
    assert fake.request_count == 3
    assert "call these tools: audit" in fake.requests[1]["messages"][-1]["content"]
    assert [e.content for e in result.events if e.type == "tools_required"] == ["audit"]
    assert result.metadata == {"team": "risk", "tier": 2}, "metadata is stored and returned"
    assert seen_metadata == [{"team": "risk", "tier": 2}], "tools see the agent's metadata"


def test_an_agent_tool_with_retry_count_runs_a_failed_child_again(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("researcher", {"request": "find the number"})]),
        FakeOpenAI.text("It is 123-45-6789."),  # the child's first answer fails its guardrail
        FakeOpenAI.text("I cannot share it."),  # the child, run again
        FakeOpenAI.text("The researcher could not share it."),
    )
    researcher = Agent(
        name="researcher",
        model="openai/gpt-4o",
        guardrails=[RegexGuardrail([r"\d{3}-\d{2}-\d{4}"], name="no_ssn", on_fail="raise")],
    )
    lead = Agent(name="lead", model="openai/gpt-4o", tools=[agent_tool(researcher, retry_count=1)])
    result = runtime.run(lead, "ask the researcher")
    assert result.status == "COMPLETED" and result.output == "The researcher could not share it."
    assert [e.type for e in result.events].count("tool_retry") == 1
    assert result.tool_calls[0]["result"] == "I cannot share it."


def test_an_agent_tool_retry_waits_its_retry_delay_seconds(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    """The pause is a durable ``delay`` task on the server, not a sleep anywhere."""
    fake.script(
        FakeOpenAI.tool_calls([("researcher", {"request": "find the number"})]),
        FakeOpenAI.text("It is 123-45-6789."),
        FakeOpenAI.text("I cannot share it."),
        FakeOpenAI.text("Done."),
    )
    researcher = Agent(
        name="researcher",
        model="openai/gpt-4o",
        guardrails=[RegexGuardrail([r"\d{3}-\d{2}-\d{4}"], name="no_ssn", on_fail="raise")],
    )
    tool_ = agent_tool(researcher, retry_count=1, retry_delay_seconds=0.6)
    lead = Agent(name="lead", model="openai/gpt-4o", tools=[tool_])
    started = time.monotonic()
    result = runtime.run(lead, "ask the researcher")
    assert result.status == "COMPLETED", result.error
    assert time.monotonic() - started >= 0.6
    (retry,) = [e for e in result.events if e.type == "tool_retry"]
    assert retry.data == {"attempt": 1, "delaySeconds": 0.6}
    assert result.tool_calls[0]["result"] == "I cannot share it."
