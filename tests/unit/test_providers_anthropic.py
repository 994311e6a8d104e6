"""Anthropic Messages adapter against a real fake server (request shapes, parsing, streaming)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from agentspan.protocol.messages import ChatMessage, UserMessage
from agentspan.server.providers._common import MAX_ERROR_TEXT
from agentspan.server.providers.anthropic import (
    DEFAULT_MAX_TOKENS,
    AnthropicProvider,
    build_payload,
    max_tokens_for,
    messages_url,
    parse_data_url,
    unwrap_json_fence,
)
from agentspan.server.providers.base import (
    LlmRequest,
    LlmToolCall,
    LlmToolSpec,
    LlmUsage,
    ProviderError,
)
from agentspan.server.providers.registry import ProviderRegistry

from fakes._http import FakeReply, word_pieces
from fakes.anthropic_server import FakeAnthropic

KEY = "sk-ant-test-key"
WEATHER = LlmToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city"],
        "additionalProperties": False,
    },
)
SEARCH = LlmToolSpec(
    name="search",
    description="Web search.",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
)
ANSWER_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def _user(text: str, media: list[str] | None = None) -> UserMessage:
    message: UserMessage = {"role": "user", "content": text}
    if media is not None:
        message["media"] = media
    return message


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _complete(fake: FakeAnthropic, request: LlmRequest, deltas: list[str] | None = None) -> Any:
    provider = AnthropicProvider(KEY, fake.base_url)
    try:
        return await provider.complete(request, None if deltas is None else deltas.append)
    finally:
        await provider.aclose()


async def _fail(fake: FakeAnthropic, request: LlmRequest, *, stream: bool = False) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await _complete(fake, request, [] if stream else None)
    return caught.value


# -- plain answers and tools --------------------------------------------------------------------


@pytest.mark.anyio
async def test_plain_answer_request_shape_and_parsing(fake: FakeAnthropic) -> None:
    fake.script(FakeAnthropic.text("Hello there!"))
    response = await _complete(
        fake,
        LlmRequest(
            model="claude-sonnet-4-5", messages=[_user("hi")], instructions="Be brief.", temperature=0.2
        ),
    )

    assert fake.request_paths == ["/v1/messages"]
    headers = fake.request_headers[0]
    assert headers["x-api-key"] == KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["content-type"] == "application/json"
    assert "authorization" not in headers
    assert fake.requests[0] == {
        "model": "claude-sonnet-4-5",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "temperature": 0.2,
    }
    assert response.content == "Hello there!"
    assert response.tool_calls == []
    assert response.finish_reason == "end_turn"
    assert response.thinking is None
    assert response.usage == LlmUsage(prompt_tokens=10, completion_tokens=5)


@pytest.mark.anyio
async def test_tool_call_then_tool_result_round_trip(fake: FakeAnthropic) -> None:
    fake.script(
        FakeAnthropic.tool_calls(
            [("get_weather", {"city": "NYC"}), ("search", {"query": "umbrella"})], content="Let me check."
        ),
        FakeAnthropic.text("Sunny, no umbrella needed."),
    )
    conversation: list[ChatMessage] = [_user("Weather in NYC?")]
    first = await _complete(fake, LlmRequest(model="m", messages=conversation, tools=[WEATHER, SEARCH]))

    assert first.content == "Let me check."
    assert first.finish_reason == "tool_use"
    assert first.tool_calls == [
        LlmToolCall(id="toolu_fake_1", name="get_weather", arguments='{"city": "NYC"}'),
        LlmToolCall(id="toolu_fake_2", name="search", arguments='{"query": "umbrella"}'),
    ]
    assert fake.requests[0]["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "input_schema": WEATHER.parameters,
        },
        {"name": "search", "description": "Web search.", "input_schema": SEARCH.parameters},
    ]

    conversation += [
        {
            "role": "assistant",
            "content": first.content,
            "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in first.tool_calls],
        },
        {"role": "tool", "tool_call_id": "toolu_fake_1", "name": "get_weather", "content": "sunny"},
        {"role": "tool", "tool_call_id": "toolu_fake_2", "name": "search", "content": '{"hits": 0}'},
    ]
    second = await _complete(fake, LlmRequest(model="m", messages=conversation, tools=[WEATHER, SEARCH]))

    assert second.content == "Sunny, no umbrella needed."
    assert fake.requests[1]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in NYC?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_fake_1", "name": "get_weather", "input": {"city": "NYC"}},
                {"type": "tool_use", "id": "toolu_fake_2", "name": "search", "input": {"query": "umbrella"}},
            ],
        },
        # Consecutive tool messages become ONE user message of tool_result blocks.
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_fake_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_fake_2", "content": '{"hits": 0}'},
            ],
        },
    ]


@pytest.mark.anyio
async def test_malformed_tool_call_arguments(fake: FakeAnthropic) -> None:
    # In history: unparseable arguments are sent as {} and the conversation still goes through.
    fake.script(FakeAnthropic.tool_calls([("search", '{"query": "oops')]))
    conversation: list[ChatMessage] = [
        _user("find it"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "toolu_1", "name": "search", "arguments": "{bad"}],
        },
        {
            "role": "tool",
            "tool_call_id": "toolu_1",
            "name": "search",
            "content": "error: arguments are not JSON",
        },
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "toolu_2", "name": "search", "arguments": "[1]"}],
        },
        {"role": "tool", "tool_call_id": "toolu_2", "name": "search", "content": ""},
    ]
    response = await _complete(fake, LlmRequest(model="m", messages=conversation))
    sent = fake.requests[0]["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "search", "input": {}}],
    }
    assert sent[3]["content"] == [{"type": "tool_use", "id": "toolu_2", "name": "search", "input": {}}]
    # An empty tool result omits ``content`` (the API rejects an empty string).
    assert sent[4]["content"] == [{"type": "tool_result", "tool_use_id": "toolu_2"}]
    # In a reply: raw text is passed through for the engine to report back to the model.
    assert response.tool_calls == [LlmToolCall(id="toolu_fake_1", name="search", arguments='{"query": "oops')]

    streamed: list[str] = []
    fake.script(FakeAnthropic.tool_calls([("search", '{"query": "cut off')], finish_reason="max_tokens"))
    response = await _complete(fake, LlmRequest(model="m", messages=[_user("again")]), streamed)
    assert response.tool_calls == [
        LlmToolCall(id="toolu_fake_2", name="search", arguments='{"query": "cut off')
    ]
    assert response.finish_reason == "max_tokens"
    assert streamed == []


# -- structured output, thinking, media ---------------------------------------------------------


@pytest.mark.anyio
async def test_structured_output_goes_in_the_system_prompt(fake: FakeAnthropic) -> None:
    fake.script(
        FakeAnthropic.text('{"answer": "42"}'),
        FakeAnthropic.text('```json\n{"answer": "42"}\n```'),
    )
    request = LlmRequest(
        model="m", messages=[_user("meaning of life?")], instructions="Be exact.", output_schema=ANSWER_SCHEMA
    )
    plain = await _complete(fake, request)
    fenced = await _complete(fake, request)

    system = fake.requests[0]["system"]
    assert system.startswith("Be exact.\n\n")
    assert "only a JSON document" in system
    assert json.dumps(ANSWER_SCHEMA, indent=2) in system
    assert plain.content == '{"answer": "42"}'
    assert fenced.content == '{"answer": "42"}'
    assert "response_format" not in fake.requests[0]

    no_instructions = build_payload(LlmRequest(model="m", messages=[_user("x")], output_schema=ANSWER_SCHEMA))
    assert no_instructions["system"].startswith("Answer with only a JSON document")


def test_unwrap_json_fence_only_touches_a_single_fenced_block() -> None:
    assert unwrap_json_fence('```\n{"a": 1}\n```') == '{"a": 1}'
    assert unwrap_json_fence("  ```JSON\n[1, 2]\n```\n") == "[1, 2]"
    assert unwrap_json_fence('{"a": 1}') == '{"a": 1}'
    assert unwrap_json_fence('Here:\n```json\n{"a": 1}\n```') == 'Here:\n```json\n{"a": 1}\n```'


@pytest.mark.anyio
async def test_thinking_budget_mapping_and_tool_loop_continuation(fake: FakeAnthropic) -> None:
    fake.script(
        FakeAnthropic.tool_calls([("search", {"query": "x"})], thinking="I should search first."),
        FakeAnthropic.text("Found it.", thinking="The result answers it."),
    )
    request = LlmRequest(
        model="m",
        messages=[_user("look it up")],
        tools=[SEARCH],
        thinking_budget_tokens=2048,
        temperature=0.3,
    )
    first = await _complete(fake, request)

    sent = fake.requests[0]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["max_tokens"] == 2048 + DEFAULT_MAX_TOKENS
    assert "temperature" not in sent  # the API rejects a custom temperature with thinking
    assert first.thinking == "I should search first."
    assert first.tool_calls[0].name == "search"

    # The stored conversation has no signed thinking blocks, so the tool-loop continuation is sent
    # without thinking (the fake, like the API, rejects it otherwise).
    messages: list[ChatMessage] = [
        *request.messages,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": first.tool_calls[0].id, "name": "search", "arguments": "{}"}],
        },
        {"role": "tool", "tool_call_id": first.tool_calls[0].id, "name": "search", "content": "42"},
    ]
    second = await _complete(
        fake, LlmRequest(model="m", messages=messages, tools=[SEARCH], thinking_budget_tokens=2048)
    )
    assert "thinking" not in fake.requests[1]
    assert fake.requests[1]["max_tokens"] == DEFAULT_MAX_TOKENS
    assert second.content == "Found it."
    assert second.thinking == "The result answers it."

    # A new user turn thinks again.
    next_turn: list[ChatMessage] = [
        *messages,
        {"role": "assistant", "content": "Found it."},
        _user("and now?"),
    ]
    assert "thinking" in build_payload(LlmRequest(model="m", messages=next_turn, thinking_budget_tokens=2048))


def test_max_tokens_with_thinking_always_exceeds_the_budget() -> None:
    assert max_tokens_for(None, None) == DEFAULT_MAX_TOKENS
    assert max_tokens_for(100, None) == 100
    assert max_tokens_for(None, 2048) == 2048 + DEFAULT_MAX_TOKENS
    assert max_tokens_for(8000, 2048) == 8000  # an explicit cap with room for the answer is kept
    assert max_tokens_for(1000, 2048) == 3048  # too small: treated as the room for the answer


@pytest.mark.anyio
async def test_media_becomes_image_and_document_blocks(fake: FakeAnthropic) -> None:
    fake.script(FakeAnthropic.text("A cat."))
    media = [
        "https://example.com/cat.png",
        "data:image/png;base64,iVBORw0K\nGgo=",
        "https://example.com/report.pdf?download=1",
        "data:application/pdf;base64,JVBERi0=",
        "data:text/plain,hello%20world",
    ]
    await _complete(fake, LlmRequest(model="m", messages=[_user("What is this?", media)]))
    assert fake.requests[0]["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/report.pdf?download=1"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
        },
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello world"}},
        {"type": "text", "text": "What is this?"},
    ]

    error = await _fail(
        fake, LlmRequest(model="m", messages=[_user("listen", ["data:audio/wav;base64,UklG"])])
    )
    assert error.retryable is False
    assert "audio/wav" in str(error)


def test_parse_data_url() -> None:
    assert parse_data_url("data:image/jpeg;base64,/9j/") == ("image/jpeg", "/9j/")
    assert parse_data_url("data:,a%2Cb") == ("text/plain", "YSxi")
    with pytest.raises(ProviderError):
        parse_data_url("data:image/png;base64")


# -- streaming ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_streaming_text_with_thinking(fake: FakeAnthropic) -> None:
    answer = "The capital of France is Paris, of course."
    fake.script(FakeAnthropic.text(answer, thinking="Easy geography.", reasoning_tokens=7))
    deltas: list[str] = []
    response = await _complete(fake, LlmRequest(model="m", messages=[_user("capital?")]), deltas)

    assert fake.requests[0]["stream"] is True
    assert fake.request_headers[0]["accept"] == "text/event-stream"
    assert deltas == word_pieces(answer)
    assert len(deltas) > 1
    assert response.content == "".join(deltas) == answer
    assert response.thinking == "Easy geography."  # thinking is not passed to on_delta
    assert response.finish_reason == "end_turn"
    # message_delta's cumulative output count wins over message_start's provisional one.
    assert response.usage == LlmUsage(prompt_tokens=10, completion_tokens=12)


@pytest.mark.anyio
async def test_streaming_tool_calls(fake: FakeAnthropic) -> None:
    fake.script(
        FakeAnthropic.tool_calls(
            [("get_weather", {"city": "New York", "days": 3}), ("search", {"query": "rain gear"})],
            content="Checking.",
        )
    )
    deltas: list[str] = []
    response = await _complete(
        fake, LlmRequest(model="m", messages=[_user("weather?")], tools=[WEATHER, SEARCH]), deltas
    )
    assert deltas == ["Checking."]
    assert response.content == "Checking."
    assert response.finish_reason == "tool_use"
    assert response.tool_calls == [
        LlmToolCall(id="toolu_fake_1", name="get_weather", arguments='{"city": "New York", "days": 3}'),
        LlmToolCall(id="toolu_fake_2", name="search", arguments='{"query": "rain gear"}'),
    ]


@pytest.mark.anyio
async def test_streaming_failures_are_retryable(fake: FakeAnthropic) -> None:
    deltas: list[str] = []
    fake.script(FakeAnthropic.text("partial answer here", stream_error=f"Overloaded (key {KEY})"))
    with pytest.raises(ProviderError) as overloaded:
        await _complete(fake, LlmRequest(model="m", messages=[_user("hi")]), deltas)
    assert overloaded.value.retryable is True
    assert "overloaded_error" in str(overloaded.value)
    assert KEY not in str(overloaded.value)
    assert deltas == ["partial "]

    start = {"type": "message_start", "message": {"content": [], "usage": {"input_tokens": 1}}}
    fake.script(
        FakeAnthropic.raw(200, f"event: message_start\ndata: {json.dumps(start)}\n\n", "text/event-stream")
    )
    cut = await _fail(fake, LlmRequest(model="m", messages=[_user("hi")]), stream=True)
    assert cut.retryable is True
    assert "message_stop" in str(cut)

    fake.script(FakeAnthropic.error(429, "slow down", retry_after=3))
    limited = await _fail(fake, LlmRequest(model="m", messages=[_user("hi")]), stream=True)
    assert (limited.retryable, limited.retry_after) == (True, 3.0)


# -- usage and errors ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_usage_includes_cache_reads_and_writes(fake: FakeAnthropic) -> None:
    reply = FakeAnthropic.text("cached", cached_tokens=30, cache_write_tokens=20, reasoning_tokens=4)
    fake.script(reply, reply)
    plain = await _complete(fake, LlmRequest(model="m", messages=[_user("hi")]))
    streamed = await _complete(fake, LlmRequest(model="m", messages=[_user("hi")]), [])
    # The API reports no separate thinking count: reasoning stays 0, thinking is in completion.
    expected = LlmUsage(prompt_tokens=60, completion_tokens=9, cached_tokens=30, reasoning_tokens=0)
    assert plain.usage == expected
    assert streamed.usage == expected


@pytest.mark.anyio
async def test_429_and_overloaded_are_retryable(fake: FakeAnthropic) -> None:
    fake.script(
        FakeAnthropic.error(429, "Number of request tokens has exceeded your rate limit", retry_after=7),
        FakeAnthropic.error(529, "Overloaded"),
    )
    limited = await _fail(fake, LlmRequest(model="m", messages=[_user("hi")]))
    overloaded = await _fail(fake, LlmRequest(model="m", messages=[_user("hi")]))
    assert (limited.retryable, limited.retry_after) == (True, 7.0)
    assert "429" in str(limited)
    assert "rate_limit_error: Number of request tokens" in str(limited)
    assert (overloaded.retryable, overloaded.retry_after) == (True, None)
    assert "overloaded_error: Overloaded" in str(overloaded)


@pytest.mark.anyio
async def test_400_is_not_retryable_and_never_leaks_the_key(fake: FakeAnthropic) -> None:
    fake.script(
        FakeAnthropic.error(400, "messages.0.content: Input should be a valid list"),
        FakeAnthropic.error(401, f"invalid x-api-key {KEY}"),
    )
    bad = await _fail(fake, LlmRequest(model="m", messages=[_user("hi")]))
    unauthorized = await _fail(fake, LlmRequest(model="m", messages=[_user("hi")]))
    assert bad.retryable is False
    assert "400" in str(bad)
    assert "messages.0.content: Input should be a valid list" in str(bad)
    assert unauthorized.retryable is False
    assert KEY not in str(unauthorized)
    assert "<redacted>" in str(unauthorized)


@pytest.mark.anyio
async def test_wrong_key_is_rejected_without_retry() -> None:
    with FakeAnthropic(api_key="the-right-key") as server:
        error = await _fail(server, LlmRequest(model="m", messages=[_user("hi")]))
    assert error.retryable is False
    assert "authentication_error" in str(error)


@pytest.mark.anyio
@pytest.mark.parametrize("body", ["not json", '{"content": "text"}', '{"content": [{"type": "tool_use"}]}'])
async def test_unexpected_2xx_body_is_not_retryable(fake: FakeAnthropic, body: str) -> None:
    fake.script(FakeAnthropic.raw(200, body))
    error = await _fail(fake, LlmRequest(model="m", messages=[_user("hi")]))
    assert error.retryable is False
    assert "Anthropic" in str(error)


@pytest.mark.anyio
async def test_connection_error_and_timeout_are_retryable(fake: FakeAnthropic) -> None:
    unreachable = AnthropicProvider(KEY, f"http://127.0.0.1:{_free_port()}")
    slow = AnthropicProvider(KEY, fake.base_url, timeout=0.2)
    fake.script(FakeReply(content="too late", delay=1.0))
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


@pytest.mark.anyio
async def test_a_caller_base_url_gets_a_keyless_adapter_and_v1_suffix_is_accepted(
    fake: FakeAnthropic,
) -> None:
    fake.script(FakeAnthropic.text("via the caller's endpoint"))
    # The operator's endpoint is a closed port: only the caller's URL can answer.
    registry = ProviderRegistry(
        env={"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{_free_port()}"}
    )
    try:
        provider, model = registry.resolve("anthropic/m", caller_base_url=fake.base_url + "/v1/")
        response = await provider.complete(LlmRequest(model=model, messages=[_user("hi")]))
    finally:
        await registry.aclose()
    assert response.content == "via the caller's endpoint"
    assert fake.request_paths == ["/v1/messages"]
    assert "x-api-key" not in fake.request_headers[0] and KEY not in repr(fake.request_headers)
    assert messages_url("https://api.anthropic.com") == "https://api.anthropic.com/v1/messages"


@pytest.mark.anyio
async def test_a_key_cut_by_the_error_length_limit_leaks_none_of_its_characters(fake: FakeAnthropic) -> None:
    """Issue 11, defect 6: the message was cut to 300 characters before the key was masked,
    so a key crossing the cut left its first characters in events and the database."""
    for before in (MAX_ERROR_TEXT - 3 - 12, MAX_ERROR_TEXT - 3 - 5, MAX_ERROR_TEXT - 3 - len(KEY) + 4):
        fake.script(FakeAnthropic.error(401, "x" * before + KEY + " and more text"))
        error = str(await _fail(fake, LlmRequest(model="m", messages=[_user("hi")])))
        kept = error.rstrip(".")
        assert not any(kept.endswith(KEY[:n]) for n in range(4, len(KEY))), error[-40:]
        assert "<redacted>" in error


@pytest.mark.anyio
async def test_the_key_is_masked_before_the_error_is_cut(fake: FakeAnthropic) -> None:
    """Masking after the cut left a cut-off start of up to three characters (too short to
    tell from text); the body is now masked first, so not one character of the key stays."""
    for kept in (1, 2, 3):
        fake.script(FakeAnthropic.error(401, "x" * (MAX_ERROR_TEXT - 3 - kept) + KEY + " and more text"))
        error = str(await _fail(fake, LlmRequest(model="m", messages=[_user("hi")])))
        assert not error.rstrip(".").endswith(KEY[:kept]), error[-40:]
