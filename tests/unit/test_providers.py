"""Provider adapters: OpenAI wire protocol (against a real fake server), registry, offline model."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentspan.protocol.messages import ChatMessage, UserMessage
from agentspan.server.providers import (
    LlmRequest,
    LlmResponse,
    LlmToolCall,
    LlmToolSpec,
    ProviderError,
    ProviderRegistry,
)
from agentspan.server.providers.offline import OfflineProvider, find_entity
from agentspan.server.providers.openai import OpenAIProvider

# tests/ is not a package, so put it on sys.path to import its helper packages (tests/fakes)
# however pytest is started; a no-op once a conftest or ``pythonpath`` setting does the same.
_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from fakes.openai_server import FakeOpenAI  # noqa: E402


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


WEATHER = LlmToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "days": {"type": "integer", "minimum": 1},
            "units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"},
        },
        "required": ["city", "days"],
        "additionalProperties": False,
    },
)
SEARCH = LlmToolSpec(
    name="search",
    description="Web search.",
    parameters={
        "type": "object",
        "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["query"],
    },
)
# Exercises every value rule of the offline model at once.
KITCHEN_SINK = LlmToolSpec(
    name="book",
    description="Book something.",
    parameters={
        "type": "object",
        "$defs": {
            "Place": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "zip": {"type": ["string", "null"]}},
                "required": ["name"],
            }
        },
        "properties": {
            "place": {"$ref": "#/$defs/Place"},
            "guests": {"type": "number"},
            "nights": {"type": "integer", "maximum": 2},
            "confirm": {"type": "boolean"},
            "kind": {"enum": ["hotel", "hostel"]},
            "version": {"const": 2},
            "tags": {"type": "array", "items": {"type": "string"}},
            "rooms": {"type": "array", "minItems": 2, "items": {"type": "integer"}},
            "note": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 3}]},
            "message": {"type": "string"},
        },
        "required": [
            "place",
            "guests",
            "nights",
            "confirm",
            "kind",
            "version",
            "tags",
            "rooms",
            "note",
            "message",
        ],
    },
)


def _user(text: str) -> UserMessage:
    return {"role": "user", "content": text}


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _check(schema: dict[str, Any], value: Any, root: dict[str, Any] | None = None) -> None:
    """A deliberately small JSON Schema check covering the keywords these tests use."""
    root = root if root is not None else schema
    if "$ref" in schema:
        _check(root["$defs"][schema["$ref"].rsplit("/", 1)[1]], value, root)
        return
    if "anyOf" in schema:
        _check_any_of(schema["anyOf"], value, root)
        return
    if "const" in schema:
        assert value == schema["const"]
    if "enum" in schema:
        assert value in schema["enum"]
    _check_type(schema.get("type"), value)
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"missing required {key!r} in {value!r}"
        if schema.get("additionalProperties") is False:
            assert set(value) <= set(schema.get("properties", {}))
        for key, item in value.items():
            if key in schema.get("properties", {}):
                _check(schema["properties"][key], item, root)
    if isinstance(value, list):
        assert len(value) >= schema.get("minItems", 0)
        for item in value:
            _check(schema.get("items", {}), item, root)
    if isinstance(value, str):
        assert len(value) <= schema.get("maxLength", len(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        assert schema.get("minimum", value) <= value <= schema.get("maximum", value)


def _check_any_of(branches: list[dict[str, Any]], value: Any, root: dict[str, Any]) -> None:
    errors = []
    for branch in branches:
        try:
            _check(branch, value, root)
            return
        except AssertionError as exc:
            errors.append(str(exc))
    raise AssertionError(f"{value!r} matches no anyOf branch: {errors}")


def _check_type(types: str | list[str] | None, value: Any) -> None:
    if types is None:
        return
    allowed = types if isinstance(types, list) else [types]
    # bool is an int subclass in Python but not a JSON number.
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = any(
        (is_number if t in ("integer", "number") else isinstance(value, _PY_TYPES[t]))
        and (t != "integer" or isinstance(value, int))
        for t in allowed
    )
    assert ok, f"{value!r} is not of type {types}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- OpenAI adapter ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_openai_round_trip_request_shape_and_parsing(fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.tool_calls([("get_weather", {"city": "NYC"}), ("search", '{"query": "oops')]))
    request = LlmRequest(
        model="gpt-4o",
        instructions="You are helpful.",
        messages=[
            _user("Weather in NYC?"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": "{not json"}],
            },
            {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "error: bad args"},
        ],
        tools=[WEATHER, SEARCH],
        temperature=0.2,
    )
    provider = OpenAIProvider("sk-test-key", fake.base_url)
    try:
        response = await provider.complete(request)
    finally:
        await provider.aclose()

    sent = fake.requests[0]
    assert sent["model"] == "gpt-4o"
    assert sent["messages"] == [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Weather in NYC?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{not json"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "error: bad args"},
    ]
    assert sent["tools"][0] == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": WEATHER.parameters,
        },
    }
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather", "search"]
    assert sent["temperature"] == 0.2
    assert "max_tokens" not in sent
    assert "response_format" not in sent
    assert fake.request_headers[0]["authorization"] == "Bearer sk-test-key"

    assert response.content is None
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls == [
        LlmToolCall(id="call_1", name="get_weather", arguments='{"city": "NYC"}'),
        LlmToolCall(id="call_2", name="search", arguments='{"query": "oops'),
    ]
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (10, 5)
    assert response.usage.total_tokens == 15


@pytest.mark.anyio
async def test_openai_text_reply_output_schema_and_a_keyless_caller_base_url(fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.text('{"answer": "42"}'))
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    # The operator's endpoint is a closed port: only the caller's base URL can succeed.
    registry = ProviderRegistry(
        env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": f"http://127.0.0.1:{_free_port()}/v1"}
    )
    try:
        provider, model = registry.resolve("openai/m", caller_base_url=fake.base_url)
        response = await provider.complete(
            LlmRequest(model=model, messages=[_user("hi")], max_tokens=64, output_schema=schema)
        )
    finally:
        await registry.aclose()
    assert "authorization" not in fake.request_headers[0]
    assert "sk-test" not in repr(fake.request_headers)
    assert response == LlmResponse(
        content='{"answer": "42"}', usage=response.usage, finish_reason="stop", tool_calls=[]
    )
    sent = fake.requests[0]
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert sent["max_tokens"] == 64
    assert "temperature" not in sent
    assert "tools" not in sent
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema},
    }


@pytest.mark.anyio
async def test_openai_429_is_retryable_with_retry_after(fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.error(429, "Rate limit reached", retry_after=7), FakeOpenAI.error(503, "overloaded")
    )
    provider = OpenAIProvider("sk-test", fake.base_url)
    try:
        with pytest.raises(ProviderError) as rate_limited:
            await provider.complete(LlmRequest(model="m", messages=[_user("hi")]))
        with pytest.raises(ProviderError) as unavailable:
            await provider.complete(LlmRequest(model="m", messages=[_user("hi")]))
    finally:
        await provider.aclose()
    assert rate_limited.value.retryable is True
    assert rate_limited.value.retry_after == 7.0
    assert "429" in str(rate_limited.value)
    assert "Rate limit reached" in str(rate_limited.value)
    assert unavailable.value.retryable is True
    assert unavailable.value.retry_after is None


@pytest.mark.anyio
async def test_openai_400_is_not_retryable_and_never_leaks_the_key(fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.error(400, "Invalid value for 'model'"),
        FakeOpenAI.error(401, "Incorrect API key sk-secret-9"),
    )
    provider = OpenAIProvider("sk-secret-9", fake.base_url)
    try:
        with pytest.raises(ProviderError) as bad_request:
            await provider.complete(LlmRequest(model="m", messages=[_user("hi")]))
        with pytest.raises(ProviderError) as unauthorized:
            await provider.complete(LlmRequest(model="m", messages=[_user("hi")]))
    finally:
        await provider.aclose()
    assert bad_request.value.retryable is False
    assert "400" in str(bad_request.value)
    assert "Invalid value for 'model'" in str(bad_request.value)
    assert unauthorized.value.retryable is False
    assert "401" in str(unauthorized.value)
    assert "sk-secret-9" not in str(unauthorized.value)


@pytest.mark.anyio
@pytest.mark.parametrize("body", ["this is not json", '{"choices": []}', '{"choices": [{"message": 3}]}'])
async def test_openai_unexpected_2xx_body_is_not_retryable(fake: FakeOpenAI, body: str) -> None:
    fake.script(FakeOpenAI.raw(200, body))
    provider = OpenAIProvider(None, fake.base_url)
    try:
        with pytest.raises(ProviderError) as error:
            await provider.complete(LlmRequest(model="m", messages=[_user("hi")]))
    finally:
        await provider.aclose()
    assert error.value.retryable is False
    assert "OpenAI" in str(error.value)


@pytest.mark.anyio
async def test_openai_connection_error_and_timeout_are_retryable(fake: FakeOpenAI) -> None:
    unreachable = OpenAIProvider("sk-test", f"http://127.0.0.1:{_free_port()}/v1")
    slow = OpenAIProvider("sk-test", fake.base_url, timeout=0.2)
    fake.script(FakeOpenAI.text("too late", delay=1.0))
    try:
        with pytest.raises(ProviderError) as refused:
            await unreachable.complete(LlmRequest(model="m", messages=[_user("hi")]))
        with pytest.raises(ProviderError) as timed_out:
            await slow.complete(LlmRequest(model="m", messages=[_user("hi")]))
    finally:
        await unreachable.aclose()
        await slow.aclose()
    assert refused.value.retryable is True
    assert timed_out.value.retryable is True
    assert "timed out" in str(timed_out.value)


# -- registry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-4o", "openai/", "/gpt-4o", ""])
def test_registry_rejects_malformed_model_strings(model: str) -> None:
    with pytest.raises(ProviderError, match="provider/model-name") as error:
        ProviderRegistry(env={"OPENAI_API_KEY": "k"}).resolve(model)
    assert error.value.retryable is False


def test_registry_unknown_provider_lists_valid_names() -> None:
    with pytest.raises(ProviderError) as error:
        ProviderRegistry(env={}).resolve("nosuch/claude")
    assert error.value.retryable is False
    message = str(error.value)
    assert "nosuch" in message
    for name in ("anthropic", "google_gemini", "offline", "openai", "scripted"):
        assert name in message


def test_registry_openai_without_key_names_the_env_var() -> None:
    with pytest.raises(ProviderError, match="OPENAI_API_KEY") as error:
        ProviderRegistry(env={}).resolve("openai/gpt-4o")
    assert error.value.retryable is False


@pytest.mark.anyio
async def test_registry_resolves_and_reuses_adapters_reading_env_lazily() -> None:
    env: dict[str, str] = {}
    registry = ProviderRegistry(env=env)
    try:
        offline, name = registry.resolve("offline/basic")
        assert isinstance(offline, OfflineProvider)
        assert name == "basic"
        env["OPENAI_API_KEY"] = "sk-late"  # set after construction: must still be seen
        first, name = registry.resolve("openai/gpt-4o")
        second, other = registry.resolve("openai/org/fine-tuned")
        assert isinstance(first, OpenAIProvider)
        assert first is second
        assert (name, other) == ("gpt-4o", "org/fine-tuned")
        assert registry.resolve("offline/other")[0] is offline
    finally:
        await registry.aclose()


@pytest.mark.anyio
async def test_registry_base_url_without_key_sends_no_authorization(fake: FakeOpenAI) -> None:
    registry = ProviderRegistry(env={"OPENAI_BASE_URL": fake.base_url})
    try:
        provider, name = registry.resolve("openai/local-llama")
        response = await provider.complete(LlmRequest(model=name, messages=[_user("hi")]))
    finally:
        await registry.aclose()
    assert response.content == "fake final answer"
    assert fake.requests[0]["model"] == "local-llama"
    assert "authorization" not in fake.request_headers[0]


# -- offline model ----------------------------------------------------------------------------


async def _offline(request: LlmRequest) -> LlmResponse:
    return await OfflineProvider().complete(request)


@pytest.mark.anyio
async def test_offline_calls_every_tool_with_schema_valid_arguments() -> None:
    prompt = "What's the weather in NYC for 3 days?"
    response = await _offline(LlmRequest(model="basic", messages=[_user(prompt)], tools=[WEATHER, SEARCH]))
    assert response.finish_reason == "tool_calls"
    assert response.content is None
    assert [(c.id, c.name) for c in response.tool_calls] == [("call_1", "get_weather"), ("call_2", "search")]
    weather = json.loads(response.tool_calls[0].arguments)
    search = json.loads(response.tool_calls[1].arguments)
    assert weather == {"city": "NYC", "days": 3}
    assert search == {"query": prompt}
    _check(WEATHER.parameters, weather)
    _check(SEARCH.parameters, search)


@pytest.mark.anyio
async def test_offline_value_rules_cover_refs_enums_arrays_and_unions() -> None:
    prompt = "Book a room in Lisbon for 4 guests and 5 nights"
    response = await _offline(LlmRequest(model="basic", messages=[_user(prompt)], tools=[KITCHEN_SINK]))
    args = json.loads(response.tool_calls[0].arguments)
    _check(KITCHEN_SINK.parameters, args)
    assert args == {
        "place": {"name": "Lisbon"},
        "guests": 4,
        "nights": 2,  # the prompt's 5 clamped to the maximum
        "confirm": True,
        "kind": "hotel",
        "version": 2,
        "tags": [],
        "rooms": [1, 1],
        "note": "Lis",
        "message": prompt,
    }


@pytest.mark.parametrize(
    ("prompt", "entity"),
    [
        ("What's the weather in NYC?", "NYC"),
        ("Can I fly to New York tomorrow?", "New York"),
        ("Paris is lovely. Is Berlin too?", "Berlin"),
        ("how are you", None),
    ],
)
def test_offline_entity_extraction(prompt: str, entity: str | None) -> None:
    assert find_entity(prompt) == entity


@pytest.mark.anyio
async def test_offline_answers_with_tool_results_then_uses_fresh_ids_next_turn() -> None:
    first = await _offline(
        LlmRequest(model="basic", messages=[_user("What's the weather in NYC?")], tools=[WEATHER, SEARCH])
    )
    long_result = "x" * 800
    history: list[ChatMessage] = [
        _user("What's the weather in NYC?"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in first.tool_calls],
        },
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "Sunny, 22C"},
        {"role": "tool", "tool_call_id": "call_2", "content": long_result},
    ]
    answer = await _offline(LlmRequest(model="basic", messages=history, tools=[WEATHER, SEARCH]))
    assert answer.tool_calls == []
    assert answer.finish_reason == "stop"
    assert answer.content == f"Here is what I found:\n- get_weather: Sunny, 22C\n- search: {'x' * 500}"

    history += [{"role": "assistant", "content": answer.content}, _user("And in LA?")]
    again = await _offline(LlmRequest(model="basic", messages=history, tools=[WEATHER]))
    assert [c.id for c in again.tool_calls] == ["call_3"]
    assert json.loads(again.tool_calls[0].arguments)["city"] == "LA"


@pytest.mark.anyio
async def test_offline_plain_reply_and_usage() -> None:
    response = await _offline(
        LlmRequest(model="basic", instructions="Be brief.", messages=[_user("hello there world")])
    )
    assert response.content == "Offline model reply to: hello there world"
    assert response.finish_reason == "stop"
    assert response.usage.prompt_tokens == 5  # 2 instruction words + 3 prompt words
    assert response.usage.completion_tokens == 7


@pytest.mark.anyio
async def test_offline_output_schema_reply_is_valid_json() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "temperature": {"type": "number"},
            "sunny": {"type": "boolean"},
            "summary": {"type": "string"},
        },
        "required": ["city", "temperature", "sunny"],
    }
    response = await _offline(
        LlmRequest(model="basic", messages=[_user("Is it 21 degrees in Oslo?")], output_schema=schema)
    )
    assert response.content is not None
    document = json.loads(response.content)
    _check(schema, document)
    assert document == {"city": "Oslo", "temperature": 21, "sunny": True}


@pytest.mark.anyio
async def test_offline_is_deterministic() -> None:
    request = LlmRequest(
        model="basic",
        instructions="Use tools.",
        messages=[_user("Find flights from SFO to Tokyo for 2 people")],
        tools=[WEATHER, SEARCH, KITCHEN_SINK],
    )
    first = await _offline(request)
    second = await OfflineProvider().complete(request)
    assert first == second
    assert json.dumps([c.arguments for c in first.tool_calls]) == json.dumps(
        [c.arguments for c in second.tool_calls]
    )


def test_model_requests_can_be_switched_off_for_tests() -> None:
    registry = ProviderRegistry(env={"AGENTSPAN_ALLOW_MODEL_REQUESTS": "false", "OPENAI_API_KEY": "sk-x"})
    with pytest.raises(ProviderError, match="AGENTSPAN_ALLOW_MODEL_REQUESTS") as error:
        registry.resolve("openai/gpt-4o")
    assert error.value.retryable is False
    provider, name = registry.resolve("offline/basic")
    assert name == "basic" and provider is not None
    assert registry.resolve("scripted/model")[1] == "model"
