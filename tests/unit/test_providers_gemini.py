"""Gemini adapter against a real fake server (request shapes, parsing, streaming, schemas)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from agentspan.protocol.messages import AssistantMessage, ChatMessage, MessageToolCall, UserMessage
from agentspan.server.providers.base import (
    LlmRequest,
    LlmResponse,
    LlmToolCall,
    LlmToolSpec,
    LlmUsage,
    ProviderError,
)
from agentspan.server.providers.gemini import (
    SKIP_THOUGHT_SIGNATURE,
    GeminiProvider,
    build_payload,
    clean_schema,
    function_declaration,
    model_url,
    tool_response,
)
from agentspan.server.providers.registry import ProviderRegistry

from fakes._http import FakeReply, word_pieces
from fakes.gemini_server import FakeGemini, schema_problem

KEY = "AIza-test-key"
MODEL = "gemini-2.5-flash"
WEATHER = LlmToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "GetWeather",
        "type": "object",
        "properties": {
            "city": {"type": "string", "title": "City"},
            "units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
)
WEATHER_CLEAN = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "units": {"type": "string", "enum": ["metric", "imperial"]}},
    "required": ["city"],
}
SEARCH = LlmToolSpec(
    name="search",
    description="Web search.",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
)


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


def _user(text: str, media: list[str] | None = None) -> UserMessage:
    message: UserMessage = {"role": "user", "content": text}
    if media is not None:
        message["media"] = media
    return message


def _assistant(response: LlmResponse) -> AssistantMessage:
    calls: list[MessageToolCall] = [
        {"id": c.id, "name": c.name, "arguments": c.arguments} for c in response.tool_calls
    ]
    return {"role": "assistant", "content": response.content, "tool_calls": calls}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _complete(fake: FakeGemini, request: LlmRequest, deltas: list[str] | None = None) -> LlmResponse:
    provider = GeminiProvider(KEY, fake.base_url)
    try:
        return await provider.complete(request, None if deltas is None else deltas.append)
    finally:
        await provider.aclose()


async def _fail(fake: FakeGemini, request: LlmRequest, *, stream: bool = False) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await _complete(fake, request, [] if stream else None)
    return caught.value


# -- plain answers and tools --------------------------------------------------------------------


@pytest.mark.anyio
async def test_plain_answer_request_shape_and_parsing(fake: FakeGemini) -> None:
    fake.script(FakeGemini.text("Hello there!"))
    request = LlmRequest(
        model=MODEL, messages=[_user("hi")], instructions="Be brief.", temperature=0.2, max_tokens=99
    )
    response = await _complete(fake, request)

    assert fake.request_paths == [f"/v1beta/models/{MODEL}:generateContent"]
    assert fake.request_headers[0]["x-goog-api-key"] == KEY
    assert KEY not in fake.request_paths[0]
    assert fake.requests[0] == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 99},
    }
    assert response == LlmResponse(
        content="Hello there!",
        usage=LlmUsage(prompt_tokens=10, completion_tokens=5),
        finish_reason="STOP",
    )


@pytest.mark.anyio
async def test_tool_call_then_tool_result_round_trip(fake: FakeGemini) -> None:
    fake.script(
        FakeGemini.tool_calls(
            [("get_weather", {"city": "NYC"}), ("search", {"query": "umbrella"})], content="Checking."
        ),
        FakeGemini.tool_calls([("search", {"query": "forecast"})]),
        FakeGemini.text("Sunny."),
    )
    # A gemini-3 model: the fake, like the API, rejects replayed calls without a thought signature.
    model = "gemini-3-pro-preview"
    conversation: list[ChatMessage] = [_user("Weather in NYC?")]
    first = await _complete(fake, LlmRequest(model=model, messages=conversation, tools=[WEATHER, SEARCH]))

    assert fake.requests[0]["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Current weather for a city.",
                    "parameters": WEATHER_CLEAN,
                },
                {"name": "search", "description": "Web search.", "parameters": SEARCH.parameters},
            ]
        }
    ]
    assert first.content == "Checking."
    # Gemini sends no ids: they are numbered over the conversation.
    assert first.tool_calls == [
        LlmToolCall(id="call_1", name="get_weather", arguments='{"city": "NYC"}'),
        LlmToolCall(id="call_2", name="search", arguments='{"query": "umbrella"}'),
    ]

    conversation += [
        _assistant(first),
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": '{"sky": "clear"}'},
        {"role": "tool", "tool_call_id": "call_2", "name": "search", "content": "no results"},
    ]
    second = await _complete(fake, LlmRequest(model=model, messages=conversation, tools=[WEATHER, SEARCH]))
    assert fake.requests[1]["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in NYC?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Checking."},
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "NYC"}},
                    "thoughtSignature": SKIP_THOUGHT_SIGNATURE,
                },
                {"functionCall": {"name": "search", "args": {"query": "umbrella"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"sky": "clear"}}},
                {"functionResponse": {"name": "search", "response": {"result": "no results"}}},
            ],
        },
    ]
    assert second.tool_calls == [LlmToolCall(id="call_3", name="search", arguments='{"query": "forecast"}')]

    conversation += [
        _assistant(second),
        {"role": "tool", "tool_call_id": "call_3", "name": "search", "content": "[]"},
    ]
    third = await _complete(fake, LlmRequest(model=model, messages=conversation, tools=[WEATHER, SEARCH]))
    assert third.content == "Sunny."
    assert fake.requests[2]["contents"][-1] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "search", "response": {"result": []}}}],
    }


def test_tool_response_shapes() -> None:
    assert tool_response('{"a": 1}') == {"a": 1}
    assert tool_response("[1, 2]") == {"result": [1, 2]}
    assert tool_response("plain text") == {"result": "plain text"}
    assert tool_response("") == {"result": ""}
    assert tool_response(None) == {"result": ""}


@pytest.mark.anyio
async def test_malformed_tool_call_arguments(fake: FakeGemini) -> None:
    # In history: unparseable arguments become {} and the request is still accepted.
    fake.script(FakeGemini.tool_calls([("search", "not an object")]))
    conversation: list[ChatMessage] = [
        _user("find it"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "name": "search", "arguments": "{bad"}],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "name": "search",
            "content": "error: arguments are not JSON",
        },
    ]
    response = await _complete(fake, LlmRequest(model=MODEL, messages=conversation, tools=[SEARCH]))
    assert fake.requests[0]["contents"][1]["parts"] == [
        {"functionCall": {"name": "search", "args": {}}, "thoughtSignature": SKIP_THOUGHT_SIGNATURE}
    ]
    # In a reply: arguments that are not an object are passed through as text.
    assert response.tool_calls == [LlmToolCall(id="call_2", name="search", arguments="not an object")]


def _candidate(parts: list[dict[str, Any]], finish: str | None = "STOP") -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate]}


# -- structured output, thinking, media ---------------------------------------------------------


@pytest.mark.anyio
async def test_structured_output_uses_a_cleaned_response_schema(fake: FakeGemini) -> None:
    fake.script(FakeGemini.text('{"answer": "42", "confidence": 0.9}'))
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "answer": {"type": "string", "title": "Answer"},
            "confidence": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
        },
        "required": ["answer"],
        "additionalProperties": False,
    }
    response = await _complete(
        fake, LlmRequest(model=MODEL, messages=[_user("meaning of life?")], output_schema=schema)
    )

    assert fake.requests[0]["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "object",
            "properties": {"answer": {"type": "string"}, "confidence": {"type": "number", "nullable": True}},
            "required": ["answer"],
        },
    }
    assert response.content == '{"answer": "42", "confidence": 0.9}'
    assert json.loads(response.content or "") == {"answer": "42", "confidence": 0.9}


@pytest.mark.anyio
async def test_thinking_budget_mapping(fake: FakeGemini) -> None:
    fake.script(FakeGemini.text("Paris.", thinking="Capital of France.", reasoning_tokens=12))
    response = await _complete(
        fake, LlmRequest(model=MODEL, messages=[_user("capital?")], thinking_budget_tokens=1024)
    )

    assert fake.requests[0]["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}
    }
    assert response.content == "Paris."  # thought parts are not part of the answer
    assert response.thinking == "Capital of France."
    assert response.usage.reasoning_tokens == 12

    disabled = build_payload(LlmRequest(model=MODEL, messages=[_user("x")], thinking_budget_tokens=0))
    assert disabled["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 0}}


@pytest.mark.anyio
async def test_media_becomes_file_and_inline_data(fake: FakeGemini) -> None:
    fake.script(FakeGemini.text("A cat."))
    media = [
        "https://example.com/cat.PNG",
        "https://example.com/report.pdf?download=1",
        "https://example.com/blob",
        "data:image/jpeg;base64,/9j/4AAQ",
        "data:text/plain,hello%20world",
    ]
    await _complete(fake, LlmRequest(model=MODEL, messages=[_user("What is this?", media)]))
    assert fake.requests[0]["contents"][0]["parts"] == [
        {"fileData": {"fileUri": "https://example.com/cat.PNG", "mimeType": "image/png"}},
        {"fileData": {"fileUri": "https://example.com/report.pdf?download=1", "mimeType": "application/pdf"}},
        {"fileData": {"fileUri": "https://example.com/blob"}},
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
        {"inlineData": {"mimeType": "text/plain", "data": "aGVsbG8gd29ybGQ="}},
        {"text": "What is this?"},
    ]


# -- streaming ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_streaming_text_with_thoughts(fake: FakeGemini) -> None:
    answer = "The capital of France is Paris, of course."
    fake.script(FakeGemini.text(answer, thinking="Easy geography question.", reasoning_tokens=3))
    deltas: list[str] = []
    response = await _complete(fake, LlmRequest(model=MODEL, messages=[_user("capital?")]), deltas)

    assert fake.request_paths == [f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"]
    assert fake.request_headers[0]["accept"] == "text/event-stream"
    assert deltas == word_pieces(answer)
    assert len(deltas) > 1
    assert response.content == "".join(deltas) == answer
    assert response.thinking == "Easy geography question."
    assert response.finish_reason == "STOP"
    # The last chunk's totals win over the running counts of earlier chunks.
    assert response.usage == LlmUsage(prompt_tokens=10, completion_tokens=8, reasoning_tokens=3)


@pytest.mark.anyio
async def test_streaming_tool_calls(fake: FakeGemini) -> None:
    fake.script(
        FakeGemini.tool_calls(
            [("get_weather", {"city": "New York"}), ("search", {"query": "rain"})], content="On it."
        )
    )
    deltas: list[str] = []
    history: list[ChatMessage] = [
        _user("earlier"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "name": "search", "arguments": "{}"}],
        },
        {"role": "tool", "tool_call_id": "call_1", "name": "search", "content": "[]"},
        {"role": "assistant", "content": "Nothing found."},
        _user("weather?"),
    ]
    response = await _complete(
        fake, LlmRequest(model=MODEL, messages=history, tools=[WEATHER, SEARCH]), deltas
    )
    assert deltas == ["On ", "it."]
    assert response.tool_calls == [
        LlmToolCall(id="call_2", name="get_weather", arguments='{"city": "New York"}'),
        LlmToolCall(id="call_3", name="search", arguments='{"query": "rain"}'),
    ]


@pytest.mark.anyio
async def test_streaming_failures(fake: FakeGemini) -> None:
    deltas: list[str] = []
    fake.script(FakeGemini.text("partial answer here", stream_error="The model is overloaded."))
    with pytest.raises(ProviderError) as overloaded:
        await _complete(fake, LlmRequest(model=MODEL, messages=[_user("hi")]), deltas)
    assert overloaded.value.retryable is True
    assert "UNAVAILABLE: The model is overloaded." in str(overloaded.value)

    fake.script(FakeGemini.raw(200, json.dumps({"error": {"code": 400, "message": f"bad key {KEY}"}})))
    in_body = await _fail(fake, LlmRequest(model=MODEL, messages=[_user("hi")]))
    assert in_body.retryable is False
    assert KEY not in str(in_body)
    assert deltas == ["partial "]

    cut_body = f"data: {json.dumps(_candidate([{'text': 'half'}], finish=None))}\r\n\r\n"
    fake.script(FakeGemini.raw(200, cut_body, "text/event-stream"))
    cut = await _fail(fake, LlmRequest(model=MODEL, messages=[_user("hi")]), stream=True)
    assert cut.retryable is True
    assert "finishReason" in str(cut)

    fake.script(FakeGemini.error(429, "Quota exceeded", retry_after=4))
    limited = await _fail(fake, LlmRequest(model=MODEL, messages=[_user("hi")]), stream=True)
    assert (limited.retryable, limited.retry_after) == (True, 4.0)


# -- usage, errors, URLs ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_usage_includes_cached_and_thought_tokens(fake: FakeGemini) -> None:
    reply = FakeGemini.text("cached", cached_tokens=4, reasoning_tokens=6)
    fake.script(reply, reply)
    plain = await _complete(fake, LlmRequest(model=MODEL, messages=[_user("hi")]))
    streamed = await _complete(fake, LlmRequest(model=MODEL, messages=[_user("hi")]), [])
    # promptTokenCount already includes cached tokens; thoughts are added to completion.
    expected = LlmUsage(prompt_tokens=14, completion_tokens=11, cached_tokens=4, reasoning_tokens=6)
    assert plain.usage == expected
    assert streamed.usage == expected


@pytest.mark.anyio
async def test_429_and_5xx_are_retryable(fake: FakeGemini) -> None:
    fake.script(
        FakeGemini.error(429, "Resource has been exhausted (e.g. check quota).", retry_after=37),
        FakeGemini.error(503, "The model is overloaded. Please try again later."),
        FakeReply(status=429, error_message="slow down", retry_after=30, headers=(("Retry-After", "2"),)),
    )
    exhausted = await _fail(fake, LlmRequest(model=MODEL, messages=[_user("hi")]))
    unavailable = await _fail(fake, LlmRequest(model=MODEL, messages=[_user("hi")]))
    header = await _fail(fake, LlmRequest(model=MODEL, messages=[_user("hi")]))
    assert (exhausted.retryable, exhausted.retry_after) == (True, 37.0)
    assert "429" in str(exhausted)
    assert "RESOURCE_EXHAUSTED: Resource has been exhausted" in str(exhausted)
    assert (unavailable.retryable, unavailable.retry_after) == (True, None)
    assert header.retry_after == 2.0  # a Retry-After header wins over the RetryInfo detail


@pytest.mark.anyio
async def test_400_is_not_retryable_and_never_leaks_the_key(fake: FakeGemini) -> None:
    fake.script(
        FakeGemini.error(
            400, "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty."
        ),
        FakeGemini.error(403, f"key {KEY} lacks permission"),
    )
    bad = await _fail(fake, LlmRequest(model=MODEL, messages=[_user("hi")]))
    forbidden = await _fail(fake, LlmRequest(model=MODEL, messages=[_user("hi")]))
    assert bad.retryable is False
    assert "400" in str(bad)
    assert "INVALID_ARGUMENT: * GenerateContentRequest.contents[0].parts" in str(bad)
    assert forbidden.retryable is False
    assert KEY not in str(forbidden)


@pytest.mark.anyio
async def test_wrong_key_and_blocked_prompt_are_not_retryable(fake: FakeGemini) -> None:
    with FakeGemini(api_key="the-right-key") as strict:
        wrong_key = await _fail(strict, LlmRequest(model=MODEL, messages=[_user("hi")]))
    assert wrong_key.retryable is False
    assert "API key not valid" in str(wrong_key)

    fake.script(FakeGemini.raw(200, json.dumps({"promptFeedback": {"blockReason": "SAFETY"}})))
    blocked = await _fail(fake, LlmRequest(model=MODEL, messages=[_user("something bad")]))
    assert blocked.retryable is False
    assert "prompt blocked: SAFETY" in str(blocked)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body", ["not json", '{"candidates": [{"content": {"parts": [{"functionCall": {}}]}}]}', "[]"]
)
async def test_unexpected_2xx_body_is_not_retryable(fake: FakeGemini, body: str) -> None:
    fake.script(FakeGemini.raw(200, body))
    error = await _fail(fake, LlmRequest(model=MODEL, messages=[_user("hi")]))
    assert error.retryable is False
    assert "Gemini" in str(error)


@pytest.mark.anyio
async def test_connection_error_and_timeout_are_retryable(fake: FakeGemini) -> None:
    unreachable = GeminiProvider(KEY, f"http://127.0.0.1:{_free_port()}")
    slow = GeminiProvider(KEY, fake.base_url, timeout=0.2)
    fake.script(FakeReply(content="too late", delay=1.0))
    try:
        with pytest.raises(ProviderError) as refused:
            await unreachable.complete(LlmRequest(model=MODEL, messages=[_user("hi")]))
        with pytest.raises(ProviderError) as timed_out:
            await slow.complete(LlmRequest(model=MODEL, messages=[_user("hi")]))
    finally:
        await unreachable.aclose()
        await slow.aclose()
    assert refused.value.retryable is True
    assert timed_out.value.retryable is True
    assert "timed out" in str(timed_out.value)


@pytest.mark.anyio
async def test_a_caller_base_url_gets_a_keyless_adapter(fake: FakeGemini) -> None:
    fake.script(FakeGemini.text("via the caller's endpoint"))
    # The operator's endpoint is a closed port: only the caller's URL can answer.
    registry = ProviderRegistry(
        env={"GEMINI_API_KEY": KEY, "GEMINI_BASE_URL": f"http://127.0.0.1:{_free_port()}"}
    )
    try:
        provider, model = registry.resolve(
            f"google_gemini/{MODEL}", caller_base_url=fake.base_url + "/v1beta/"
        )
        response = await provider.complete(LlmRequest(model=model, messages=[_user("hi")]))
    finally:
        await registry.aclose()
    assert response.content == "via the caller's endpoint"
    assert fake.request_paths == [f"/v1beta/models/{MODEL}:generateContent"]
    assert "x-goog-api-key" not in fake.request_headers[0] and KEY not in repr(fake.request_headers)
    assert (
        model_url("https://g.example", "m", stream=True)
        == "https://g.example/v1beta/models/m:streamGenerateContent?alt=sse"
    )


# -- schema cleaning ----------------------------------------------------------------------------


def test_clean_schema_inlines_refs_and_maps_nullable_unions() -> None:
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Booking",
        "type": "object",
        "$defs": {
            "Place": {
                "title": "Place",
                "type": "object",
                "properties": {"name": {"type": "string"}, "zip": {"type": ["string", "null"]}},
                "required": ["name", "ghost"],
                "additionalProperties": False,
            },
            "Node": {
                "type": "object",
                "properties": {"label": {"type": "string"}, "next": {"$ref": "#/$defs/Node"}},
            },
        },
        "properties": {
            "where": {"$ref": "#/$defs/Place", "description": "Destination"},
            "backup": {"anyOf": [{"$ref": "#/$defs/Place"}, {"type": "null"}], "default": None},
            "chain": {"$ref": "#/$defs/Node"},
            "when": {"type": "string", "format": "date-time"},
            "site": {"type": "string", "format": "uri", "examples": ["https://x"]},
            "count": {"type": "integer", "format": "int32", "exclusiveMinimum": 0, "minimum": 1},
            "id": {"type": ["string", "integer"], "description": "Either form"},
            "tags": {"type": "array", "items": {"type": "string", "const": "vip"}, "uniqueItems": True},
            "level": {"enum": [1, 2, 3], "type": "integer", "description": "Priority"},
            "mode": {"enum": ["a", "b", None]},
            "base": {"allOf": [{"$ref": "#/$defs/Place"}], "description": "Home"},
            "pair": {"type": "array", "prefixItems": [{"type": "string"}], "items": [{"type": "number"}]},
            "meta": {"type": "object", "additionalProperties": {"type": "string"}},
            "anything": True,
        },
        "required": ["where", "when"],
    }
    place = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "zip": {"type": "string", "nullable": True}},
        "required": ["name"],
    }
    cleaned = clean_schema(schema)
    assert cleaned == {
        "type": "object",
        "properties": {
            "where": {**place, "description": "Destination"},
            "backup": {**place, "nullable": True},
            "chain": {
                "type": "object",
                # The recursive reference is cut off one level down as an unconstrained object.
                "properties": {"label": {"type": "string"}, "next": {"type": "object"}},
            },
            "when": {"type": "string", "format": "date-time"},
            "site": {"type": "string"},
            "count": {"type": "integer", "format": "int32", "minimum": 1},
            "id": {"anyOf": [{"type": "string"}, {"type": "integer"}], "description": "Either form"},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["vip"]}},
            "level": {"type": "integer", "description": "Priority (Allowed values: 1, 2, 3)"},
            "mode": {"type": "string", "enum": ["a", "b"], "nullable": True},
            "base": {**place, "description": "Home"},
            "pair": {"type": "array", "items": {"type": "number"}},
            "meta": {"type": "object"},
            "anything": {},
        },
        "required": ["where", "when"],
    }
    assert schema_problem(cleaned, "schema") is None
    # The input is left untouched.
    assert schema["$defs"]["Place"]["additionalProperties"] is False
    assert schema["properties"]["anything"] is True


def test_clean_schema_results_are_accepted_by_the_fake_api() -> None:
    pydantic_style = {
        "definitions": {"Color": {"title": "Color", "enum": ["red", "green"], "type": "string"}},
        "type": "object",
        "properties": {
            "color": {"allOf": [{"$ref": "#/definitions/Color"}], "default": "red"},
            "items": {"type": "array", "items": {"type": "object", "properties": {}}},
            "maybe": {"oneOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
        },
    }
    cleaned = clean_schema(pydantic_style)
    assert cleaned["properties"]["color"] == {"type": "string", "enum": ["red", "green"]}
    assert cleaned["properties"]["items"] == {"type": "array", "items": {"type": "object"}}
    assert cleaned["properties"]["maybe"] == {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "nullable": True,
    }
    assert schema_problem(cleaned, "schema") is None
    assert schema_problem(WEATHER.parameters, "raw") is not None  # why cleaning is needed


def test_tool_without_parameters_omits_them() -> None:
    empty = LlmToolSpec(
        name="now", description="Current time.", parameters={"type": "object", "properties": {}}
    )
    assert function_declaration(empty) == {"name": "now", "description": "Current time."}
    assert function_declaration(SEARCH)["parameters"] == SEARCH.parameters
