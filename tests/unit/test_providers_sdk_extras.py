"""The provider layer's three SDK-backed extras — AWS Bedrock (Converse), Google Vertex AI and
Cohere: the install command when the library is missing, settings they need, request and
response mapping, error classification. The cloud SDKs are not installed here: the mapping
functions are tested as pure functions, and the adapters against small stand-in SDK modules.
"""

from __future__ import annotations

import base64
import sys
from types import ModuleType, SimpleNamespace
from typing import Any

import httpx
import pytest

from agentspan.server.providers import (
    LlmRequest,
    LlmResponse,
    LlmToolCall,
    LlmUsage,
    ProviderError,
    ProviderRegistry,
)
from agentspan.server.providers import bedrock as bedrock_mod
from agentspan.server.providers import cohere as cohere_mod
from agentspan.server.providers import vertex as vertex_mod

from support.llm_requests import WEATHER
from support.llm_requests import llm_request as _request
from support.llm_requests import user_message as _user

PNG_URL = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
PDF_URL = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.7 fake").decode()


# -- optional extras: missing libraries ------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "module", "command"),
    [
        (
            "aws_bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
            "boto3",
            "pip install 'agentspan[bedrock]'",
        ),
        ("google_vertex_ai/gemini-2.5-pro", "google.genai", "pip install 'agentspan[vertex]'"),
        ("cohere/command-a-03-2025", "cohere", "pip install 'agentspan[cohere]'"),
    ],
)
def test_extras_without_their_library_name_the_install_command(
    model: str, module: str, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail even if installed
    with pytest.raises(ProviderError) as error:
        ProviderRegistry(env={"COHERE_API_KEY": "c", "GOOGLE_CLOUD_PROJECT": "p"}).resolve(model)
    assert error.value.retryable is False
    assert command in str(error.value)


def _module(name: str, **attributes: Any) -> ModuleType:
    module = ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


def test_extras_with_their_library_name_missing_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cohere", _module("cohere"))
    monkeypatch.setitem(sys.modules, "google.genai", _module("google.genai"))
    with pytest.raises(ProviderError, match="COHERE_API_KEY"):
        ProviderRegistry(env={}).resolve("cohere/command-a-03-2025")
    with pytest.raises(ProviderError, match="GOOGLE_CLOUD_PROJECT"):
        ProviderRegistry(env={}).resolve("google_vertex_ai/gemini-2.5-pro")


# -- Bedrock (Converse) -------------------------------------------------------------------------


def test_bedrock_request_mapping() -> None:
    request = LlmRequest(
        model="anthropic.claude-sonnet-4",
        instructions="Be brief.",
        messages=[
            _user("Weather and this chart?", [PNG_URL, "s3://bucket/report.pdf"]),
            {
                "role": "assistant",
                "content": "Looking.",
                "tool_calls": [
                    {"id": "t1", "name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    {"id": "t2", "name": "get_weather", "arguments": "{broken"},
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "name": "get_weather", "content": "Sunny"},
            {"role": "tool", "tool_call_id": "t2", "name": "get_weather", "content": ""},
            _user("Thanks"),
        ],
        tools=[WEATHER],
        temperature=0.1,
        max_tokens=2000,
        output_schema={"type": "object"},
        thinking_budget_tokens=1024,
    )
    kwargs = bedrock_mod.build_converse_request(request)
    assert kwargs["modelId"] == "anthropic.claude-sonnet-4"
    assert kwargs["system"][0] == {"text": "Be brief."}
    assert '{"type":"object"}' in kwargs["system"][1]["text"]
    assert kwargs["inferenceConfig"] == {"maxTokens": 2000, "temperature": 0.1}
    assert kwargs["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {"json": WEATHER.parameters}
    assert kwargs["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    user, assistant, results = kwargs["messages"]
    assert user["content"][1] == {"image": {"format": "png", "source": {"bytes": b"\x89PNG fake"}}}
    assert user["content"][2] == {
        "document": {
            "format": "pdf",
            "name": "document-2",
            "source": {"s3Location": {"uri": "s3://bucket/report.pdf"}},
        }
    }
    assert assistant["content"][1]["toolUse"] == {
        "toolUseId": "t1",
        "name": "get_weather",
        "input": {"city": "Oslo"},
    }
    assert assistant["content"][2]["toolUse"]["input"] == {"raw_arguments": "{broken"}
    # Both tool results and the next user text share one user turn: roles must alternate.
    assert results["role"] == "user"
    assert [list(block) for block in results["content"]] == [["toolResult"], ["toolResult"], ["text"]]
    assert results["content"][1]["toolResult"]["content"] == [{"text": "(no output)"}]


def test_bedrock_rejects_media_it_cannot_fetch_and_skips_thinking_for_other_models() -> None:
    with pytest.raises(ProviderError, match="data: URL or an s3:// URI") as error:
        bedrock_mod.build_converse_request(_request(messages=[_user("x", ["https://example.com/a.png"])]))
    assert error.value.retryable is False
    kwargs = bedrock_mod.build_converse_request(_request("amazon.nova-pro-v1:0", thinking_budget_tokens=2000))
    assert "additionalModelRequestFields" not in kwargs


def test_bedrock_response_parsing() -> None:
    body = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "need weather", "signature": "sig"}}},
                    {"text": "Let me check."},
                    {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Oslo"}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {
            "inputTokens": 20,
            "outputTokens": 7,
            "cacheReadInputTokens": 100,
            "cacheWriteInputTokens": 5,
        },
    }
    assert bedrock_mod.parse_converse_response(body) == LlmResponse(
        content="Let me check.",
        tool_calls=[LlmToolCall(id="tooluse_1", name="get_weather", arguments='{"city": "Oslo"}')],
        usage=LlmUsage(prompt_tokens=125, completion_tokens=7, cached_tokens=100),
        finish_reason="tool_calls",
        thinking="need weather",
    )


class _ClientError(Exception):
    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.response = {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }


class NoCredentialsError(Exception):
    pass


class EndpointConnectionError(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "retryable", "text"),
    [
        (_ClientError("ThrottlingException", 429), True, "ThrottlingException (HTTP 429)"),
        (_ClientError("ModelNotReadyException", 429), True, "ModelNotReadyException"),
        (_ClientError("ValidationException", 400), False, "ValidationException happened"),
        (_ClientError("AccessDeniedException", 403), False, "AccessDeniedException"),
        (NoCredentialsError("none"), False, "AWS_ACCESS_KEY_ID"),
        (EndpointConnectionError("down"), True, "could not reach Bedrock"),
        (RuntimeError("odd"), False, "RuntimeError: odd"),
    ],
)
def test_bedrock_error_classification(exc: Exception, retryable: bool, text: str) -> None:
    error = bedrock_mod.classify_error(exc)
    assert error.retryable is retryable
    assert text in str(error)


@pytest.mark.anyio
async def test_bedrock_adapter_with_a_stand_in_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    clients: list[tuple[str, str | None, Any]] = []

    class Runtime:
        def converse(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs)
            message = {"role": "assistant", "content": [{"text": "Hello from Bedrock"}]}
            return {"output": {"message": message}, "stopReason": "end_turn", "usage": {"inputTokens": 3}}

    def client(service: str, region_name: str | None = None, config: Any = None) -> Runtime:
        clients.append((service, region_name, config))
        return Runtime()

    monkeypatch.setitem(sys.modules, "boto3", _module("boto3", client=client))
    monkeypatch.setitem(sys.modules, "botocore.config", _module("botocore.config", Config=SimpleNamespace))
    registry = ProviderRegistry(env={"AWS_REGION": "eu-west-1"})
    deltas: list[str] = []
    provider, name = registry.resolve("aws_bedrock/amazon.nova-pro-v1:0")
    response = await provider.complete(_request(name), on_delta=deltas.append)
    await provider.complete(_request(name))
    await registry.aclose()
    assert response.content == "Hello from Bedrock"
    assert response.finish_reason == "stop"
    assert deltas == ["Hello from Bedrock"]
    assert len(clients) == 1  # one boto3 client, reused
    service, region, config = clients[0]
    assert (service, region) == ("bedrock-runtime", "eu-west-1")
    assert config.retries == {"total_max_attempts": 1}  # the executor owns retries
    assert calls[0]["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]


# -- Vertex AI (google-genai) ---------------------------------------------------------------------


def test_vertex_request_mapping() -> None:
    request = LlmRequest(
        model="gemini-2.5-pro",
        instructions="Be brief.",
        messages=[
            _user("Look", [PNG_URL, "gs://bucket/spec.pdf"]),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    {"id": "c2", "name": "search", "arguments": "not json"},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "Sunny"},
            {"role": "tool", "tool_call_id": "c2", "name": "search", "content": "found"},
        ],
        tools=[WEATHER],
        max_tokens=100,
        thinking_budget_tokens=512,
        output_schema={"type": "object"},
    )
    contents, config = vertex_mod.build_vertex_request(request)
    assert contents == [
        {
            "role": "user",
            "parts": [
                {"text": "Look"},
                {"inline_data": {"data": b"\x89PNG fake", "mime_type": "image/png"}},
                {"file_data": {"file_uri": "gs://bucket/spec.pdf", "mime_type": "application/pdf"}},
            ],
        },
        {
            "role": "model",
            "parts": [
                {"function_call": {"name": "get_weather", "args": {"city": "Oslo"}}},
                {"function_call": {"name": "search", "args": {"raw_arguments": "not json"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"function_response": {"name": "get_weather", "response": {"output": "Sunny"}}},
                {"function_response": {"name": "search", "response": {"output": "found"}}},
            ],
        },
    ]
    assert config["tools"] == [
        {
            "function_declarations": [
                {
                    "name": "get_weather",
                    "description": WEATHER.description,
                    "parameters_json_schema": WEATHER.parameters,
                }
            ]
        }
    ]
    assert config["max_output_tokens"] == 100
    assert config["thinking_config"] == {"thinking_budget": 512, "include_thoughts": True}
    # With tools, the schema travels in the instructions rather than as JSON response mode.
    assert "response_json_schema" not in config
    assert config["system_instruction"].startswith("Be brief.\n\n")
    _, no_tools = vertex_mod.build_vertex_request(_request(output_schema={"type": "object"}))
    assert no_tools["response_json_schema"] == {"type": "object"}
    assert no_tools["response_mime_type"] == "application/json"


def test_vertex_response_parsing() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Hmm, ", "thought": True},
                        {"text": "It is "},
                        {"text": "sunny."},
                    ],
                },
                "finish_reason": SimpleNamespace(value="STOP"),  # SDK enums carry .value
            }
        ],
        "usage_metadata": {
            "prompt_token_count": 12,
            "candidates_token_count": 4,
            "thoughts_token_count": 6,
            "cached_content_token_count": 8,
        },
    }
    assert vertex_mod.parse_vertex_response(body) == LlmResponse(
        content="It is sunny.",
        usage=LlmUsage(prompt_tokens=12, completion_tokens=10, cached_tokens=8, reasoning_tokens=6),
        finish_reason="stop",
        thinking="Hmm, ",
    )
    calls = vertex_mod.parse_vertex_response(
        {
            "candidates": [
                {
                    "content": {"parts": [{"function_call": {"name": "f", "args": {"a": 1}}}]},
                    "finish_reason": "STOP",
                }
            ]
        }
    )
    assert calls.finish_reason == "tool_calls"
    assert calls.tool_calls[0].id.startswith("call_")
    assert calls.tool_calls[0].arguments == '{"a": 1}'
    assert (
        vertex_mod.parse_vertex_response({"candidates": [{"finish_reason": "SAFETY"}]}).finish_reason
        == "content_filter"
    )
    with pytest.raises(ProviderError, match="SAFETY"):
        vertex_mod.parse_vertex_response({"prompt_feedback": {"block_reason": "SAFETY"}})


class _ApiError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"{code} error")
        self.code = code
        self.message = f"status {code}"


class DefaultCredentialsError(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "retryable", "text"),
    [
        (_ApiError(429), True, "HTTP 429: status 429"),
        (_ApiError(503), True, "HTTP 503"),
        (_ApiError(400), False, "HTTP 400"),
        (httpx.ConnectError("refused"), True, "could not reach Vertex AI"),
        (DefaultCredentialsError("none"), False, "gcloud auth application-default login"),
    ],
)
def test_vertex_error_classification(exc: Exception, retryable: bool, text: str) -> None:
    error = vertex_mod.classify_error(exc)
    assert error.retryable is retryable
    assert text in str(error)


@pytest.mark.anyio
async def test_vertex_adapter_with_a_stand_in_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Models:
        async def generate_content(self, *, model: str, contents: Any, config: Any) -> dict[str, Any]:
            seen.update(model=model, contents=contents, config=config)
            return {
                "candidates": [{"content": {"parts": [{"text": "Hi from Vertex"}]}, "finish_reason": "STOP"}]
            }

    class Client:
        def __init__(self, **options: Any) -> None:
            seen["client"] = options
            self.aio = SimpleNamespace(models=Models())

    monkeypatch.setitem(sys.modules, "google.genai", _module("google.genai", Client=Client))
    registry = ProviderRegistry(env={"GOOGLE_CLOUD_PROJECT": "proj-1"})
    provider, name = registry.resolve("google_vertex_ai/gemini-2.5-flash")
    response = await provider.complete(_request(name, instructions="Be kind."))
    await registry.aclose()
    assert response.content == "Hi from Vertex"
    assert seen["client"]["vertexai"] is True
    assert (seen["client"]["project"], seen["client"]["location"]) == ("proj-1", "global")
    assert seen["model"] == "gemini-2.5-flash"
    assert seen["config"] == {"system_instruction": "Be kind."}


# -- Cohere ----------------------------------------------------------------------------------------


def test_cohere_request_mapping() -> None:
    request = LlmRequest(
        model="command-a-reasoning-08-2025",
        instructions="Be brief.",
        messages=[
            _user("Weather?", [PNG_URL]),
            {
                "role": "assistant",
                "content": "I will look it up.",
                "tool_calls": [{"id": "c1", "name": "get_weather", "arguments": '{"city": "Oslo"}'}],
            },
            {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": "Sunny"},
            {"role": "assistant", "content": "Sunny in Oslo."},
        ],
        tools=[WEATHER],
        temperature=0.3,
        max_tokens=300,
        thinking_budget_tokens=2000,
    )
    kwargs = cohere_mod.build_cohere_request(request)
    assert kwargs["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather?"},
                {"type": "image_url", "image_url": {"url": PNG_URL}},
            ],
        },
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
            "tool_plan": "I will look it up.",
        },
        {"role": "tool", "tool_call_id": "c1", "content": "Sunny"},
        {"role": "assistant", "content": "Sunny in Oslo."},
    ]
    assert kwargs["tools"][0]["function"]["parameters"] == WEATHER.parameters
    assert kwargs["thinking"] == {"type": "enabled", "token_budget": 2000}
    assert (kwargs["temperature"], kwargs["max_tokens"]) == (0.3, 300)
    structured = cohere_mod.build_cohere_request(_request(output_schema={"type": "object"}))
    assert structured["response_format"] == {"type": "json_object", "json_schema": {"type": "object"}}
    assert "thinking" not in structured


def test_cohere_response_parsing() -> None:
    body = {
        "id": "r1",
        "finish_reason": "TOOL_CALL",
        "message": {
            "role": "assistant",
            "tool_plan": "I will check the weather.",
            "content": [{"type": "thinking", "thinking": "weather tool"}],
            "tool_calls": [
                {
                    "id": "get_weather_abc",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        "usage": {
            "billed_units": {"input_tokens": 5},
            "tokens": {"input_tokens": 40.0, "output_tokens": 12.0},
            "cached_tokens": 16,
        },
    }
    assert cohere_mod.parse_cohere_response(body) == LlmResponse(
        content="I will check the weather.",
        tool_calls=[LlmToolCall(id="get_weather_abc", name="get_weather", arguments='{"city":"Oslo"}')],
        usage=LlmUsage(prompt_tokens=40, completion_tokens=12, cached_tokens=16),
        finish_reason="tool_calls",
        thinking="weather tool",
    )
    text = cohere_mod.parse_cohere_response(
        {"finish_reason": "COMPLETE", "message": {"content": [{"type": "text", "text": "Hi"}]}}
    )
    assert (text.content, text.finish_reason, text.tool_calls) == ("Hi", "stop", [])


class _CohereApiError(Exception):
    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__(f"status {status_code}")
        self.status_code = status_code
        self.body = body


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (400, False), (401, False)])
def test_cohere_error_classification_redacts_the_key(status: int, retryable: bool) -> None:
    error = cohere_mod.classify_error(
        _CohereApiError(status, {"message": "invalid key co-secret"}), "co-secret"
    )
    assert error.retryable is retryable
    assert f"HTTP {status}" in str(error)
    assert "co-secret" not in str(error)
    assert cohere_mod.classify_error(httpx.ReadTimeout("slow")).retryable is True


@pytest.mark.anyio
async def test_cohere_adapter_with_a_stand_in_sdk_shares_the_http_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    class AsyncClientV2:
        def __init__(self, **options: Any) -> None:
            seen["client"] = options

        async def chat(self, **kwargs: Any) -> dict[str, Any]:
            seen["chat"] = kwargs
            return {"finish_reason": "COMPLETE", "message": {"content": [{"type": "text", "text": "Hola"}]}}

    monkeypatch.setitem(sys.modules, "cohere", _module("cohere", AsyncClientV2=AsyncClientV2))
    async with httpx.AsyncClient() as shared:
        registry = ProviderRegistry(env={"COHERE_API_KEY": "co-key"}, http_client=shared)
        provider, name = registry.resolve("cohere/command-a-03-2025")
        deltas: list[str] = []
        response = await provider.complete(_request(name), on_delta=deltas.append)
        await registry.aclose()
        assert seen["client"]["httpx_client"] is shared
    assert response.content == "Hola"
    assert deltas == ["Hola"]
    assert seen["client"]["api_key"] == "co-key"
    assert seen["chat"]["request_options"] == {"max_retries": 0}  # the executor owns retries
    assert seen["chat"]["messages"] == [{"role": "user", "content": "hi"}]
