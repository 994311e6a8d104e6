"""Conformance: LangChain's ``AgentExecutor`` (the real ``langchain-classic`` package) with a
tool-calling agent runs unchanged on a real server, the fake OpenAI endpoint scripting the
model's replies; what it cannot carry over is refused by name."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("langchain_classic", reason="the langchain-classic package is not installed")
pytest.importorskip("langchain_openai", reason="the langchain-openai package is not installed")

from langchain_classic.agents import AgentExecutor, create_tool_calling_agent  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

from agentspan._core.errors import ConfigurationError  # noqa: E402
from agentspan.agents import AgentRuntime  # noqa: E402
from agentspan.frameworks import detect_framework  # noqa: E402
from agentspan.frameworks.langchain import to_agent  # noqa: E402

from fakes.openai_server import FakeOpenAI  # noqa: E402

pytestmark = pytest.mark.e2e


@tool
def lookup_order(order_id: str) -> str:
    """Look an order up."""
    return f"order {order_id}: shipped"


def executor(system: str = "You are a support agent.", **options: object) -> AgentExecutor:
    model = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test-not-a-real-key", temperature=0)  # type: ignore[arg-type]
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", system),
            ("placeholder", "{chat_history}"),
            ("human", "{input}"),
            ("placeholder", "{agent_scratchpad}"),
        ]
    )
    agent = create_tool_calling_agent(model, [lookup_order], prompt)
    return AgentExecutor(agent=agent, tools=[lookup_order], **options)  # type: ignore[arg-type]


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.reset()
    return fake_openai


def test_agent_executor_with_a_tool(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("lookup_order", {"order_id": "B2"})]), FakeOpenAI.text("B2 has shipped.")
    )
    app = executor(max_iterations=4)
    assert detect_framework(app) == "langchain"

    result = runtime.run(app, "Where is order B2?")

    assert result.status == "COMPLETED", result.error
    assert result.output == "B2 has shipped."
    assert result.tool_calls[0]["result"] == "order B2: shipped"
    first = fake.requests[0]
    assert first["model"] == "gpt-4o-mini" and first["temperature"] == 0
    assert first["messages"][0] == {"role": "system", "content": "You are a support agent."}
    assert first["messages"][1] == {"role": "user", "content": "Where is order B2?"}
    assert first["tools"][0]["function"]["name"] == "lookup_order"


def test_agent_executor_streams_events(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.tool_calls([("lookup_order", {"order_id": "C3"})]), FakeOpenAI.text("C3 shipped."))
    types = [e.type for e in runtime.stream(executor(), "Where is C3?")]
    assert "tool_call" in types and "tool_result" in types and types[-1] == "done"


@pytest.mark.anyio
async def test_max_iterations_is_the_turn_limit_and_refusals() -> None:
    assert (await to_agent(executor(max_iterations=4))).max_turns == 4
    with pytest.raises(ConfigurationError, match=r"variables \['tone'\]"):
        await to_agent(executor(system="Answer in a {tone} tone."))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_classic.agents import create_react_agent

    text_prompt = PromptTemplate.from_template("{tools} {tool_names} {input} {agent_scratchpad}")
    model = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test-not-a-real-key")  # type: ignore[arg-type]
    react = AgentExecutor(agent=create_react_agent(model, [lookup_order], text_prompt), tools=[lookup_order])
    with pytest.raises(ConfigurationError, match="ReActSingleInputOutputParser"):
        await to_agent(react)
