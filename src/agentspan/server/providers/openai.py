"""Adapter for the OpenAI Chat Completions wire protocol (``POST {base_url}/chat/completions``).

Works with api.openai.com, Azure OpenAI, and every OpenAI-compatible server (Groq, DeepSeek,
Mistral, xAI, Ollama, vLLM, ...); :mod:`.registry` holds the per-provider defaults. Errors are
normalised to :class:`ProviderError`: 429, 5xx, timeouts and connection failures are retryable;
every other failure is not. The API key never appears in an error message.

With an ``on_delta`` callback the request is streamed (server-sent events) and the answer text
is passed on piece by piece; the returned :class:`LlmResponse` is the same either way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from agentspan.protocol.messages import ChatMessage, UserMessage
from agentspan.server.providers._common import (
    HTTP_FAILURES,
    HttpAdapter,
    arguments_text,
    error_detail,
    one_line,
)
from agentspan.server.providers._common import retry_after_seconds as retry_after_seconds
from agentspan.server.providers.base import (
    MAX_EMBED_BATCH,
    DeltaCallback,
    Embeddings,
    LlmRequest,
    LlmResponse,
    LlmToolCall,
    LlmUsage,
    ProviderError,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_AZURE_API_VERSION = "2024-10-21"
"""The newest generally-available Azure OpenAI data-plane API version when this was written."""

# OpenAI's reasoning families (o1, o3-mini, o4-mini, gpt-5, gpt-oss ...), optionally behind a
# router prefix such as ``openai/`` (OpenRouter, Together). Chat-tuned gpt-5 variants do not
# reason, so they are excluded.
_REASONING_MODEL = re.compile(r"^(?:o\d+(?:-.*)?|gpt-5(?!.*-chat).*|gpt-oss.*)$")
# Of those, the ones served by OpenAI itself reject ``max_tokens`` and want
# ``max_completion_tokens``; gpt-oss hosts (Groq, Together, ...) keep the classic field.
_COMPLETION_TOKENS_MODEL = re.compile(r"^(?:o\d+(?:-.*)?|gpt-5(?!.*-chat).*)$")


class OpenAIProvider(HttpAdapter):
    """Calls an OpenAI-compatible ``/chat/completions`` endpoint.

    ``client`` lets several adapters share one connection pool (see
    :class:`~._common.HttpAdapter`).

    ``label`` names the provider in error messages. ``azure_api_version`` switches to Azure
    OpenAI: the URL becomes ``{base_url}/openai/deployments/{model}/chat/completions`` with an
    ``api-version`` query parameter (``request.options["apiVersion"]`` overrides it per call)
    and the key travels in an ``api-key`` header. ``stream_usage_option`` sends
    ``stream_options.include_usage`` when streaming; servers that reject unknown fields
    (Mistral) get it turned off and report usage on their last chunk anyway.
    """

    def __init__(
        self,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 120.0,
        *,
        client: httpx.AsyncClient | None = None,
        label: str = "OpenAI",
        azure_api_version: str | None = None,
        stream_usage_option: bool = True,
    ) -> None:
        super().__init__(api_key, base_url, timeout, client)
        self._label = label
        self._azure_api_version = azure_api_version
        self._stream_usage_option = stream_usage_option

    async def complete(self, request: LlmRequest, on_delta: DeltaCallback | None = None) -> LlmResponse:
        """Send one chat completion request (streamed when ``on_delta`` is given)."""
        url = self._url(request)
        payload = build_payload(request, stream=on_delta is not None, stream_usage=self._stream_usage_option)
        try:
            if on_delta is None:
                return self._parse(await self._post(url, payload))
            return await self._stream(url, payload, on_delta)
        except HTTP_FAILURES as exc:
            raise self._transport_error(url, exc) from None

    async def embed(self, model: str, texts: list[str], dimensions: int | None = None) -> Embeddings:
        """One ``POST {base_url}/embeddings`` for up to ``MAX_EMBED_BATCH`` texts."""
        if len(texts) > MAX_EMBED_BATCH:
            raise ProviderError(f"at most {MAX_EMBED_BATCH} texts per embeddings call", retryable=False)
        if self._azure_api_version is None:
            url = _join_url(self._base_url, "embeddings")
        else:
            deployment = quote(model, safe="")
            version = quote(self._azure_api_version, safe="")
            url = _join_url(
                self._base_url, f"openai/deployments/{deployment}/embeddings?api-version={version}"
            )
        payload: dict[str, Any] = {"model": model, "input": texts, "encoding_format": "float"}
        if dimensions is not None:
            payload["dimensions"] = dimensions
        try:
            reply = await self._post(url, payload)
        except HTTP_FAILURES as exc:
            raise self._transport_error(url, exc) from None
        embeddings = self._parse_body(reply, parse_embeddings, "data[].embedding")
        if len(embeddings.vectors) != len(texts):
            raise ProviderError(
                f"{self._label} returned {len(embeddings.vectors)} embeddings for {len(texts)} texts",
                retryable=False,
            )
        return embeddings

    def _url(self, request: LlmRequest) -> str:
        base = self._base_url
        if self._azure_api_version is None:
            return _join_url(base, "chat/completions")
        # On Azure the "model" is the deployment name and picks the URL, not a body field.
        version = str(request.options.get("apiVersion") or self._azure_api_version)
        deployment = quote(request.model, safe="")
        return _join_url(
            base, f"openai/deployments/{deployment}/chat/completions?api-version={quote(version, safe='')}"
        )

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key is not None:
            if self._azure_api_version is not None:
                headers["api-key"] = self._api_key
            else:
                headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    async def _stream(self, url: str, payload: dict[str, Any], on_delta: DeltaCallback) -> LlmResponse:
        headers = {**self._headers(), "Accept": "text/event-stream"}
        async with self._open_stream(url, payload, headers) as reply:
            if reply.headers.get("content-type", "").startswith("application/json"):
                # Some compatible servers ignore "stream" and answer in one piece; accept that.
                await reply.aread()
                response = self._parse(reply)
                if response.content:
                    on_delta(response.content)
                return response
            assembler = StreamAssembler()
            async for line in reply.aiter_lines():
                piece = self._feed(assembler, line)
                if piece:
                    on_delta(piece)
                if assembler.done:
                    break
        if not assembler.complete:
            # The connection closed mid-answer: a fresh attempt can succeed.
            raise ProviderError(f"{self._label} stream ended before the reply was complete", retryable=True)
        return assembler.response()

    def _feed(self, assembler: StreamAssembler, line: str) -> str | None:
        # Only parsing is guarded here, so an exception from the caller's on_delta is not
        # mistaken for a malformed chunk.
        try:
            return assembler.feed_line(line)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"{self._label} sent an unexpected stream chunk ({type(exc).__name__}: {exc})",
                retryable=False,
            ) from None
        except ProviderError as exc:
            # An error event inside the stream: its text came from the server, so redact it.
            raise ProviderError(f"{self._label} {self._redact(str(exc))}", retryable=exc.retryable) from None

    def _status_error(self, reply: httpx.Response) -> ProviderError:
        return self._http_error(reply, error_detail(reply, _error_message))

    def _parse(self, reply: httpx.Response) -> LlmResponse:
        return self._parse_body(reply, parse_completion, "choices[0].message")


def build_payload(request: LlmRequest, *, stream: bool = False, stream_usage: bool = True) -> dict[str, Any]:
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
        # Only OpenAI's own endpoints (no router prefix in the name) need the newer field name.
        uses_completion_tokens = "/" not in request.model and _COMPLETION_TOKENS_MODEL.match(
            _bare_model_name(request.model)
        )
        payload["max_completion_tokens" if uses_completion_tokens else "max_tokens"] = request.max_tokens
    effort = reasoning_effort(request)
    if effort is not None:
        payload["reasoning_effort"] = effort
    if request.output_schema is not None:
        # "strict" is left out, which OpenAI defines as false: strict mode rejects ordinary
        # schemas (optional properties, open objects), and the engine validates the answer.
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": request.output_schema},
        }
    if stream:
        payload["stream"] = True
        if stream_usage:
            payload["stream_options"] = {"include_usage": True}
    return payload


def reasoning_effort(request: LlmRequest) -> str | None:
    """``reasoning_effort`` for this request, or None to leave the field out.

    An explicit ``options["reasoningEffort"]`` always wins (for reasoning models the name
    heuristic below does not recognise, e.g. an Azure deployment called ``prod-reasoner``).
    Otherwise a thinking budget maps to an effort level, but only for OpenAI reasoning models:
    other models reject the field.
    """
    explicit = request.options.get("reasoningEffort")
    if isinstance(explicit, str) and explicit:
        return explicit
    budget = request.thinking_budget_tokens
    if budget is None or not is_reasoning_model(request.model):
        return None
    return effort_for_budget(budget)


def effort_for_budget(budget_tokens: int) -> str:
    """Map a thinking token budget onto OpenAI's three effort levels."""
    if budget_tokens < 2048:
        return "low"
    if budget_tokens < 8192:
        return "medium"
    return "high"


def is_reasoning_model(model: str) -> bool:
    """Whether ``model`` names an OpenAI reasoning model (o-series, gpt-5, gpt-oss)."""
    return _REASONING_MODEL.match(_bare_model_name(model)) is not None


def _bare_model_name(model: str) -> str:
    return model.rsplit("/", 1)[-1].strip().lower()


def _to_openai_message(message: ChatMessage) -> dict[str, Any]:
    if message["role"] == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": message["content"]}
        calls = message.get("tool_calls") or []
        # OpenAI rejects an empty tool_calls array, so only send it when there are calls.
        if calls:
            out["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": arguments_text(call["arguments"])},
                }
                for call in calls
            ]
        return out
    if message["role"] == "tool":
        return {
            "role": "tool",
            "tool_call_id": message["tool_call_id"],
            "content": message["content"] or "",
        }
    if message.get("media"):
        return {"role": "user", "content": user_content_parts(message)}
    return {"role": "user", "content": message["content"]}


def user_content_parts(message: UserMessage) -> list[dict[str, Any]]:
    """A user message with ``media`` as OpenAI content parts: the text, then each attachment."""
    parts: list[dict[str, Any]] = []
    text = message["content"]
    if text:
        parts.append({"type": "text", "text": text})
    for number, url in enumerate(message.get("media") or [], start=1):
        mime = _data_url_mime(url)
        if mime is not None and not mime.startswith("image/"):
            # Inline documents (PDFs, ...) go in a "file" part; image_url accepts images only.
            extension = mime.rsplit("/", 1)[-1] or "bin"
            parts.append(
                {"type": "file", "file": {"filename": f"attachment-{number}.{extension}", "file_data": url}}
            )
        else:
            parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def _data_url_mime(url: str) -> str | None:
    if not url.startswith("data:"):
        return None
    header = url[5:].split(",", 1)[0]
    return header.split(";", 1)[0].strip().lower() or None


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
                arguments=arguments_text(function.get("arguments", "")),
            )
        )
    return LlmResponse(
        content=content,
        tool_calls=tool_calls,
        usage=parse_usage(body.get("usage")),
        finish_reason=choice.get("finish_reason"),
        thinking=_reasoning_text(message),
    )


def parse_embeddings(body: Any) -> Embeddings:
    """The vectors of an embeddings reply, put back in input order (``index``)."""
    items = sorted(body["data"], key=lambda item: int(item["index"]))
    vectors = [[float(x) for x in item["embedding"]] for item in items]
    usage = body.get("usage") or {}
    return Embeddings(vectors=vectors, prompt_tokens=int(usage.get("prompt_tokens") or 0))


def parse_usage(usage: Any) -> LlmUsage:
    """Token counts from a ``usage`` object, including cached and reasoning token details."""
    if not isinstance(usage, dict):
        return LlmUsage()
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    # DeepSeek reports its cache hits under its own name rather than prompt_tokens_details.
    cached = prompt_details.get("cached_tokens") or usage.get("prompt_cache_hit_tokens")
    return LlmUsage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        cached_tokens=int(cached or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )


def _reasoning_text(message: dict[str, Any]) -> str | None:
    # Not part of OpenAI's own API, but DeepSeek, Groq, OpenRouter and vLLM return the model's
    # reasoning under one of these names.
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return None


@dataclass(slots=True)
class _CallSlot:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class StreamAssembler:
    """Rebuilds a complete reply from ``chat.completion.chunk`` server-sent events.

    Feed it the stream line by line; :meth:`feed_line` returns the answer text each chunk adds
    (or None). Tool-call fragments are joined by their ``index``; usage comes from the final
    chunk that ``stream_options.include_usage`` asks for.
    """

    def __init__(self) -> None:
        self.done = False
        """``data: [DONE]`` was received."""
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._calls: dict[int, _CallSlot] = {}
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] | None = None

    @property
    def complete(self) -> bool:
        """Whether the stream reached its end rather than being cut off."""
        return self.done or self._finish_reason is not None

    def feed_line(self, line: str) -> str | None:
        """Process one SSE line; raises ValueError/TypeError on a malformed chunk."""
        if not line or line.startswith(":"):
            return None  # blank separator or comment (keep-alive)
        name, _, value = line.partition(":")
        if name != "data":
            return None
        value = value[1:] if value.startswith(" ") else value
        if value.strip() == "[DONE]":
            self.done = True
            return None
        return self.feed(json.loads(value))

    def feed(self, chunk: Any) -> str | None:
        """Process one decoded chunk; returns the answer text it adds, if any."""
        if not isinstance(chunk, dict):
            raise TypeError("stream chunk is not a JSON object")
        if chunk.get("error") is not None:
            raise _stream_error(chunk["error"])
        usage = chunk.get("usage") or (chunk.get("x_groq") or {}).get("usage")
        if isinstance(usage, dict):
            self._usage = usage
        pieces: list[str] = []
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue  # only one choice is ever requested
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if isinstance(content, str) and content:
                self._text.append(content)
                pieces.append(content)
            reasoning = _reasoning_text(delta)
            if reasoning:
                self._thinking.append(reasoning)
            for call in delta.get("tool_calls") or []:
                self._feed_call(call)
            if choice.get("finish_reason"):
                self._finish_reason = str(choice["finish_reason"])
        return "".join(pieces) or None

    def _feed_call(self, call: dict[str, Any]) -> None:
        index = call.get("index")
        call_id = call.get("id")
        if not isinstance(index, int):
            # Servers that omit the index send each call whole; a new id means a new call.
            known = [i for i, slot in self._calls.items() if call_id and slot.id == call_id]
            index = known[0] if known else len(self._calls)
        slot = self._calls.setdefault(index, _CallSlot())
        if call_id and not slot.id:
            slot.id = str(call_id)
        function = call.get("function") or {}
        if function.get("name"):
            slot.name += str(function["name"])
        if function.get("arguments"):
            slot.arguments.append(arguments_text(function["arguments"]))

    def response(self) -> LlmResponse:
        """The assembled reply."""
        calls = [
            LlmToolCall(id=slot.id or f"call_{index + 1}", name=slot.name, arguments="".join(slot.arguments))
            for index, slot in sorted(self._calls.items())
        ]
        return LlmResponse(
            content="".join(self._text) if self._text else None,
            tool_calls=calls,
            usage=parse_usage(self._usage),
            finish_reason=self._finish_reason,
            thinking="".join(self._thinking) or None,
        )


def _stream_error(error: Any) -> ProviderError:
    # Errors can arrive mid-stream (OpenRouter, vLLM); rate limits and server faults are worth a retry.
    if isinstance(error, dict):
        message = str(error.get("message") or error)
        code = error.get("code")
    else:
        message, code = str(error), None
    retryable = (isinstance(code, int) and (code == 429 or code >= 500)) or code in (
        "rate_limit_exceeded",
        "server_error",
    )
    return ProviderError(f"stream error: {one_line(message)}", retryable=bool(retryable))


def _error_message(body: dict[str, Any]) -> str | None:
    # OpenAI's ``{"error": {"message": ...}}``, or the shapes compatible servers use instead.
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return one_line(error["message"])
    if isinstance(error, str):
        return one_line(error)
    for key in ("message", "detail"):
        if isinstance(body.get(key), str):
            return one_line(body[key])
    return None


def _join_url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path
