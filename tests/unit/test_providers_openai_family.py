"""The provider layer's requests and responses: the OpenAI-compatible family (keys, URLs and
headers per provider, usage details, media, reasoning effort). Streaming is in
``test_providers_openai_streaming.py``; the three SDK-backed extras (Bedrock, Vertex,
Cohere) in ``test_providers_sdk_extras.py``.

HTTP providers are exercised against the fake OpenAI server (a real HTTP server) or, for the
public default URLs, an ``httpx.MockTransport`` that records what would have been sent. The
cloud SDKs (boto3, google-genai, cohere) are not installed here: their mapping functions are
tested as pure functions, and their adapters against small stand-in SDK modules.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from agentspan.server.providers import (
    LlmResponse,
    LlmUsage,
    ProviderError,
    ProviderRegistry,
)
from agentspan.server.providers.openai import (
    DEFAULT_AZURE_API_VERSION,
    OpenAIProvider,
    build_payload,
    effort_for_budget,
)
from agentspan.server.providers.registry import OPENAI_COMPATIBLE

from fakes.openai_server import FakeOpenAI
from support.llm_requests import llm_request as _request
from support.llm_requests import user_message as _user

PNG_URL = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
PDF_URL = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.7 fake").decode()

# provider prefix -> (key variable, base-URL variable, default base URL); written out here on
# purpose rather than read from the registry table, so a typo in the table fails a test.
COMPATIBLE: dict[str, tuple[str, str, str]] = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1"),
    "groq": ("GROQ_API_KEY", "GROQ_BASE_URL", "https://api.groq.com/openai/v1"),
    "deepseek": ("DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL", "https://api.deepseek.com/v1"),
    "mistral": ("MISTRAL_API_KEY", "MISTRAL_BASE_URL", "https://api.mistral.ai/v1"),
    "grok": ("XAI_API_KEY", "XAI_BASE_URL", "https://api.x.ai/v1"),
    "xai": ("XAI_API_KEY", "XAI_BASE_URL", "https://api.x.ai/v1"),
    "perplexity": ("PERPLEXITY_API_KEY", "PERPLEXITY_BASE_URL", "https://api.perplexity.ai"),
    "together": ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "https://api.together.xyz/v1"),
    "openrouter": ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1"),
    "hugging_face": ("HUGGINGFACE_API_KEY", "HUGGINGFACE_BASE_URL", "https://router.huggingface.co/v1"),
}


class _Recorder:
    """An httpx mock transport that answers every request with a minimal completion."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = {"choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}
        return httpx.Response(200, json=body)


async def _call(registry: ProviderRegistry, model: str, **fields: Any) -> LlmResponse:
    provider, name = registry.resolve(model)
    return await provider.complete(_request(name, **fields))


# -- the OpenAI-compatible family: keys, URLs, headers ------------------------------------------


def test_every_compatible_provider_is_in_the_table() -> None:
    names = {spec.name for spec in OPENAI_COMPATIBLE}
    assert names == {*COMPATIBLE, "azure_openai", "ollama"}
    assert set(ProviderRegistry(env={}).provider_names) >= names | {
        "anthropic",
        "google_gemini",
        "google",
        "google_vertex_ai",
        "aws_bedrock",
        "cohere",
        "offline",
    }


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(COMPATIBLE))
async def test_compatible_provider_uses_its_default_url_and_bearer_key(name: str) -> None:
    key_env, _, default_url = COMPATIBLE[name]
    recorder = _Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        registry = ProviderRegistry(env={key_env: f"key-for-{name}"}, http_client=client)
        response = await _call(registry, f"{name}/some-model")
        await registry.aclose()
        assert not client.is_closed  # an injected client belongs to its owner
    assert response.content == "ok"
    [sent] = recorder.requests
    assert str(sent.url) == f"{default_url}/chat/completions"
    assert sent.headers["authorization"] == f"Bearer key-for-{name}"
    assert json.loads(sent.content)["model"] == "some-model"


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(COMPATIBLE))
async def test_compatible_provider_honours_its_base_url_variable(name: str, fake: FakeOpenAI) -> None:
    key_env, base_env, _ = COMPATIBLE[name]
    registry = ProviderRegistry(env={key_env: "k-123", base_env: fake.base_url})
    try:
        response = await _call(registry, f"{name}/org/model-7b")
    finally:
        await registry.aclose()
    assert response.content == "fake final answer"
    assert fake.request_paths == ["/v1/chat/completions"]
    assert fake.request_headers[0]["authorization"] == "Bearer k-123"
    assert fake.requests[0]["model"] == "org/model-7b"


@pytest.mark.parametrize("name", sorted(COMPATIBLE))
def test_compatible_provider_without_key_names_the_variable(name: str) -> None:
    key_env = COMPATIBLE[name][0]
    with pytest.raises(ProviderError) as error:
        ProviderRegistry(env={"UNRELATED": "x"}).resolve(f"{name}/m")
    assert error.value.retryable is False
    assert key_env in str(error.value)
    assert str(error.value).startswith(f"{name} models need")
    # The two exact fixes: export before the server starts, or the credential store.
    assert "export it before starting the server" in str(error.value)
    assert str(error.value).endswith(f"or store it with: agentspan credentials set {key_env}")


def test_hugging_face_accepts_hf_token_and_names_both_variables() -> None:
    with pytest.raises(ProviderError, match="HUGGINGFACE_API_KEY or HF_TOKEN"):
        ProviderRegistry(env={}).resolve("hugging_face/meta-llama/Llama-3.3-70B-Instruct")
    provider, name = ProviderRegistry(env={"HF_TOKEN": "hf_x"}).resolve("hugging_face/meta-llama/Llama-3.3")
    assert isinstance(provider, OpenAIProvider)
    assert name == "meta-llama/Llama-3.3"


def test_grok_and_xai_share_one_adapter_and_changed_keys_get_a_new_one() -> None:
    env = {"XAI_API_KEY": "xai-1"}
    registry = ProviderRegistry(env=env)
    grok, _ = registry.resolve("grok/grok-4")
    xai, _ = registry.resolve("xai/grok-4")
    assert grok is xai
    env["XAI_API_KEY"] = "xai-2"
    assert registry.resolve("xai/grok-4")[0] is not grok


@pytest.mark.anyio
async def test_azure_url_api_version_and_api_key_header(fake: FakeOpenAI) -> None:
    env = {"AZURE_OPENAI_API_KEY": "az-secret", "AZURE_OPENAI_ENDPOINT": fake.endpoint + "/"}
    registry = ProviderRegistry(env=env)
    try:
        await _call(registry, "azure_openai/my-gpt4o")
        env["AZURE_OPENAI_API_VERSION"] = "2025-01-01-preview"
        await _call(registry, "azure_openai/my-gpt4o")
        await _call(registry, "azure_openai/my-gpt4o", options={"apiVersion": "2024-06-01"})
    finally:
        await registry.aclose()
    assert fake.request_paths == [
        f"/openai/deployments/my-gpt4o/chat/completions?api-version={DEFAULT_AZURE_API_VERSION}",
        "/openai/deployments/my-gpt4o/chat/completions?api-version=2025-01-01-preview",
        "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-06-01",
    ]
    for headers in fake.request_headers:
        assert headers["api-key"] == "az-secret"
        assert "authorization" not in headers


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, ["AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"]),
        ({"AZURE_OPENAI_API_KEY": "k"}, ["AZURE_OPENAI_ENDPOINT"]),
        ({"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com"}, ["AZURE_OPENAI_API_KEY"]),
    ],
)
def test_azure_missing_settings_are_named(env: dict[str, str], named: list[str]) -> None:
    with pytest.raises(ProviderError) as error:
        ProviderRegistry(env=env).resolve("azure_openai/deployment")
    assert error.value.retryable is False
    for variable in named:
        assert variable in str(error.value)
    assert "k" not in str(error.value).split()  # values are never echoed


@pytest.mark.anyio
async def test_ollama_needs_no_key_and_builds_its_url_from_ollama_host(fake: FakeOpenAI) -> None:
    bare_host = fake.endpoint.removeprefix("http://")  # Ollama's own convention: host:port
    for host in (fake.endpoint, bare_host):
        registry = ProviderRegistry(env={"OLLAMA_HOST": host})
        try:
            response = await _call(registry, "ollama/llama3.2")
        finally:
            await registry.aclose()
        assert response.content == "fake final answer"
    assert fake.request_paths == ["/v1/chat/completions", "/v1/chat/completions"]
    assert all("authorization" not in headers for headers in fake.request_headers)


@pytest.mark.anyio
async def test_ollama_default_is_localhost() -> None:
    recorder = _Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        await _call(ProviderRegistry(env={}, http_client=client), "ollama/qwen3")
    assert str(recorder.requests[0].url) == "http://localhost:11434/v1/chat/completions"
    assert "authorization" not in recorder.requests[0].headers


@pytest.mark.parametrize(
    ("model", "env", "named"),
    [
        ("anthropic/claude-sonnet-4", {}, "ANTHROPIC_API_KEY"),
        ("google_gemini/gemini-2.5-pro", {}, "GEMINI_API_KEY or GOOGLE_API_KEY"),
        ("google/gemini-2.5-flash", {}, "GEMINI_API_KEY or GOOGLE_API_KEY"),
    ],
)
def test_native_providers_without_key_name_the_variable(model: str, env: dict[str, str], named: str) -> None:
    with pytest.raises(ProviderError) as error:
        ProviderRegistry(env=env).resolve(model)
    assert error.value.retryable is False
    assert named in str(error.value)


# -- usage details, media, reasoning effort --------------------------------------------------------


@pytest.mark.anyio
async def test_cached_and_reasoning_tokens_are_parsed_streamed_or_not(fake: FakeOpenAI) -> None:
    reply = FakeOpenAI.text("done", cached_tokens=6, reasoning_tokens=3)
    fake.script(reply, reply)
    provider = OpenAIProvider("k", fake.base_url)
    try:
        plain = await provider.complete(_request())
        streamed = await provider.complete(_request(), on_delta=lambda _: None)
    finally:
        await provider.aclose()
    expected = LlmUsage(prompt_tokens=10, completion_tokens=5, cached_tokens=6, reasoning_tokens=3)
    assert plain.usage == expected
    assert streamed.usage == expected


@pytest.mark.anyio
async def test_user_media_becomes_content_parts(fake: FakeOpenAI) -> None:
    provider = OpenAIProvider("k", fake.base_url)
    media = ["https://example.com/cat.jpg", PNG_URL, PDF_URL]
    try:
        await provider.complete(_request(messages=[_user("What is this?", media), _user("plain")]))
    finally:
        await provider.aclose()
    sent = fake.requests[0]["messages"]
    assert sent[0] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            {"type": "image_url", "image_url": {"url": PNG_URL}},
            {"type": "file", "file": {"filename": "attachment-3.pdf", "file_data": PDF_URL}},
        ],
    }
    assert sent[1] == {"role": "user", "content": "plain"}


@pytest.mark.parametrize(
    ("budget", "effort"), [(1, "low"), (2047, "low"), (2048, "medium"), (8191, "medium"), (8192, "high")]
)
def test_thinking_budget_maps_to_reasoning_effort(budget: int, effort: str) -> None:
    assert effort_for_budget(budget) == effort
    payload = build_payload(_request("o4-mini", thinking_budget_tokens=budget, max_tokens=500))
    assert payload["reasoning_effort"] == effort
    # OpenAI's reasoning models reject max_tokens.
    assert payload["max_completion_tokens"] == 500
    assert "max_tokens" not in payload


@pytest.mark.parametrize(
    ("model", "budget", "options", "expected"),
    [
        ("gpt-4o", 4000, {}, None),  # not a reasoning model: the field would be rejected
        ("o3", None, {}, None),  # no budget set: the provider default applies
        ("gpt-5-chat-latest", 4000, {}, None),
        ("openai/gpt-oss-120b", 9000, {}, "high"),  # behind a router prefix
        ("gpt-5.1", 100, {}, "low"),
        ("my-azure-deployment", None, {"reasoningEffort": "minimal"}, "minimal"),
    ],
)
def test_reasoning_effort_is_only_sent_when_it_applies(
    model: str, budget: int | None, options: dict[str, Any], expected: str | None
) -> None:
    payload = build_payload(_request(model, thinking_budget_tokens=budget, options=options))
    assert payload.get("reasoning_effort") == expected


def test_router_prefixed_and_classic_models_keep_max_tokens() -> None:
    assert build_payload(_request("openai/o3-mini", max_tokens=9))["max_tokens"] == 9
    assert build_payload(_request("gpt-4o", max_tokens=9))["max_tokens"] == 9
