"""Conformance: LangGraph's and LangChain's prebuilt agents (the real ``langgraph``,
``langchain`` and ``langchain-openai`` packages) run unchanged on a real server over HTTP,
with the fake OpenAI endpoint scripting the model's replies."""

from __future__ import annotations

import json
import time
import warnings
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

pytest.importorskip("langgraph", reason="the langgraph package is not installed")
pytest.importorskip("langchain_openai", reason="the langchain-openai package is not installed")

from langchain.agents import create_agent  # noqa: E402
from langchain.agents.middleware import HumanInTheLoopMiddleware, ModelCallLimitMiddleware  # noqa: E402
from langchain_core.language_models.fake_chat_models import (  # noqa: E402
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage  # noqa: E402
from langchain_core.tools import InjectedToolCallId, tool  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.graph import END, START, MessagesState, StateGraph  # noqa: E402
from langgraph.prebuilt import InjectedState  # noqa: E402

from agentspan._core.errors import ConfigurationError  # noqa: E402
from agentspan.agents import AgentRuntime  # noqa: E402
from agentspan.frameworks import detect_framework  # noqa: E402
from agentspan.frameworks.langgraph import native_model, to_agent  # noqa: E402

from fakes.openai_server import FakeOpenAI  # noqa: E402

with warnings.catch_warnings():
    # create_react_agent is deprecated in favour of langchain's create_agent; both are supported.
    warnings.simplefilter("ignore")
    from langgraph.prebuilt import create_react_agent

pytestmark = pytest.mark.e2e

CALLS: list[str] = []


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city to look up.
    """
    CALLS.append(city)
    return f"72F and sunny in {city}"


@tool
def call_receipt(order: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> str:
    """Receipt for an order."""
    return f"{order} via {tool_call_id}"


@tool
def wire_money(amount: float) -> str:
    """Move money (a person approves)."""
    return f"moved {amount}"


class WeatherReport(BaseModel):
    city: str
    temperature: float


def chat(**options: Any) -> ChatOpenAI:
    return ChatOpenAI(model="gpt-4o-mini", api_key="sk-test-not-a-real-key", **options)  # type: ignore[arg-type]


def react(*args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_react_agent(*args, **kwargs)


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.reset()
    CALLS.clear()
    return fake_openai


def _wait_until_waiting(runtime: AgentRuntime, execution_id: str) -> None:
    deadline = time.monotonic() + 20
    while not runtime.get_status(execution_id).is_waiting:
        assert time.monotonic() < deadline, "the run never waited for approval"
        time.sleep(0.05)


# --------------------------------------------------------------------------- one agent with a tool


def test_create_react_agent_with_a_tool(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    graph = react(
        chat(temperature=0.2, max_tokens=300), [get_weather], prompt="Answer briefly.", name="weather"
    )
    fake.script(FakeOpenAI.tool_calls([("get_weather", {"city": "NYC"})]), FakeOpenAI.text("It is sunny."))

    result = runtime.run(graph, "Weather in NYC?")

    assert result.status == "COMPLETED", result.error
    assert result.output == "It is sunny."
    assert CALLS == ["NYC"]  # the LangChain tool itself ran, once
    assert result.tool_calls[0]["name"] == "get_weather"
    assert result.tool_calls[0]["result"] == "72F and sunny in NYC"
    first = fake.requests[0]
    assert first["model"] == "gpt-4o-mini"  # the server made the call, with the chat model's name
    assert first["temperature"] == 0.2
    assert 300 in (first.get("max_tokens"), first.get("max_completion_tokens"))
    assert first["messages"][0] == {"role": "system", "content": "Answer briefly."}
    schema = first["tools"][0]["function"]
    assert schema["name"] == "get_weather"
    assert schema["parameters"]["properties"]["city"]["type"] == "string"
    assert fake.requests[1]["messages"][-1]["content"] == "72F and sunny in NYC"
    assert result.token_usage is not None and result.token_usage.total_tokens == 30


def test_langchain_create_agent_with_a_tool(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    graph = create_agent(chat(), [get_weather, call_receipt], system_prompt="Be helpful.", name="helper")
    fake.script(
        FakeOpenAI.tool_calls([("call_receipt", {"order": "A1"})]),
        FakeOpenAI.text("Done."),
    )

    result = runtime.run(graph, "Receipt for A1")

    assert result.status == "COMPLETED", result.error
    assert result.output == "Done."
    # InjectedToolCallId gets the call's durable id (the same on every attempt); the model never
    # sees the injected argument.
    receipt = result.tool_calls[0]["result"]
    assert receipt.startswith("A1 via ") and len(receipt) > len("A1 via ")
    tools = {t["function"]["name"]: t["function"] for t in fake.requests[0]["tools"]}
    assert set(tools) == {"get_weather", "call_receipt"}
    assert set(tools["call_receipt"]["parameters"]["properties"]) == {"order"}
    assert fake.requests[0]["messages"][0] == {"role": "system", "content": "Be helpful."}


def test_invalid_arguments_go_back_to_the_model_without_retries(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    graph = create_agent(chat(), [get_weather], name="careless")
    fake.script(FakeOpenAI.tool_calls([("get_weather", {"town": "NYC"})]), FakeOpenAI.text("Sorry."))

    result = runtime.run(graph, "Weather?")

    assert result.status == "COMPLETED", result.error
    assert result.output == "Sorry."
    assert CALLS == []  # the tool never ran
    told = fake.requests[1]["messages"][-1]["content"]
    assert "invalid arguments for tool 'get_weather'" in told and "city" in told
    assert fake.request_count == 2


# --------------------------------------------------------------------------- structured output


def test_structured_output_of_both_prebuilt_agents(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    for graph in (
        react(chat(), [get_weather], response_format=WeatherReport, name="reporter1"),
        create_agent(chat(), [get_weather], response_format=WeatherReport, name="reporter2"),
    ):
        fake.reset()
        fake.script(FakeOpenAI.text(json.dumps({"city": "Oslo", "temperature": 3.5})))
        result = runtime.run(graph, "Weather in Oslo?")
        assert result.status == "COMPLETED", result.error
        assert result.output == WeatherReport(city="Oslo", temperature=3.5)
        assert "temperature" in json.dumps(fake.requests[0]["response_format"])


# --------------------------------------------------------------------------- streaming, approvals


def test_streaming_events(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    graph = create_agent(chat(), [get_weather], name="streamer")
    fake.script(FakeOpenAI.tool_calls([("get_weather", {"city": "Rome"})]), FakeOpenAI.text("Warm."))
    events = list(runtime.stream(graph, "Weather in Rome?"))
    types = [e.type for e in events]
    assert "tool_call" in types and "tool_result" in types and types[-1] == "done"
    assert events[-1].output == "Warm."


def test_human_in_the_loop_middleware_waits_for_a_person(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    graph = create_agent(
        chat(),
        [wire_money, get_weather],
        middleware=[HumanInTheLoopMiddleware(interrupt_on={"wire_money": True, "get_weather": False})],
        name="banker",
    )
    fake.script(FakeOpenAI.tool_calls([("wire_money", {"amount": 50})]), FakeOpenAI.text("Moved."))
    handle = runtime.start(graph, "Move 50")
    _wait_until_waiting(runtime, handle.execution_id)
    assert runtime.get_status(handle.execution_id).pending_tool is not None
    assert fake.request_count == 1  # nothing ran before the decision
    handle.approve()
    result = handle.join(timeout=30)
    assert result.output == "Moved."
    assert result.tool_calls[0]["result"] == "moved 50.0"
    assert result.tool_calls[0]["approval"]["approved"] is True


# --------------------------------------------------------------------------- mapping and refusals


@pytest.mark.anyio
async def test_interrupt_before_tools_makes_every_tool_approval_required() -> None:
    native = await to_agent(react(chat(), [get_weather, wire_money], interrupt_before=["tools"]))
    assert [t.approval_required for t in native.tools] == [True, True]
    plain = await to_agent(react(chat(), [get_weather]))
    assert [t.approval_required for t in plain.tools] == [False]


def test_model_settings_without_an_equivalent_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="agentspan.frameworks"):
        assert native_model(chat(top_p=0.5, seed=3))["model"] == "openai/gpt-4o-mini"
    assert "ignoring seed, top_p" in caplog.text


def test_chat_model_mapping() -> None:
    assert native_model(chat()) == {"model": "openai/gpt-4o-mini"}
    custom = native_model(chat(base_url="http://127.0.0.1:9/v1"))
    assert custom["base_url"] == "http://127.0.0.1:9/v1"  # the server decides whether it may call it
    assert "base_url" not in native_model(chat(base_url="https://api.openai.com/v1/"))  # the public default

    class Homemade(ChatOpenAI):
        pass

    with pytest.raises(ConfigurationError, match="Homemade: cannot be mapped"):
        native_model(Homemade(model="x", api_key="k"))  # type: ignore[arg-type]


def test_langchain_fake_chat_models_run_as_scripted_models(runtime: AgentRuntime) -> None:
    """LangChain's fake chat model scripts the run offline: the server answers from its
    replies (no model endpoint at all), and the tool runs as a durable worker task."""
    turn = AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Lima"}, "id": "t1"}])
    model = GenericFakeChatModel(messages=iter([turn, "Lima is sunny."]))
    graph = create_agent(model, [get_weather], name="offline_helper")

    result = runtime.run(graph, "Weather in Lima?")

    assert result.status == "COMPLETED", result.error
    assert result.output == "Lima is sunny."
    assert [c["args"] for c in result.tool_calls] == [{"city": "Lima"}]
    assert "Lima" in str(result.tool_calls[0]["result"])
    assert next(model.messages) == turn  # the replies were put back for LangChain's own use
    with pytest.raises(ConfigurationError, match="no replies"):
        native_model(FakeListChatModel(responses=[]))
    assert native_model(FakeListChatModel(responses=["hi"]))["model"].scripted_turns == [{"text": "hi"}]


def test_a_fake_chat_model_subclass_runs_create_react_agent_offline(runtime: AgentRuntime) -> None:
    """create_react_agent asks its model for ``bind_tools``, which the fake models lack; a
    subclass that adds it is still a fake model, and its replies script the run."""

    class ToolCallingFake(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFake:
            return self

    turn = AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": "t1"}])
    graph = react(ToolCallingFake(messages=iter([turn, "Cold."])), [get_weather], prompt="Be brief.")

    result = runtime.run(graph, "Weather in Oslo?")

    assert result.status == "COMPLETED", result.error
    assert result.output == "Cold."
    assert [c["args"] for c in result.tool_calls] == [{"city": "Oslo"}]


def test_detection() -> None:
    assert detect_framework(create_agent(chat(), [])) == "langgraph"
    assert detect_framework(react(chat(), [])) == "langgraph"
    assert detect_framework(get_weather) is None  # a tool alone is not an agent


def _custom_graph() -> Any:
    def shout(state: MessagesState) -> dict[str, Any]:
        return {"messages": [("ai", "HI")]}

    builder = StateGraph(MessagesState)
    builder.add_node("shout", shout)
    builder.add_edge(START, "shout")
    builder.add_edge("shout", END)
    return builder


@pytest.mark.anyio
async def test_what_cannot_be_carried_over_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="compiled with a checkpointer"):
        await to_agent(create_agent(chat(), [get_weather], checkpointer=InMemorySaver()))
    with pytest.raises(ConfigurationError, match="middleware ModelCallLimitMiddleware"):
        await to_agent(
            create_agent(chat(), [get_weather], middleware=[ModelCallLimitMiddleware(run_limit=2)])
        )
    with pytest.raises(ConfigurationError, match="prompt that is a function"):
        await to_agent(react(chat(), [get_weather], prompt=lambda state: state["messages"]))

    @tool
    def peek(city: str, state: Annotated[dict[str, Any], InjectedState]) -> str:
        """Reads the graph state."""
        return city

    with pytest.raises(ConfigurationError, match="InjectedState"):
        await to_agent(create_agent(chat(), [peek]))
    with pytest.raises(ConfigurationError, match="pre_model_hook of create_react_agent"):
        await to_agent(react(chat(), [get_weather], pre_model_hook=lambda state: {}))
    with pytest.raises(ConfigurationError, match="provider built-in tools are not supported yet: web_search"):
        await to_agent(create_agent(chat(), [get_weather, {"type": "web_search"}]))
    with pytest.raises(ConfigurationError, match="provider built-in tools are not supported yet: web_search"):
        await to_agent(react(chat(), [get_weather, {"type": "web_search"}]))
    with pytest.raises(ConfigurationError, match="interrupt_after='agent' is not supported"):
        await to_agent(react(chat(), [get_weather], interrupt_after=["agent"]))
    with pytest.raises(ConfigurationError, match="run context"):
        await to_agent(create_agent(chat(), [get_weather]), context={"user": "ada"})


def test_a_refused_graph_fails_at_start(runtime: AgentRuntime) -> None:
    with pytest.raises(ConfigurationError, match="static breakpoints"):
        runtime.run(_custom_graph().compile(interrupt_after=["shout"]), "hi")


def test_a_graph_of_your_own_nodes_runs_as_a_durable_graph(runtime: AgentRuntime) -> None:
    result = runtime.run(_custom_graph().compile(), "hi")  # tests/frameworks/test_langgraph_graph.py
    assert result.status == "COMPLETED" and result.output == "HI"
    assert [c["name"] for c in result.tool_calls] == ["shout"]
