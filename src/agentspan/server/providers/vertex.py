"""Adapter for Gemini on Google Cloud Vertex AI through ``google-genai`` (optional extra ``vertex``).

Vertex AI authenticates with Google Application Default Credentials (service accounts,
workload identity, ``gcloud auth application-default login``), which is why this adapter uses
Google's SDK instead of the shared HTTP client. The SDK is natively async.

The request/response mapping is done by pure functions (:func:`build_vertex_request`,
:func:`parse_vertex_response`, :func:`classify_error`) so it is testable without the SDK.
"""

from __future__ import annotations

import json
import mimetypes
import uuid
from types import ModuleType
from typing import Any

import httpx

from agentspan.protocol.messages import ChatMessage
from agentspan.server.providers._common import (
    append_turn,
    call_sdk,
    decode_data_url,
    load_sdk_module,
    unstreamed_reply,
)
from agentspan.server.providers._common import arguments_object as arguments_object
from agentspan.server.providers._common import as_dict as as_dict
from agentspan.server.providers._common import schema_instruction as schema_instruction
from agentspan.server.providers.base import (
    DeltaCallback,
    LlmRequest,
    LlmResponse,
    LlmToolCall,
    LlmUsage,
    ProviderError,
)

INSTALL_HINT = "pip install 'agentspan[vertex]'"
DEFAULT_LOCATION = "global"
"""Google's multi-region endpoint, where current Gemini models are available first."""

_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}


def load_sdk() -> ModuleType:
    """Import ``google.genai``, or fail with the command that installs it."""
    return load_sdk_module("google.genai", "google_vertex_ai", "google-genai", INSTALL_HINT)


class VertexProvider:
    """Calls ``generate_content`` on Vertex AI. ``sdk`` is the imported ``google.genai`` module."""

    def __init__(self, sdk: ModuleType, project: str, location: str, *, timeout: float = 120.0) -> None:
        self._sdk = sdk
        self._project = project
        self._location = location
        self._timeout = timeout
        self._client: Any = None

    async def complete(self, request: LlmRequest, on_delta: DeltaCallback | None = None) -> LlmResponse:
        """One generate_content call. Not streamed: ``on_delta`` gets the whole answer once."""
        contents, config = build_vertex_request(request)
        # The SDK raises auth, HTTP and validation errors (the client is built on first use, which
        # looks up credentials); classify_error sorts them.
        reply = await call_sdk(
            lambda: self._genai().aio.models.generate_content(
                model=request.model, contents=contents, config=config
            ),
            classify_error,
        )
        return unstreamed_reply("Vertex AI", lambda: parse_vertex_response(as_dict(reply)), on_delta)

    async def aclose(self) -> None:
        """Close the SDK's async transport if one was opened."""
        client, self._client = self._client, None
        closer = getattr(getattr(client, "aio", None), "aclose", None)
        if closer is not None:
            await closer()

    def _genai(self) -> Any:
        # Built lazily: constructing the client looks up credentials, which can fail, and that
        # failure belongs to a model call (where it is reported), not to resolving the model.
        if self._client is None:
            self._client = self._sdk.Client(
                vertexai=True,
                project=self._project,
                location=self._location,
                http_options={"timeout": int(self._timeout * 1000)},  # milliseconds
            )
        return self._client


def build_vertex_request(request: LlmRequest) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``(contents, config)`` for ``generate_content``, as the SDK's plain-dict forms."""
    config: dict[str, Any] = {}
    system = [request.instructions] if request.instructions else []
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["max_output_tokens"] = request.max_tokens
    if request.tools:
        declarations = [
            # parameters_json_schema takes full JSON Schema; "parameters" only an OpenAPI subset.
            {"name": t.name, "description": t.description, "parameters_json_schema": t.parameters}
            for t in request.tools
        ]
        config["tools"] = [{"function_declarations": declarations}]
    if request.output_schema is not None:
        if request.tools:
            # Several Gemini versions refuse JSON response mode together with function calling,
            # so with tools the schema is asked for in the instructions (the engine validates).
            system.append(schema_instruction(request.output_schema))
        else:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = request.output_schema
    if system:
        config["system_instruction"] = "\n\n".join(system)
    if request.thinking_budget_tokens is not None:
        config["thinking_config"] = {
            "thinking_budget": request.thinking_budget_tokens,
            "include_thoughts": True,
        }
    return vertex_contents(request.messages), config


def vertex_contents(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Our conversation as Gemini ``contents``.

    Gemini names tool results by function name, not call id, so names are looked up from the
    assistant turn that made the calls. Consecutive turns of one role are merged, because
    Gemini wants all responses to one model turn's calls in a single user turn.
    """
    out: list[dict[str, Any]] = []
    names_by_id: dict[str, str] = {}
    for message in messages:
        parts: list[dict[str, Any]] = []
        if message["role"] == "assistant":
            if message["content"]:
                parts.append({"text": message["content"]})
            for call in message.get("tool_calls") or []:
                names_by_id[call["id"]] = call["name"]
                parts.append(
                    {"function_call": {"name": call["name"], "args": arguments_object(call["arguments"])}}
                )
            append_turn(out, "model", parts, "parts")
        elif message["role"] == "tool":
            name = message.get("name") or names_by_id.get(message.get("tool_call_id", ""), "tool")
            # "output" is the key Gemini documents for a function's result.
            response = {"output": message["content"] or ""}
            append_turn(out, "user", [{"function_response": {"name": name, "response": response}}], "parts")
        else:
            if message["content"]:
                parts.append({"text": message["content"]})
            parts += [media_part(url) for url in message.get("media") or []]
            append_turn(out, "user", parts, "parts")
    return out


def media_part(url: str) -> dict[str, Any]:
    """Inline bytes for a ``data:`` URL; a file reference (``gs://``, ``https://``) otherwise."""
    if url.startswith("data:"):
        try:
            mime, data = decode_data_url(url)
        except ProviderError:
            mime, data = "", b""
        if not data:
            # Gemini rejects empty inline data too.
            raise ProviderError("malformed data: URL attachment", retryable=False)
        return {"inline_data": {"data": data, "mime_type": mime}}
    mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "application/octet-stream"
    return {"file_data": {"file_uri": url, "mime_type": mime}}


def parse_vertex_response(body: dict[str, Any]) -> LlmResponse:
    """Normalise a ``GenerateContentResponse`` dict; raises on a wrong shape."""
    candidates = body.get("candidates") or []
    if not candidates:
        reason = _enum_text((body.get("prompt_feedback") or {}).get("block_reason")) or "no candidates"
        raise ProviderError(f"Vertex AI returned no answer: {reason}", retryable=False)
    candidate = candidates[0]
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[LlmToolCall] = []
    for part in (candidate.get("content") or {}).get("parts") or []:
        call = part.get("function_call")
        if call:
            # Vertex often omits call ids; ours must be unique within the conversation.
            call_id = str(call.get("id") or f"call_{uuid.uuid4().hex[:24]}")
            calls.append(
                LlmToolCall(id=call_id, name=str(call["name"]), arguments=json.dumps(call.get("args") or {}))
            )
        elif part.get("text"):
            (thoughts if part.get("thought") else texts).append(str(part["text"]))
    usage = body.get("usage_metadata") or {}
    thinking_tokens = int(usage.get("thoughts_token_count") or 0)
    return LlmResponse(
        content="".join(texts) if texts else None,
        tool_calls=calls,
        usage=LlmUsage(
            prompt_tokens=int(usage.get("prompt_token_count") or 0),
            # Gemini counts thoughts apart from the candidates; ours include them.
            completion_tokens=int(usage.get("candidates_token_count") or 0) + thinking_tokens,
            cached_tokens=int(usage.get("cached_content_token_count") or 0),
            reasoning_tokens=thinking_tokens,
        ),
        finish_reason="tool_calls" if calls else _finish_reason(_enum_text(candidate.get("finish_reason"))),
        thinking="".join(thoughts) or None,
    )


def _enum_text(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _finish_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    if reason == "STOP":
        return "stop"
    if reason == "MAX_TOKENS":
        return "length"
    return "content_filter" if reason in _FILTERED else reason.lower()


def classify_error(exc: BaseException) -> ProviderError:
    """Map a google-genai / google-auth / transport exception onto a ProviderError."""
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException | httpx.TransportError):
        return ProviderError(f"could not reach Vertex AI: {name}: {exc}", retryable=True)
    if name in ("DefaultCredentialsError", "RefreshError"):
        return ProviderError(
            f"no usable Google credentials for Vertex AI ({name}): run `gcloud auth application-default "
            "login` or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file",
            retryable=False,
        )
    code = getattr(exc, "code", None)  # google.genai.errors.APIError carries the HTTP status
    if isinstance(code, int):
        retryable = code in (408, 429) or code >= 500
        message = getattr(exc, "message", None) or str(exc)
        return ProviderError(f"Vertex AI returned HTTP {code}: {message}", retryable=retryable)
    return ProviderError(f"Vertex AI call failed: {name}: {exc}", retryable=False)
