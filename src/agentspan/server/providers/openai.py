"""Adapter for the OpenAI Chat Completions wire protocol (``POST {base_url}/chat/completions``).

Works with api.openai.com and with any OpenAI-compatible server (vLLM, llama.cpp, Ollama, ...).
Errors are normalised to :class:`ProviderError`: 429, 5xx, timeouts and connection failures are
retryable; every other failure is not. The API key never appears in an error message.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from agentspan.server.providers.base import (
    DeltaCallback,
    LlmRequest,
    LlmResponse,
    LlmToolCall,
    LlmUsage,
    ProviderError,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"

# Error bodies from proxies can be whole HTML pages; keep messages to one readable line.
_MAX_ERROR_TEXT = 300


class OpenAIProvider:
    """Calls an OpenAI-compatible ``/chat/completions`` endpoint.

    ``client`` lets several adapters share one connection pool; a client passed in is not
    closed by :meth:`aclose` (its owner closes it). Without one, the adapter creates its own
    on first use and closes it in :meth:`aclose`.
    """

    def __init__(
        self,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 120.0,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._api_key = api_key or None
        self._base_url = base_url
        self._timeout = timeout
        self._client = client
        self._owns_client = client is None

    async def complete(self, request: LlmRequest, on_delta: DeltaCallback | None = None) -> LlmResponse:
        """Send one chat completion request and normalise the reply."""
        url = _join_url(request.base_url or self._base_url, "chat/completions")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            reply = await self._http().post(
                url, json=build_payload(request), headers=headers, timeout=self._timeout
            )
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"OpenAI request to {url} timed out after {self._timeout:g}s ({type(exc).__name__})",
                retryable=True,
            ) from None
        except httpx.UnsupportedProtocol as exc:
            # A malformed base URL will not fix itself on retry.
            raise ProviderError(f"invalid OpenAI base URL {url!r}: {exc}", retryable=False) from None
        except httpx.TransportError as exc:
            raise ProviderError(
                f"could not reach OpenAI at {url}: {type(exc).__name__}: {exc}", retryable=True
            ) from None
        except httpx.InvalidURL as exc:
            raise ProviderError(f"invalid OpenAI base URL {url!r}: {exc}", retryable=False) from None
        return self._parse(reply)

    async def aclose(self) -> None:
        """Close the HTTP client if this adapter created it."""
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        # Created lazily so constructing an adapter needs no event loop and opens nothing.
        if self._client is None:
            self._client = httpx.AsyncClient()
            self._owns_client = True
        return self._client

    def _parse(self, reply: httpx.Response) -> LlmResponse:
        status = reply.status_code
        if status == 429 or 500 <= status <= 599:
            raise ProviderError(
                f"OpenAI returned HTTP {status}: {self._error_text(reply)}",
                retryable=True,
                retry_after=retry_after_seconds(reply.headers),
            )
        if not 200 <= status <= 299:
            raise ProviderError(f"OpenAI returned HTTP {status}: {self._error_text(reply)}", retryable=False)
        try:
            body = reply.json()
        except ValueError:
            raise ProviderError(
                f"OpenAI returned HTTP {status} with a body that is not JSON: "
                f"{self._redact(_one_line(reply.text))}",
                retryable=False,
            ) from None
        try:
            return parse_completion(body)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"OpenAI returned an unexpected response shape ({type(exc).__name__}: {exc}); "
                "expected choices[0].message",
                retryable=False,
            ) from None

    def _error_text(self, reply: httpx.Response) -> str:
        return self._redact(_error_message(reply))

    def _redact(self, text: str) -> str:
        # Some servers echo the credential back in error bodies; never let it into our messages.
        if self._api_key:
            text = text.replace(self._api_key, "<redacted>")
        return text


def build_payload(request: LlmRequest) -> dict[str, Any]:
    """The JSON body for ``/chat/completions``."""
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    messages.extend(_to_openai_message(m) for m in request.messages)
    payload: dict[str, Any] = {"model": request.model, "messages": messages}
    if request.tools:
        payload["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
            for tool in request.tools
        ]
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    if request.max_tokens is not None:
        payload["max_tokens"] = request.max_tokens
    if request.output_schema is not None:
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": request.output_schema},
        }
    return payload


def _to_openai_message(message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
        calls = message.get("tool_calls") or []
        # OpenAI rejects an empty tool_calls array, so only send it when there are calls.
        if calls:
            out["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": _arguments_text(call["arguments"])},
                }
                for call in calls
            ]
        return out
    if role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message["tool_call_id"],
            "content": message.get("content") or "",
        }
    return {"role": role, "content": message.get("content")}


def _arguments_text(arguments: Any) -> str:
    # Arguments are stored as the model's raw text; even malformed text is sent back verbatim so
    # the model sees exactly what it produced.
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def parse_completion(body: Any) -> LlmResponse:
    """Normalise a ``chat.completion`` body; raises KeyError/TypeError/... on a wrong shape."""
    if not isinstance(body, dict):
        raise TypeError("body is not a JSON object")
    choice = body["choices"][0]
    message = choice["message"]
    if not isinstance(message, dict):
        raise TypeError("choices[0].message is not an object")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise TypeError("message.content is not a string")
    tool_calls: list[LlmToolCall] = []
    for call in message.get("tool_calls") or []:
        function = call["function"]
        name = function["name"]
        if not isinstance(name, str):
            raise TypeError("tool call name is not a string")
        tool_calls.append(
            LlmToolCall(
                id=str(call["id"]),
                name=name,
                # Kept exactly as received: validating arguments is the engine's job.
                arguments=_arguments_text(function.get("arguments", "")),
            )
        )
    usage = body.get("usage") or {}
    return LlmResponse(
        content=content,
        tool_calls=tool_calls,
        usage=LlmUsage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        ),
        finish_reason=choice.get("finish_reason"),
    )


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
        return max(seconds, 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _error_message(reply: httpx.Response) -> str:
    try:
        body = reply.json()
    except ValueError:
        return _one_line(reply.text) or reply.reason_phrase or "no error message"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return _one_line(error["message"])
        if isinstance(error, str):
            return _one_line(error)
        for key in ("message", "detail"):
            if isinstance(body.get(key), str):
                return _one_line(body[key])
    return _one_line(json.dumps(body))


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 3] + "..."


def _join_url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path
