"""Conversation memory end to end: the SDK's ConversationMemory and server-kept sessions,
a real server over HTTP, and the fake OpenAI endpoint recording what the model was sent."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentspan.agents import (
    Agent,
    AgentRuntime,
    ConversationMemory,
    Guardrail,
    GuardrailResult,
    guardrail,
    tool,
)
from agentspan.agents.testing import ScriptedModel

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def sent(fake: FakeOpenAI, n: int) -> list[dict[str, Any]]:
    """The messages of the model call ``n`` (without the system message)."""
    return [m for m in fake.requests[n]["messages"] if m["role"] != "system"]


def system_of(fake: FakeOpenAI, n: int) -> str:
    return "\n".join(m["content"] for m in fake.requests[n]["messages"] if m["role"] == "system")


def test_the_product_page_example_remembers_the_first_run(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.text("Nice to meet you, Alice."), FakeOpenAI.text("You are Alice, a backend engineer.")
    )
    memory = ConversationMemory()
    agent = Agent(name="assistant", model="openai/gpt-4o", memory=memory)
    first = runtime.run(agent, "My name is Alice, I'm a backend engineer.")
    assert first.status == "COMPLETED", first.error
    result = runtime.run(agent, "What do you know about me?")
    assert result.status == "COMPLETED", result.error
    assert sent(fake, 1) == [
        {"role": "user", "content": "My name is Alice, I'm a backend engineer."},
        {"role": "assistant", "content": "Nice to meet you, Alice."},
        {"role": "user", "content": "What do you know about me?"},
    ]
    assert [m["role"] for m in memory.messages] == ["user", "assistant", "user", "assistant"]


def test_a_scripted_model_counts_its_turns_after_the_remembered_replies(runtime: AgentRuntime) -> None:
    memory = ConversationMemory()
    memory.add_user_message("Hi, I'm Alice.")
    memory.add_assistant_message("Nice to meet you, Alice.")
    session = f"scripted-{uuid.uuid4().hex}"

    def agent(reply: str) -> Agent:
        return Agent(name="scripted_rememberer", model=ScriptedModel([reply]), memory=memory)

    first = runtime.run(agent("First scripted reply."), "Hello again.", session_id=session)
    assert first.status == "COMPLETED" and first.output == "First scripted reply.", first.error
    # The second run starts from the memory's reply and the session's: still its own turn 1.
    second = runtime.run(agent("Second scripted reply."), "And now?", session_id=session)
    assert second.status == "COMPLETED" and second.output == "Second scripted reply.", second.error
    assert [m["role"] for m in second.messages].count("assistant") == 3


def test_memory_messages_are_sent_before_the_prompt_trimmed_with_system_kept(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    memory = ConversationMemory(max_messages=4)
    memory.add_system_message("The user prefers metric units.")
    memory.add_user_message("old question")  # trimmed away by the later adds
    memory.add_assistant_message("old answer")
    memory.add_tool_call("get_weather", {"city": "Oslo"})
    memory.add_tool_result("get_weather", {"temp_c": 4})
    assert len(memory.messages) == 4 and memory.messages[0]["role"] == "system"
    agent = Agent(name="weather", model="openai/gpt-4o", instructions="Be brief.", memory=memory)
    result = runtime.run(agent, "And tomorrow?", session_id=None)
    assert result.status == "COMPLETED", result.error
    messages = sent(fake, 0)
    assert messages[0]["role"] == "assistant" and messages[0]["content"] == "old answer"
    call = messages[1]["tool_calls"][0]
    assert call["id"] == "get_weather_ref" and call["function"]["name"] == "get_weather"
    assert messages[2] == {"role": "tool", "tool_call_id": "get_weather_ref", "content": '{"temp_c": 4}'}
    assert messages[3] == {"role": "user", "content": "And tomorrow?"}
    assert system_of(fake, 0) == "Be brief.\n\nThe user prefers metric units."


def test_a_session_remembers_earlier_runs_across_runtimes(
    server: ThreadServer, runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    session = f"s-{uuid.uuid4()}"
    fake.script(
        FakeOpenAI.text("Noted: blue."), FakeOpenAI.text("Noted: 42."), FakeOpenAI.text("Blue and 42.")
    )
    agent = Agent(name="notes", model="openai/gpt-4o")
    assert runtime.run(agent, "My favourite colour is blue.", session_id=session).status == "COMPLETED"
    assert runtime.run(agent, "My lucky number is 42.", session_id=session).status == "COMPLETED"
    other = Agent(name="notes", model="openai/gpt-4o")  # a fresh object: nothing client-side
    config = runtime.config.__class__(server_url=server.api_url, auto_start_server=False)
    with AgentRuntime(config=config) as elsewhere:
        result = elsewhere.run(other, "What do you know?", session_id=session)
    assert result.status == "COMPLETED", result.error
    assert sent(fake, 2) == [
        {"role": "user", "content": "My favourite colour is blue."},
        {"role": "assistant", "content": "Noted: blue."},
        {"role": "user", "content": "My lucky number is 42."},
        {"role": "assistant", "content": "Noted: 42."},
        {"role": "user", "content": "What do you know?"},
    ]
    assert sent(fake, 1)[:2] == sent(fake, 2)[:2]
    # Another session, or none, starts from nothing.
    runtime.run(agent, "Hello?", session_id=f"s-{uuid.uuid4()}")
    runtime.run(agent, "Hello?")
    assert sent(fake, 3) == [{"role": "user", "content": "Hello?"}]
    assert sent(fake, 4) == [{"role": "user", "content": "Hello?"}]


def test_a_session_is_bounded_by_max_messages(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    session = f"s-{uuid.uuid4()}"
    agent = Agent(name="bounded", model="openai/gpt-4o", memory=ConversationMemory(max_messages=2))
    for i in range(3):
        fake.script(FakeOpenAI.text(f"answer {i}"))
        assert runtime.run(agent, f"question {i}", session_id=session).status == "COMPLETED"
    fake.script(FakeOpenAI.text("last"))
    runtime.run(agent, "question 3", session_id=session)
    assert sent(fake, 3) == [
        {"role": "user", "content": "question 2"},
        {"role": "assistant", "content": "answer 2"},
        {"role": "user", "content": "question 3"},
    ]
    assert agent.memory.messages == [], "with a session the server keeps the conversation, not the object"


def test_the_loaded_history_is_recorded_with_the_run(
    server: ThreadServer, runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    session = f"s-{uuid.uuid4()}"
    agent = Agent(name="recorded", model="openai/gpt-4o")
    fake.script(FakeOpenAI.text("one"), FakeOpenAI.text("two"))
    runtime.run(agent, "first", session_id=session)
    second = runtime.run(agent, "second", session_id=session)
    detail = httpx.get(f"{server.api_url}/agent/execution/{second.execution_id}").json()
    assert [m["content"] for m in detail["messages"]][:3] == ["first", "one", "second"]


def test_what_a_run_remembers_is_fixed_when_it_starts(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    """A run that waits (here for an approval) while another run of its session completes
    goes on with the history it started with: nothing is read again later."""
    session = f"s-{uuid.uuid4()}"

    @tool(approval_required=True)
    def pay(amount: int) -> str:
        """Pay."""
        return "paid"

    fake.script(FakeOpenAI.text("one"))
    runtime.run(Agent(name="first", model="openai/gpt-4o"), "first", session_id=session)
    fake.script(FakeOpenAI.tool_calls([("pay", {"amount": 5})]))
    waiting = runtime.start(
        Agent(name="payer", model="openai/gpt-4o", tools=[pay]), "pay", session_id=session
    )
    deadline = time.monotonic() + 10
    while not waiting.get_status().is_waiting:
        assert time.monotonic() < deadline, "the run never asked for approval"
        time.sleep(0.02)
    fake.script(FakeOpenAI.text("meanwhile"))
    runtime.run(Agent(name="other", model="openai/gpt-4o"), "in between", session_id=session)
    fake.script(FakeOpenAI.text("paid it"))
    waiting.approve()
    assert waiting.join(timeout=10).output == "paid it"
    after_approval = [m.get("content") for m in sent(fake, 3)]
    assert after_approval[:3] == ["first", "one", "pay"]
    assert "in between" not in after_approval
    # and the session now holds all three exchanges, in the order they completed
    fake.script(FakeOpenAI.text("done"))
    runtime.run(Agent(name="last", model="openai/gpt-4o"), "last", session_id=session)
    assert [m["content"] for m in sent(fake, 4)] == [
        "first",
        "one",
        "in between",
        "meanwhile",
        "pay",
        "paid it",
        "last",
    ]


@guardrail
def polite(content: str) -> GuardrailResult:
    """Ask nicely."""
    return (
        GuardrailResult(passed=True, fixed_output=None)
        if "please" in content
        else GuardrailResult(passed=False, message="ask nicely", fixed_output=f"{content}, please")
    )


def test_the_history_survives_an_input_guardrail_that_waits_for_a_worker(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    """The start waits in the state document for the guardrail's verdict (a worker task);
    the history it was created with goes on to the model, with the fixed prompt."""
    memory = ConversationMemory()
    memory.add_user_message("earlier")
    memory.add_assistant_message("noted")
    rail = Guardrail(polite, position="input", on_fail="fix")
    agent = Agent(name="polite_bot", model="openai/gpt-4o", memory=memory, guardrails=[rail])
    result = runtime.run(agent, "help me")
    assert result.status == "COMPLETED", result.error
    assert sent(fake, 0) == [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "noted"},
        {"role": "user", "content": "help me, please"},
    ]


def test_semantic_memory_the_sdk_did_not_search_is_refused_at_start_naming_the_option(
    runtime: AgentRuntime, server: ThreadServer
) -> None:
    """A spec saying semantic memory without what it recalled (an SDK that did not
    search it, or a sub-agent's) and without a server namespace is refused: the server
    cannot search the user's own store, and says which store it can search."""

    class SemanticMemory:
        def search(self, query: str) -> list[str]:
            return []

    agent = Agent(name="recall", model="openai/gpt-4o", memory=SemanticMemory())
    from agentspan.agents._serialize import serialize_agent

    body = {"agentConfig": serialize_agent(agent).wire(), "prompt": "hi"}
    response = httpx.post(f"{server.api_url}/agent/start", json=body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "invalid_agent"
    assert "option 'memory': semantic memory" in problem["detail"]
    assert "ServerMemoryStore" in problem["detail"]
    assert "agent 'recall'" in problem["detail"]


@pytest.mark.parametrize(
    ("messages", "named"),
    [
        ([{"role": "user"}], "memory.messages[0]"),
        ([{"role": "wizard", "message": "x"}], "memory.messages[0]"),
    ],
)
def test_a_memory_message_that_does_not_parse_is_refused(
    server: ThreadServer, messages: list[dict[str, Any]], named: str
) -> None:
    config = {"name": "bad", "model": "openai/gpt-4o", "memory": {"messages": messages}}
    response = httpx.post(f"{server.api_url}/agent/start", json={"agentConfig": config, "prompt": "hi"})
    assert response.status_code == 400 and named in response.json()["detail"]
