"""``image_tool`` and ``audio_tool`` over a real server and a fake OpenAI speaking the
images and speech wire protocol: the request that arrived, the stored file served back
by the API, the reference the model saw; providers and tools the server cannot call are
refused at start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentAPIError, AgentRuntime, audio_tool, image_tool, video_tool

from fakes.openai_server import FakeOpenAI, fake_png, fake_speech
from support.servers import ThreadServer


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def result_of(result: Any, name: str) -> Any:
    (call,) = [c for c in result.tool_calls if c["name"] == name]
    return call["result"]


def fetch(server: ThreadServer, url: str) -> httpx.Response:
    assert url.startswith("/api/")
    return httpx.get(server.api_url.removesuffix("/api") + url)


def test_an_image_is_made_stored_and_served_by_reference(
    runtime: AgentRuntime, fake: FakeOpenAI, server: ThreadServer
) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("draw", {"prompt": "a red fox", "width": 512, "height": 512})]),
        FakeOpenAI.text("Here is your fox."),
    )
    tool = image_tool(
        "draw", "Draw a picture", llm_provider="openai", model="gpt-image-1", outputFormat="png"
    )
    agent = Agent(name="painter", model="openai/gpt-4o", tools=[tool])
    result = runtime.run(agent, "draw a fox")
    assert result.status == "COMPLETED" and result.output == "Here is your fox."
    ((path, body, headers),) = fake.media_requests
    assert path == "/v1/images/generations"
    assert body == {
        "model": "gpt-image-1",
        "prompt": "a red fox",
        "n": 1,
        "size": "512x512",
        "output_format": "png",
    }
    assert headers["authorization"] == "Bearer sk-test-not-a-real-key"
    assert headers["idempotency-key"].startswith(f"{result.execution_id}:")
    out = result_of(result, "draw")
    assert out["contentType"] == "image/png" and out["sizeBytes"] == len(fake_png(10))
    served = fetch(server, out["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert served.content == fake_png(10)
    # The model was shown the reference, never the bytes.
    shown = [m["content"] for m in fake.requests[-1]["messages"] if m["role"] == "tool"]
    assert json.loads(shown[0])["url"] == out["url"] and "b64" not in shown[0]
    # Another execution's id does not open it.
    wrong = fetch(server, out["url"].replace(result.execution_id, "00000000-0000-0000-0000-000000000000"))
    assert wrong.status_code == 404 and wrong.json()["code"] == "not_found"


def test_several_images_and_dall_e_asks_for_base64(
    runtime: AgentRuntime, fake: FakeOpenAI, server: ThreadServer
) -> None:
    fake.script(FakeOpenAI.tool_calls([("draw", {"prompt": "two cats", "n": 2})]), FakeOpenAI.text("ok"))
    tool = image_tool(
        "draw", "Draw", llm_provider="openai", model="dall-e-3", style="natural", size="1024x1792"
    )
    result = runtime.run(Agent(name="painter", model="openai/gpt-4o", tools=[tool]), "draw")
    ((_, body, _),) = fake.media_requests
    assert body == {
        "model": "dall-e-3",
        "prompt": "two cats",
        "n": 2,
        "size": "1024x1792",
        "response_format": "b64_json",
        "style": "natural",
    }
    out = result_of(result, "draw")
    assert out["count"] == 2 and len({m["url"] for m in out["media"]}) == 2
    assert [fetch(server, m["url"]).content for m in out["media"]] == [fake_png(10), fake_png(11)]


def test_speech_is_made_with_the_tool_defaults_and_the_model_arguments(
    runtime: AgentRuntime, fake: FakeOpenAI, server: ThreadServer
) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("say", {"text": "Hello there", "voice": "nova"})]),
        FakeOpenAI.text("Said it."),
    )
    tool = audio_tool(
        "say", "Say it aloud", llm_provider="openai", model="tts-1", responseFormat="wav", speed=1.5
    )
    result = runtime.run(Agent(name="speaker", model="openai/gpt-4o", tools=[tool]), "greet")
    ((path, body, _),) = fake.media_requests
    assert path == "/v1/audio/speech"
    assert body == {
        "model": "tts-1",
        "input": "Hello there",
        "voice": "nova",
        "response_format": "wav",
        "speed": 1.5,
    }
    out = result_of(result, "say")
    assert out["contentType"] == "audio/wav"
    served = fetch(server, out["url"])
    assert (
        served.content == fake_speech("Hello there", "nova") and served.headers["content-type"] == "audio/wav"
    )


def test_provider_errors_reach_the_model_and_are_retried_when_transient(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.fail_media(500, "upstream hiccup")  # retried: the second attempt succeeds
    fake.script(
        FakeOpenAI.tool_calls([("say", {"text": "one"})]),
        FakeOpenAI.tool_calls([("say", {"text": "two", "speed": 9})]),
        FakeOpenAI.text("done"),
    )
    tool = audio_tool("say", "Say", llm_provider="openai", model="tts-1")
    tool.retry_delay_seconds = 0.05
    result = runtime.run(Agent(name="speaker", model="openai/gpt-4o", tools=[tool]), "speak")
    assert result.status == "COMPLETED"
    keys = [h["idempotency-key"] for _, _, h in fake.media_requests]
    assert len(keys) == 2 and keys[0] == keys[1]  # one call, two attempts, one key
    shown = [m["content"] for m in fake.requests[-1]["messages"] if m["role"] == "tool"]
    assert "audio/mpeg" in shown[0]
    assert "speed must be a number from 0.25 to 4" in shown[1]  # refused before any request


def test_unsupported_providers_and_video_are_refused_at_start(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    cases = [
        (
            image_tool("draw", "Draw", llm_provider="anthropic", model="x"),
            "providers with that API here: openai",
        ),
        (audio_tool("say", "Say", llm_provider="gemini", model="x"), "providers with that API here: openai"),
        (
            video_tool("film", "Film", llm_provider="openai", model="sora-2"),
            "video generation is not supported",
        ),
    ]
    for tool, expected in cases:
        with pytest.raises(AgentAPIError) as refused:
            runtime.start(Agent(name="maker", model="openai/gpt-4o", tools=[tool]), "make")
        assert refused.value.status_code == 400 and expected in str(refused.value)
    assert fake.request_count == 0 and fake.media_requests == []
