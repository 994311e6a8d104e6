"""Adapter for the Anthropic Messages API (``POST {base_url}/v1/messages``).

Errors are normalised to :class:`ProviderError` with the same rules as the OpenAI adapter: 429,
5xx (including Anthropic's 529 "overloaded"), timeouts and connection failures are retryable and
honour ``Retry-After``; every other failure is not. The API key never appears in an error message.

Two limits of the internal conversation shape shape this adapter:

* Anthropic has no JSON-schema response mode in API version ``2023-06-01``, so structured
  output is requested through the system prompt (and a reply wrapped in a Markdown code fence is
  unwrapped).
* With extended thinking, a tool-use loop must echo the previous turn's *signed* thinking blocks
  back; the stored conversation keeps no signatures, so thinking is switched off for requests that
  continue a tool-use loop (the API would reject them otherwise) and is used again on the next turn.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx

from agentspan.protocol.messages import ChatMessage
from agentspan.server.providers._common import (
    HTTP_FAILURES,
    HttpAdapter,
    append_turn,
    arguments_text,
    error_detail,
    one_line,
)
from agentspan.server.providers._common import parse_arguments as parse_arguments
from agentspan.server.providers._common import parse_data_url as parse_data_url
from agentspan.server.providers._common import sse_data as sse_data
from agentspan.server.providers.base import (
    DeltaCallback,
    LlmRequest,
    LlmResponse,
    LlmToolCall,
    LlmUsage,
    ProviderError,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires ``max_tokens``; used when the request sets none."""

# Error types a streamed ``error`` event can carry that are worth retrying (the HTTP status was
# already 200, so the type is all there is to go on).
_RETRYABLE_ERROR_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})
_FENCED_JSON = re.compile(r"\A\s*```(?:json)?\s*\n(.*?)\n?```\s*\Z", re.DOTALL | re.IGNORECASE)


class AnthropicProvider(HttpAdapter):
    """Calls the Anthropic Messages API (``client``: see :class:`~._common.HttpAdapter`)."""

    _label = "Anthropic"

    def __init__(
        self,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 120.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(api_key, base_url, timeout, client)

    async def complete(self, request: LlmRequest, on_delta: DeltaCallback | None = None) -> LlmResponse:
        """Send one Messages request (streamed when ``on_delta`` is given) and normalise the reply."""
        url = messages_url(self._base_url)
        payload = build_payload(request, stream=on_delta is not None)
        try:
            if on_delta is None:
                response = self._parse(await self._post(url, payload))
            else:
                response = await self._stream(url, payload, on_delta)
        except HTTP_FAILURES as exc:
            raise self._transport_error(url, exc) from None
        if request.output_schema is not None and response.content is not None:
            response = _replace_content(response, unwrap_json_fence(response.content))
        return response

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if self._api_key is not None:
            headers["x-api-key"] = self._api_key
        return headers

    async def _stream(self, url: str, payload: dict[str, Any], on_delta: DeltaCallback) -> LlmResponse:
        headers = {**self._headers(), "accept": "text/event-stream"}
        async with self._open_stream(url, payload, headers) as reply:
            assembler = StreamAssembler()
            async for data in sse_data(reply.aiter_lines()):
                try:
                    event = json.loads(data)
                except ValueError:
                    raise ProviderError(
                        f"Anthropic streamed an event that is not JSON: {self._redact(one_line(data))}",
                        retryable=False,
                    ) from None
                try:
                    piece = assembler.feed(event)
                except ProviderError as exc:
                    # An ``error`` event: its text comes from the server, so redact it too.
                    raise self._redacted(exc) from None
                except (KeyError, TypeError, ValueError) as exc:
                    raise ProviderError(
                        f"Anthropic streamed an unexpected event shape ({type(exc).__name__}: {exc})",
                        retryable=False,
                    ) from None
                if piece:
                    on_delta(piece)
            return assembler.result()

    def _parse(self, reply: httpx.Response) -> LlmResponse:
        return self._parse_body(reply, parse_message, "a message with a content array")

    def _status_error(self, reply: httpx.Response) -> ProviderError:
        return self._http_error(reply, error_detail(reply, _error_message))


def messages_url(base_url: str) -> str:
    """``{base}/v1/messages``, also accepting a base URL that already ends in ``/v1``."""
    base = base_url.rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return base + "/v1/messages"


# -- request mapping ----------------------------------------------------------------------------


def build_payload(request: LlmRequest, *, stream: bool = False) -> dict[str, Any]:
    """The JSON body for ``/v1/messages``."""
    budget = request.thinking_budget_tokens
    thinking = budget is not None and budget > 0 and not continues_tool_loop(request.messages)
    payload: dict[str, Any] = {
        "model": request.model,
        "max_tokens": max_tokens_for(request.max_tokens, budget if thinking else None),
        "messages": to_anthropic_messages(request.messages),
    }
    system = system_prompt(request.instructions, request.output_schema)
    if system:
        payload["system"] = system
    if request.tools:
        payload["tools"] = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
            for tool in request.tools
        ]
    if thinking:
        payload["thinking"] = {"type": "enabled", "budget_tokens": budget}
    elif request.temperature is not None:
        # Only without thinking: the API rejects a custom temperature when thinking is enabled.
        payload["temperature"] = request.temperature
    if stream:
        payload["stream"] = True
    return payload


def max_tokens_for(max_tokens: int | None, thinking_budget: int | None) -> int:
    """``max_tokens`` to send; with thinking it must exceed the budget (thinking counts in it).

    An explicit value that already leaves room for an answer is honoured as the total cap;
    otherwise the request's value (or the default) is treated as the room left for the answer.
    """
    if thinking_budget is None:
        return max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS
    if max_tokens is not None and max_tokens > thinking_budget:
        return max_tokens
    return thinking_budget + (max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS)


def continues_tool_loop(messages: list[ChatMessage]) -> bool:
    """Whether the last assistant message called tools, i.e. this request continues its turn."""
    for message in reversed(messages):
        if message["role"] == "assistant":
            return bool(message.get("tool_calls"))
    return False


def system_prompt(instructions: str | None, output_schema: dict[str, Any] | None) -> str | None:
    """The ``system`` text: instructions, plus the structured-output contract when a schema is set."""
    parts = [instructions] if instructions else []
    if output_schema is not None:
        parts.append(
            "Answer with only a JSON document that matches this JSON schema: no prose and no "
            "Markdown code fence.\n" + json.dumps(output_schema, indent=2)
        )
    return "\n\n".join(parts) or None


def to_anthropic_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Internal messages to alternating user/assistant messages of content blocks.

    Consecutive messages that land on the same role are merged into one, which puts a run of
    tool results into a single user message as the API requires.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        role, blocks = _to_blocks(message)
        # Empty content (e.g. an assistant message with no text and no calls) is dropped.
        append_turn(out, role, blocks, "content")
    return out


def _to_blocks(message: ChatMessage) -> tuple[str, list[dict[str, Any]]]:
    if message["role"] == "assistant":
        blocks: list[dict[str, Any]] = []
        if message["content"]:
            blocks.append({"type": "text", "text": message["content"]})
        for call in message.get("tool_calls") or []:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call["id"],
                    "name": call["name"],
                    "input": parse_arguments(call.get("arguments")),
                }
            )
        return "assistant", blocks
    if message["role"] == "tool":
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message["tool_call_id"]}
        if message["content"]:
            # ``content`` is optional and an empty string is rejected, so only send real text.
            result["content"] = message["content"]
        return "user", [result]
    # Media first: Anthropic recommends images before the text that refers to them.
    blocks = [media_block(url) for url in message.get("media") or []]
    if message["content"]:
        blocks.append({"type": "text", "text": message["content"]})
    return "user", blocks


def media_block(url: str) -> dict[str, Any]:
    """An ``image`` block, or a ``document`` block for PDFs and plain text."""
    if url.startswith("data:"):
        mime, data = parse_data_url(url)
        if mime == "application/pdf":
            return {"type": "document", "source": {"type": "base64", "media_type": mime, "data": data}}
        if mime == "text/plain":
            text = base64.b64decode(data).decode("utf-8", errors="replace")
            return {"type": "document", "source": {"type": "text", "media_type": mime, "data": text}}
        if mime.startswith("image/"):
            return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}
        raise ProviderError(f"Anthropic models do not accept media of type {mime!r}", retryable=False)
    path = urllib.parse.urlsplit(url).path
    if mimetypes.guess_type(path)[0] == "application/pdf":
        return {"type": "document", "source": {"type": "url", "url": url}}
    return {"type": "image", "source": {"type": "url", "url": url}}


# -- response parsing ---------------------------------------------------------------------------


def parse_message(body: Any) -> LlmResponse:
    """Normalise a ``message`` body; raises KeyError/TypeError/... on a wrong shape."""
    if not isinstance(body, dict):
        raise TypeError("body is not a JSON object")
    blocks = body["content"]
    if not isinstance(blocks, list):
        raise TypeError("content is not an array")
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[LlmToolCall] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block["text"]))
        elif kind == "thinking":
            thoughts.append(str(block.get("thinking") or ""))
        elif kind == "tool_use":
            name = block["name"]
            if not isinstance(name, str):
                raise TypeError("tool_use name is not a string")
            # A streamed call keeps the model's raw JSON text (possibly truncated or malformed) so the
            # engine can feed it back; a parsed object is re-encoded.
            value = block.get("input")
            arguments = arguments_text({} if value is None else value)
            calls.append(LlmToolCall(id=str(block["id"]), name=name, arguments=arguments))
        # Other blocks (redacted_thinking, server tools) carry nothing the engine can use.
    return LlmResponse(
        content="".join(texts) if texts else None,
        tool_calls=calls,
        usage=parse_usage(body.get("usage") or {}),
        finish_reason=body.get("stop_reason"),
        thinking="".join(thoughts) if thoughts else None,
    )


def parse_usage(usage: dict[str, Any]) -> LlmUsage:
    """Anthropic counts cache reads and writes apart from ``input_tokens``; we fold them in."""
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    cache_write = int(usage.get("cache_creation_input_tokens") or 0)
    return LlmUsage(
        prompt_tokens=int(usage.get("input_tokens") or 0) + cache_read + cache_write,
        completion_tokens=int(usage.get("output_tokens") or 0),
        cached_tokens=cache_read,
        # The API does not report thinking tokens separately (they are inside output_tokens).
        reasoning_tokens=0,
    )


def unwrap_json_fence(content: str) -> str:
    """The JSON inside a reply that is one Markdown code fence; other text is returned unchanged."""
    match = _FENCED_JSON.match(content)
    return match.group(1).strip() if match else content


def _replace_content(response: LlmResponse, content: str) -> LlmResponse:
    return LlmResponse(
        content=content,
        tool_calls=response.tool_calls,
        usage=response.usage,
        finish_reason=response.finish_reason,
        thinking=response.thinking,
    )


# -- streaming ----------------------------------------------------------------------------------


@dataclass(slots=True)
class StreamAssembler:
    """Rebuilds the final ``message`` body from stream events, then parses it like a plain reply."""

    message: dict[str, Any] = field(default_factory=dict)
    blocks: dict[int, dict[str, Any]] = field(default_factory=dict)
    partial_json: dict[int, list[str]] = field(default_factory=dict)
    stopped: bool = False

    def feed(self, event: Any) -> str | None:
        """Apply one event; returns answer text to pass on as a delta, if any."""
        if not isinstance(event, dict):
            raise ProviderError("Anthropic streamed an event that is not an object", retryable=False)
        kind = event.get("type")
        if kind == "message_start":
            self.message = dict(event.get("message") or {})
        elif kind == "content_block_start":
            self.blocks[int(event["index"])] = dict(event.get("content_block") or {})
        elif kind == "content_block_delta":
            return self._delta(int(event["index"]), event.get("delta") or {})
        elif kind == "message_delta":
            self._message_delta(event)
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "error":
            raise _stream_error(event.get("error") or {})
        return None

    def result(self) -> LlmResponse:
        """The complete reply; a stream cut before ``message_stop`` is a retryable failure."""
        if not self.stopped:
            raise ProviderError("Anthropic stream ended before message_stop", retryable=True)
        content: list[dict[str, Any]] = []
        for index in sorted(self.blocks):
            block = self.blocks[index]
            if block.get("type") == "tool_use" and index in self.partial_json:
                block = {**block, "input": "".join(self.partial_json[index])}
            content.append(block)
        try:
            return parse_message({**self.message, "content": content})
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"Anthropic streamed an unexpected message shape ({type(exc).__name__}: {exc})",
                retryable=False,
            ) from None

    def _delta(self, index: int, delta: dict[str, Any]) -> str | None:
        block = self.blocks.setdefault(index, {})
        kind = delta.get("type")
        if kind == "text_delta":
            text = str(delta.get("text") or "")
            block["text"] = str(block.get("text") or "") + text
            return text
        if kind == "input_json_delta":
            self.partial_json.setdefault(index, []).append(str(delta.get("partial_json") or ""))
        elif kind == "thinking_delta":
            block["thinking"] = str(block.get("thinking") or "") + str(delta.get("thinking") or "")
        return None

    def _message_delta(self, event: dict[str, Any]) -> None:
        delta = event.get("delta") or {}
        if "stop_reason" in delta:
            self.message["stop_reason"] = delta["stop_reason"]
        # Counts in message_delta are cumulative and win over message_start's provisional ones.
        usage = {**(self.message.get("usage") or {})}
        usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        self.message["usage"] = usage


def _stream_error(error: dict[str, Any]) -> ProviderError:
    kind = str(error.get("type") or "error")
    message = one_line(str(error.get("message") or "no error message"))
    return ProviderError(
        f"Anthropic stream failed ({kind}): {message}", retryable=kind in _RETRYABLE_ERROR_TYPES
    )


# -- errors -------------------------------------------------------------------------------------


def _error_message(body: dict[str, Any]) -> str | None:
    # ``{"type": "error", "error": {"type": ..., "message": ...}}``, or a proxy's ``{"message": ...}``.
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        kind = error.get("type")
        prefix = f"{kind}: " if isinstance(kind, str) and kind else ""
        return prefix + one_line(error["message"])
    if isinstance(body.get("message"), str):
        return one_line(body["message"])
    return None
