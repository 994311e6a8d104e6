"""Lifecycle callbacks end to end: ``CallbackHandler`` subclasses and legacy callback
functions, a real server, the SDK's worker, and the fake OpenAI endpoint as the model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from agentspan.agents import Agent, AgentRuntime, CallbackHandler, tool

from fakes.openai_server import FakeOpenAI


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


@tool
def lookup_weather(city: str) -> dict[str, str]:
    """Get the current weather for a city."""
    return {"city": city, "condition": "sunny"}


class Recorder(CallbackHandler):
    """Remembers what each hook was given."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def on_agent_start(self, **kwargs: Any) -> None:
        self.seen.append(("agent_start", kwargs))

    def on_agent_end(self, **kwargs: Any) -> None:
        self.seen.append(("agent_end", kwargs))

    def on_model_start(self, **kwargs: Any) -> None:
        self.seen.append(("model_start", kwargs))

    def on_model_end(self, **kwargs: Any) -> None:
        self.seen.append(("model_end", kwargs))

    def on_tool_start(self, **kwargs: Any) -> None:
        self.seen.append(("tool_start", kwargs))

    def on_tool_end(self, **kwargs: Any) -> None:
        self.seen.append(("tool_end", kwargs))


def test_every_hook_receives_what_it_is_about(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("lookup_weather", {"city": "Tokyo"})]),
        FakeOpenAI.text("It is sunny in Tokyo."),
    )
    recorder = Recorder()
    agent = Agent(
        name="weather_cb",
        model="openai/gpt-4o",
        instructions="You are a helpful assistant.",
        tools=[lookup_weather],
        callbacks=[recorder],
    )
    result = runtime.run(agent, "What's the weather like in Tokyo?")
    assert result.status == "COMPLETED", result.error
    assert result.output == "It is sunny in Tokyo."
    assert [name for name, _ in recorder.seen] == [
        "agent_start",
        "model_start",
        "model_end",
        "tool_start",
        "tool_end",
        "model_start",
        "model_end",
        "agent_end",
    ]
    seen = dict(recorder.seen[:3])
    assert seen["agent_start"] == {"agent_name": "weather_cb", "prompt": "What's the weather like in Tokyo?"}
    first = seen["model_start"]["messages"]
    assert first == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What's the weather like in Tokyo?"},
    ]
    assert seen["model_end"]["llm_result"] == ""
    assert seen["model_end"]["tool_calls"] == [{"name": "lookup_weather", "arguments": '{"city": "Tokyo"}'}]
    tool_start, tool_end = recorder.seen[3][1], recorder.seen[4][1]
    assert tool_start["tool_name"] == "lookup_weather" and tool_start["arguments"] == {"city": "Tokyo"}
    assert tool_end["result"] == {"city": "Tokyo", "condition": "sunny"}
    second = recorder.seen[5][1]["messages"]
    assert len(second) == 4 and second[-1]["role"] == "tool"  # the conversation as sent
    assert recorder.seen[6][1]["llm_result"] == "It is sunny in Tokyo."
    assert recorder.seen[7][1]["output"] == "It is sunny in Tokyo."
    events = [e for e in result.events if e.type == "callback"]
    assert [e.content for e in events] == [
        "before_agent",
        "before_model",
        "after_model",
        "before_tool",
        "after_tool",
        "before_model",
        "after_model",
        "after_agent",
    ]
    assert all(e.data is not None and e.data["overridden"] is False for e in events)
    assert events[3].tool_name == "lookup_weather" and events[3].call_id == "c1"


def test_legacy_model_callbacks_see_messages_and_the_reply(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.text("Hello there!"))
    sent: list[int] = []
    replies: list[str] = []

    def log_before_model(messages: list[Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        sent.append(len(messages or []))
        return {}

    def inspect_after_model(llm_result: str | None = None) -> None:  # no **kwargs: still called
        replies.append(llm_result or "")

    with pytest.warns(DeprecationWarning):
        agent = Agent(
            name="legacy_cb",
            model="openai/gpt-4o",
            before_model_callback=log_before_model,
            after_model_callback=inspect_after_model,
        )
    result = runtime.run(agent, "Hello!")
    assert result.status == "COMPLETED" and result.output == "Hello there!"
    assert sent == [1] and replies == ["Hello there!"]


class Cache(CallbackHandler):
    def on_model_start(self, **kwargs: Any) -> dict[str, Any]:
        return {"response": "cached answer"}


def test_before_model_with_a_response_skips_the_model(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    result = runtime.run(Agent(name="cached_cb", model="openai/gpt-4o", callbacks=[Cache()]), "hi")
    assert result.status == "COMPLETED" and result.output == "cached answer"
    assert fake.request_count == 0, "the model is not called"
    assert [e.data["overridden"] for e in result.events if e.type == "callback" and e.data] == [True]


class Polite(CallbackHandler):
    def on_model_end(self, *, llm_result: str = "", **kwargs: Any) -> dict[str, Any] | None:
        if "rude" in llm_result:
            return {"response": "I'd rather not say."}
        return None


class NeverCalled(CallbackHandler):
    calls = 0

    def on_model_end(self, **kwargs: Any) -> None:
        NeverCalled.calls += 1


def test_after_model_replaces_the_reply_and_the_chain_stops_at_the_first_answer(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(FakeOpenAI.text("a rude reply"))
    agent = Agent(name="polite_cb", model="openai/gpt-4o", callbacks=[Polite(), NeverCalled()])
    result = runtime.run(agent, "say something")
    assert result.output == "I'd rather not say."
    assert "rude" not in json.dumps(result.output)
    assert NeverCalled.calls == 0


class ToolGate(CallbackHandler):
    def on_tool_start(self, *, tool_name: str = "", arguments: Any = None, **kwargs: Any) -> Any:
        if (arguments or {}).get("city") == "Atlantis":
            return {"result": {"error": "no such city"}}
        return None

    def on_tool_end(self, *, result: Any = None, **kwargs: Any) -> Any:
        if isinstance(result, dict) and result.get("condition") == "sunny":
            return {"result": {**result, "condition": "sunny (checked)"}}
        return None


ran: list[str] = []


@tool
def weather(city: str) -> dict[str, str]:
    """Weather in a city."""
    ran.append(city)
    return {"city": city, "condition": "sunny"}


def test_tool_callbacks_skip_a_call_and_replace_a_result(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    ran.clear()
    fake.script(
        FakeOpenAI.tool_calls([("weather", {"city": "Atlantis"}), ("weather", {"city": "Paris"})]),
        FakeOpenAI.text("done"),
    )
    agent = Agent(name="toolgate_cb", model="openai/gpt-4o", tools=[weather], callbacks=[ToolGate()])
    result = runtime.run(agent, "weather in Atlantis and Paris")
    assert result.status == "COMPLETED", result.error
    assert ran == ["Paris"], "the skipped call never reached the tool"
    tool_messages = [m for m in fake.requests[1]["messages"] if m["role"] == "tool"]
    assert json.loads(tool_messages[0]["content"]) == {"error": "no such city"}
    assert json.loads(tool_messages[1]["content"])["condition"] == "sunny (checked)"


class Broken(CallbackHandler):
    def on_model_start(self, **kwargs: Any) -> None:
        raise RuntimeError("logging backend down")


class Wrapper(CallbackHandler):
    def on_agent_end(self, *, output: Any = None, **kwargs: Any) -> dict[str, Any]:
        return {"response": f"[{output}]"}


def test_a_failing_hook_is_reported_and_never_breaks_the_run(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.text("fine"))
    agent = Agent(name="broken_cb", model="openai/gpt-4o", callbacks=[Broken(), Wrapper()])
    result = runtime.run(agent, "hello")
    assert result.status == "COMPLETED" and result.output == "[fine]"  # after_agent replaced it
    failed = next(e for e in result.events if e.type == "callback" and e.content == "before_model")
    assert failed.data is not None
    assert failed.data["errors"] == ["Broken.on_model_start: RuntimeError: logging backend down"]
