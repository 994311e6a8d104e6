"""The OpenAI-compatible provider streaming a reply: text deltas, tool calls assembled by
index, usage, cut-off streams and HTTP errors, a server that ignores ``stream``, malformed
chunks, and ``StreamAssembler`` fed line by line. Against the fake OpenAI server (the ``fake``
fixture in conftest.py) or an ``httpx.MockTransport`` serving an event stream.
"""

from __future__ import annotations

import json

import httpx
import pytest

from agentspan.server.providers import LlmToolCall, LlmUsage, ProviderError, ProviderRegistry
from agentspan.server.providers.openai import OpenAIProvider, StreamAssembler

from fakes.openai_server import FakeOpenAI
from support.llm_requests import WEATHER
from support.llm_requests import llm_request as _request


@pytest.mark.anyio
async def test_streaming_round_trip_matches_the_non_streamed_reply(fake: FakeOpenAI) -> None:
    answer = "The weather in NYC is sunny,\n22 degrees. "
    fake.script(FakeOpenAI.text(answer), FakeOpenAI.text(answer))
    provider = OpenAIProvider("sk-test", fake.base_url)
    deltas: list[str] = []
    try:
        plain = await provider.complete(_request())
        streamed = await provider.complete(_request(), on_delta=deltas.append)
    finally:
        await provider.aclose()
    assert deltas == ["The", " weather", " in", " NYC", " is", " sunny,", "\n22", " degrees.", " "]
    assert "".join(deltas) == answer
    assert streamed == plain
    assert streamed.usage == LlmUsage(prompt_tokens=10, completion_tokens=5)
    assert "stream" not in fake.requests[0]
    assert fake.requests[1]["stream"] is True
    assert fake.requests[1]["stream_options"] == {"include_usage": True}
    assert fake.request_headers[1]["accept"] == "text/event-stream"


@pytest.mark.anyio
async def test_streaming_assembles_tool_calls_by_index(fake: FakeOpenAI) -> None:
    long_args = {"city": "San Francisco, California", "days": 3, "units": "metric"}
    fake.script(
        FakeOpenAI.tool_calls(
            [("get_weather", long_args), ("search", '{"query": "oops')], content="Checking."
        ),
    )
    provider = OpenAIProvider("sk-test", fake.base_url)
    deltas: list[str] = []
    try:
        response = await provider.complete(_request(tools=[WEATHER]), on_delta=deltas.append)
    finally:
        await provider.aclose()
    assert deltas == ["Checking."]
    assert response.content == "Checking."
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls == [
        LlmToolCall(id="call_1", name="get_weather", arguments=json.dumps(long_args)),
        LlmToolCall(id="call_2", name="search", arguments='{"query": "oops'),
    ]
    assert response.usage.total_tokens == 15


@pytest.mark.anyio
async def test_streamed_tool_calls_without_text_have_no_content(fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.tool_calls([("get_weather", {"city": "Oslo"})]))
    provider = OpenAIProvider(None, fake.base_url)
    deltas: list[str] = []
    try:
        response = await provider.complete(_request(tools=[WEATHER]), on_delta=deltas.append)
    finally:
        await provider.aclose()
    assert deltas == []
    assert response.content is None
    assert [c.arguments for c in response.tool_calls] == ['{"city": "Oslo"}']


@pytest.mark.anyio
async def test_mistral_streams_without_stream_options(fake: FakeOpenAI) -> None:
    registry = ProviderRegistry(env={"MISTRAL_API_KEY": "m", "MISTRAL_BASE_URL": fake.base_url})
    deltas: list[str] = []
    try:
        provider, name = registry.resolve("mistral/mistral-large-latest")
        await provider.complete(_request(name), on_delta=deltas.append)
    finally:
        await registry.aclose()
    assert fake.requests[0]["stream"] is True
    assert "stream_options" not in fake.requests[0]
    assert "".join(deltas) == "fake final answer"


@pytest.mark.anyio
async def test_stream_cut_off_is_retryable_and_http_errors_keep_their_class(fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.text("partial answer", cut_stream=True),
        FakeOpenAI.error(429, "slow down", retry_after=3),
        FakeOpenAI.error(401, "bad key sk-leaky"),
    )
    provider = OpenAIProvider("sk-leaky", fake.base_url, label="Groq")
    deltas: list[str] = []
    try:
        with pytest.raises(ProviderError) as cut:
            await provider.complete(_request(), on_delta=deltas.append)
        with pytest.raises(ProviderError) as limited:
            await provider.complete(_request(), on_delta=deltas.append)
        with pytest.raises(ProviderError) as denied:
            await provider.complete(_request(), on_delta=deltas.append)
    finally:
        await provider.aclose()
    assert deltas == ["partial", " answer"]
    assert cut.value.retryable is True
    assert "ended before" in str(cut.value)
    assert limited.value.retryable is True
    assert limited.value.retry_after == 3.0
    assert "Groq returned HTTP 429" in str(limited.value)
    assert denied.value.retryable is False
    assert "sk-leaky" not in str(denied.value)


@pytest.mark.anyio
async def test_server_that_ignores_stream_still_delivers_the_answer(fake: FakeOpenAI) -> None:
    body = {"choices": [{"message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}]}
    fake.script(FakeOpenAI.raw(200, json.dumps(body)))
    provider = OpenAIProvider("k", fake.base_url)
    deltas: list[str] = []
    try:
        response = await provider.complete(_request(), on_delta=deltas.append)
    finally:
        await provider.aclose()
    assert deltas == ["whole"]
    assert response.content == "whole"


@pytest.mark.anyio
async def test_malformed_stream_chunk_is_not_retryable_and_callback_errors_pass_through() -> None:
    def sse(body: str) -> httpx.MockTransport:
        headers = {"content-type": "text/event-stream"}
        return httpx.MockTransport(lambda _: httpx.Response(200, headers=headers, content=body.encode()))

    async with httpx.AsyncClient(transport=sse("data: {not json\n\n")) as client:
        with pytest.raises(ProviderError) as error:
            await OpenAIProvider("k", client=client).complete(_request(), on_delta=lambda _: None)
    assert error.value.retryable is False
    assert "unexpected stream chunk" in str(error.value)

    def explode(_: str) -> None:
        raise ValueError("consumer failed")

    chunk = {"choices": [{"index": 0, "delta": {"content": "x"}}]}
    async with httpx.AsyncClient(transport=sse(f"data: {json.dumps(chunk)}\n\n")) as client:
        with pytest.raises(ValueError, match="consumer failed"):
            await OpenAIProvider("k", client=client).complete(_request(), on_delta=explode)


def test_stream_assembler_handles_reasoning_errors_and_index_less_calls() -> None:
    assembler = StreamAssembler()
    lines = [
        ": keep-alive",
        "",
        'data: {"choices":[{"index":0,"delta":{"reasoning_content":"think "}}]}',
        'data:{"choices":[{"index":0,"delta":{"reasoning_content":"hard"}}]}',
        'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}}]}}]}',
        'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}',
        'data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],'
        '"usage":{"prompt_tokens":4,"completion_tokens":2}}',
    ]
    assert [assembler.feed_line(line) for line in lines] == [None] * len(lines)
    assert assembler.complete and not assembler.done
    response = assembler.response()
    assert response.thinking == "think hard"
    assert [(c.id, c.name) for c in response.tool_calls] == [("a", "f"), ("b", "g")]
    assert response.usage == LlmUsage(prompt_tokens=4, completion_tokens=2)
    with pytest.raises(ProviderError) as error:
        StreamAssembler().feed_line('data: {"error": {"message": "overloaded", "code": 503}}')
    assert error.value.retryable is True
