"""Adapter for Cohere's v2 Chat API through the ``cohere`` SDK (optional extra ``cohere``).

The SDK's ``AsyncClientV2`` is natively async and is handed the registry's shared
``httpx.AsyncClient``, so Cohere calls use the same connection pool as the HTTP providers. The
SDK's own retries are switched off per call: the LLM executor retries with its single policy.

The request/response mapping is done by pure functions (:func:`build_cohere_request`,
:func:`parse_cohere_response`, :func:`classify_error`) so it is testable without the SDK.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import httpx

from agentspan.protocol.messages import ChatMessage
from agentspan.server.providers._common import (
    arguments_text,
    call_sdk,
    load_sdk_module,
    redact,
    unstreamed_reply,
)
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

INSTALL_HINT = "pip install 'agentspan[cohere]'"

_FINISH_REASONS = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR": "error",
    "TIMEOUT": "error",
}


def load_sdk() -> ModuleType:
    """Import the ``cohere`` SDK, or fail with the command that installs it."""
    return load_sdk_module("cohere", "cohere", "cohere", INSTALL_HINT)


class CohereProvider:
    """Calls Cohere ``/v2/chat``. ``sdk`` is the imported ``cohere`` module."""

    def __init__(
        self,
        sdk: ModuleType,
        api_key: str,
        base_url: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 120.0,
    ) -> None:
        self._sdk = sdk
        self._api_key = api_key
        self._base_url = base_url
        self._http_client = http_client
        self._timeout = timeout
        self._client: Any = None

    async def complete(self, request: LlmRequest, on_delta: DeltaCallback | None = None) -> LlmResponse:
        """One chat call. Not streamed: ``on_delta`` gets the whole answer once."""
        kwargs = build_cohere_request(request)
        # The SDK raises one class per HTTP status; classify_error sorts them.
        reply = await call_sdk(
            lambda: self._cohere().chat(**kwargs, request_options={"max_retries": 0}),
            lambda exc: classify_error(exc, self._api_key),
        )
        return unstreamed_reply("Cohere", lambda: parse_cohere_response(as_dict(reply)), on_delta)

    async def aclose(self) -> None:
        """Nothing to close: the HTTP client belongs to the registry."""
        self._client = None

    def _cohere(self) -> Any:
        if self._client is None:
            options: dict[str, Any] = {"api_key": self._api_key, "timeout": self._timeout}
            if self._base_url:
                options["base_url"] = self._base_url
            if self._http_client is not None:
                options["httpx_client"] = self._http_client
            self._client = self._sdk.AsyncClientV2(**options)
        return self._client


def build_cohere_request(request: LlmRequest) -> dict[str, Any]:
    """Keyword arguments for ``AsyncClientV2.chat`` (only the fields that are set)."""
    system = [request.instructions] if request.instructions else []
    kwargs: dict[str, Any] = {"model": request.model}
    if request.tools:
        kwargs["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
            }
            for t in request.tools
        ]
    if request.output_schema is not None:
        if request.tools:
            # Cohere's JSON response mode cannot be combined with tools, so with tools the schema
            # is asked for in the system message (the engine validates the answer).
            system.append(schema_instruction(request.output_schema))
        else:
            kwargs["response_format"] = {"type": "json_object", "json_schema": request.output_schema}
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    if request.max_tokens is not None:
        kwargs["max_tokens"] = request.max_tokens
    if request.thinking_budget_tokens is not None:
        kwargs["thinking"] = {"type": "enabled", "token_budget": request.thinking_budget_tokens}
    messages = [{"role": "system", "content": "\n\n".join(system)}] if system else []
    kwargs["messages"] = messages + [cohere_message(m) for m in request.messages]
    return kwargs


def cohere_message(message: ChatMessage) -> dict[str, Any]:
    """One of our messages as a Cohere v2 chat message."""
    if message["role"] == "tool":
        return {
            "role": "tool",
            "tool_call_id": message["tool_call_id"],
            "content": message["content"] or "",
        }
    if message["role"] == "assistant":
        calls = message.get("tool_calls") or []
        if not calls:
            return {"role": "assistant", "content": message["content"] or ""}
        out: dict[str, Any] = {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": arguments_text(call["arguments"])},
                }
                for call in calls
            ],
        }
        # Text the model wrote alongside its calls is Cohere's "tool plan".
        if message["content"]:
            out["tool_plan"] = message["content"]
        return out
    media = message.get("media") or []
    if not media:
        return {"role": "user", "content": message["content"] or ""}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message["content"]}] if message["content"] else []
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in media]
    return {"role": "user", "content": parts}


def parse_cohere_response(body: dict[str, Any]) -> LlmResponse:
    """Normalise a v2 ``ChatResponse`` dict; raises on a wrong shape."""
    message = body.get("message") or {}
    texts: list[str] = []
    thinking: list[str] = []
    for item in message.get("content") or []:
        if item.get("type") == "text" and item.get("text"):
            texts.append(str(item["text"]))
        elif item.get("type") == "thinking" and item.get("thinking"):
            thinking.append(str(item["thinking"]))
    calls = [
        LlmToolCall(
            id=str(call["id"]),
            name=str(call["function"]["name"]),
            arguments=arguments_text(call["function"].get("arguments") or "{}"),
        )
        for call in message.get("tool_calls") or []
    ]
    content = "".join(texts) if texts else (message.get("tool_plan") or None)
    usage = body.get("usage") or {}
    tokens = usage.get("tokens") or usage.get("billed_units") or {}
    reason = body.get("finish_reason")
    return LlmResponse(
        content=content,
        tool_calls=calls,
        usage=LlmUsage(
            prompt_tokens=int(tokens.get("input_tokens") or 0),
            completion_tokens=int(tokens.get("output_tokens") or 0),
            cached_tokens=int(usage.get("cached_tokens") or 0),
        ),
        finish_reason=_FINISH_REASONS.get(str(reason), str(reason).lower()) if reason else None,
        thinking="".join(thinking) or None,
    )


def classify_error(exc: BaseException, api_key: str | None = None) -> ProviderError:
    """Map a cohere SDK / transport exception onto a ProviderError (never echoing the key)."""
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException | httpx.TransportError):
        return ProviderError(f"could not reach Cohere: {name}: {exc}", retryable=True)
    status = getattr(exc, "status_code", None)  # cohere.core.api_error.ApiError and subclasses
    detail = getattr(exc, "body", None) or str(exc)
    text = redact(" ".join(str(detail).split()), api_key)[:300]  # redact before cutting
    if isinstance(status, int):
        retryable = status == 429 or status >= 500
        return ProviderError(f"Cohere returned HTTP {status}: {text}", retryable=retryable)
    return ProviderError(f"Cohere call failed: {name}: {text}", retryable=False)
