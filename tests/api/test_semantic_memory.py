"""An agent with semantic memory, end to end: a real server over HTTP, a worker tool, and
the fake OpenAI endpoint recording what the model was sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentspan.agents import Agent, AgentRuntime, SemanticMemory, tool

from fakes.openai_server import FakeOpenAI

FACTS = [
    "The user's name is Alice; she is a backend engineer.",
    "Alice's favourite editor is Helix.",
    "The quarterly report is due on the 15th.",
]

memory = SemanticMemory(max_results=2)


@tool
def forget_everything() -> str:
    """Clear the semantic memory."""
    memory.clear()
    return "forgotten"


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    memory.clear()
    for fact in FACTS:
        memory.add(fact)
    yield fake_openai
    fake_openai.reset()


def system_of(fake: FakeOpenAI, n: int) -> str:
    return "\n".join(m["content"] for m in fake.requests[n]["messages"] if m["role"] == "system")


def test_the_relevant_entries_reach_the_model_and_the_irrelevant_do_not(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(FakeOpenAI.text("Helix."))
    agent = Agent(name="recaller", model="openai/gpt-4o", instructions="Be brief.", memory=memory)
    result = runtime.run(agent, "Which editor does Alice like?")
    assert result.status == "COMPLETED", result.error
    system = system_of(fake, 0)
    assert system.startswith("Be brief.")
    assert "Relevant context from memory:\n  1. Alice's favourite editor is Helix." in system
    assert "quarterly report" not in system
    # Semantic memory is not conversation: the run's messages are only its prompt.
    user = [m for m in fake.requests[0]["messages"] if m["role"] != "system"]
    assert user == [{"role": "user", "content": "Which editor does Alice like?"}]


def test_what_a_run_recalled_is_kept_for_all_its_model_calls_and_never_searched_again(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    """The recall happens once, at start, and is stored with the run: clearing the memory
    mid-run (from a tool) does not change what the second model call is given."""
    fake.script(FakeOpenAI.tool_calls([("forget_everything", {})]), FakeOpenAI.text("Done."))
    agent = Agent(name="forgetful", model="openai/gpt-4o", tools=[forget_everything], memory=memory)
    result = runtime.run(agent, "When is the quarterly report due?")
    assert result.status == "COMPLETED", result.error
    assert memory.list_all() == []
    expected = "Relevant context from memory:\n  1. The quarterly report is due on the 15th."
    assert expected in system_of(fake, 0) and expected in system_of(fake, 1)
    # The next run searches again, and finds nothing now.
    fake.script(FakeOpenAI.text("No idea."))
    runtime.run(agent, "When is the quarterly report due?")
    assert "Relevant context" not in system_of(fake, 2)


support_memory = SemanticMemory(max_results=3)
for _fact in (
    "The customer's name is Alice and she prefers email communication.",
    "Alice's account is on the Enterprise plan since March 2021.",
    "Last interaction: Alice reported a billing discrepancy on invoice #1042.",
    "Alice's preferred language is English.",
    "Company policy: Enterprise customers get priority support with 1-hour SLA.",
    "Alice's timezone is US/Pacific.",
):
    support_memory.add(_fact)


@tool
def get_customer_context(query: str) -> str:
    """Retrieve relevant customer context from memory."""
    return support_memory.get_context(query)


def test_the_reference_examples_tool_backed_memory_runs_unchanged(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    """The reference's semantic-memory example: the agent recalls through a tool."""
    fake.script(
        FakeOpenAI.tool_calls([("get_customer_context", {"query": "billing issue invoice"})]),
        FakeOpenAI.text("I see the discrepancy on invoice #1042."),
    )
    agent = Agent(
        name="memory_agent",
        model="openai/gpt-4o",
        tools=[get_customer_context],
        instructions="Use the get_customer_context tool to recall relevant information.",
    )
    result = runtime.run(agent, "I have a question about my billing — is there an issue with my account?")
    assert result.status == "COMPLETED", result.error
    (tool_message,) = [m for m in fake.requests[1]["messages"] if m["role"] == "tool"]
    assert tool_message["content"].startswith("Relevant context from memory:\n  1. Last interaction:")
    assert support_memory.search("billing invoice")[0].endswith("invoice #1042.")
    assert [e.content[:16] for e in support_memory.list_all()][:1] == ["The customer's n"]
