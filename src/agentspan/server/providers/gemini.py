"""Adapter for the Gemini API (``POST {base_url}/v1beta/models/{model}:generateContent``).

Errors are normalised to :class:`ProviderError` with the same rules as the OpenAI adapter: 429
(``RESOURCE_EXHAUSTED``), 5xx, timeouts and connection failures are retryable and honour
``Retry-After`` (or Google's ``RetryInfo`` error detail); every other failure is not. The API key
travels in a header, never in the URL, and never appears in an error message.

Gemini accepts only an OpenAPI subset of JSON schema for tool parameters and response schemas;
:func:`clean_schema` converts one. Gemini usually omits function-call ids, so calls get ids
``call_<n>`` numbered over the whole conversation (deterministic for a given request).
"""

from __future__ import annotations

import json
import mimetypes
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import httpx

from agentspan.protocol.messages import ChatMessage
from agentspan.server.providers._common import (
    HTTP_FAILURES,
    SHAPE_ERRORS,
    HttpAdapter,
    append_turn,
    arguments_text,
    one_line,
    parse_arguments,
    parse_data_url,
    sse_data,
)
from agentspan.server.providers.base import (
    DeltaCallback,
    LlmRequest,
    LlmResponse,
    LlmToolCall,
    LlmToolSpec,
    LlmUsage,
    ProviderError,
)

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
API_VERSION = "v1beta"
SKIP_THOUGHT_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented placeholder for a function call whose thought signature is unknown.

Gemini 3 models reject a replayed function call without a ``thoughtSignature``; the stored
conversation does not keep the real (opaque) signatures, so the placeholder stands in for them.
"""

_RETRYABLE_STATUSES = frozenset({"RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED"})
# mimetypes depends on the platform's tables; pin the types Gemini accepts most often.
_MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".mp3": "audio/mp3",
    ".wav": "audio/wav",
    ".mp4": "video/mp4",
}
# Gemini rejects any other ``format`` (e.g. ``uri``, ``email``) outright.
_FORMATS = {
    "string": frozenset({"enum", "date-time"}),
    "integer": frozenset({"int32", "int64"}),
    "number": frozenset({"float", "double"}),
}
_COPIED_KEYWORDS = (
    "description",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minProperties",
    "maxProperties",
)


class GeminiProvider(HttpAdapter):
    """Calls the Gemini API with Google AI Studio keys (``client``: see :class:`~._common.HttpAdapter`)."""

    _label = "Gemini"

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
        """Send one generateContent request (streamed when ``on_delta`` is given)."""
        url = model_url(self._base_url, request.model, stream=on_delta is not None)
        payload = build_payload(request)
        first_call = count_tool_calls(request.messages) + 1
        try:
            if on_delta is None:
                return self._parse(await self._post(url, payload), first_call)
            return await self._stream(url, payload, first_call, on_delta)
        except HTTP_FAILURES as exc:
            raise self._transport_error(url, exc) from None

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self._api_key is not None:
            headers["x-goog-api-key"] = self._api_key
        return headers

    async def _stream(
        self, url: str, payload: dict[str, Any], first_call: int, on_delta: DeltaCallback
    ) -> LlmResponse:
        headers = {**self._headers(), "accept": "text/event-stream"}
        async with self._open_stream(url, payload, headers) as reply:
            assembler = ResponseAssembler(first_call_number=first_call)
            async for data in sse_data(reply.aiter_lines()):
                for piece in self._feed(assembler, data):
                    on_delta(piece)
            return assembler.result(streamed=True)

    def _feed(self, assembler: ResponseAssembler, data: str) -> list[str]:
        try:
            return self._feed_body(assembler, json.loads(data))
        except SHAPE_ERRORS as exc:
            raise ProviderError(
                f"Gemini streamed an unexpected chunk ({type(exc).__name__}: "
                f"{self._redact(one_line(str(exc)))})",
                retryable=False,
            ) from None

    def _feed_body(self, assembler: ResponseAssembler, body: Any) -> list[str]:
        try:
            return assembler.feed(body)
        except ProviderError as exc:
            raise self._redacted(exc) from None

    def _parse(self, reply: httpx.Response, first_call: int) -> LlmResponse:
        assembler = ResponseAssembler(first_call_number=first_call)
        self._parse_body(reply, lambda body: self._feed_body(assembler, body), "candidates[0].content.parts")
        return assembler.result(streamed=False)

    def _status_error(self, reply: httpx.Response) -> ProviderError:
        error = _error_object(reply)
        if error is None:
            return self._http_error(reply, one_line(reply.text) or reply.reason_phrase)
        code = str(error.get("status") or "")
        return self._http_error(
            reply,
            describe_error(error) or reply.reason_phrase,
            retryable=code in _RETRYABLE_STATUSES,
            retry_after=retry_delay(error),
        )


def model_url(base_url: str, model: str, *, stream: bool) -> str:
    """The generate (or stream) URL; ``model`` may be a bare name or a ``models/...`` resource."""
    base = base_url.rstrip("/")
    if base.endswith("/" + API_VERSION):
        base = base[: -len(API_VERSION) - 1]
    resource = model if "/" in model else f"models/{model}"
    if stream:
        return f"{base}/{API_VERSION}/{resource}:streamGenerateContent?alt=sse"
    return f"{base}/{API_VERSION}/{resource}:generateContent"


def count_tool_calls(messages: list[ChatMessage]) -> int:
    """Tool calls made so far in the conversation (new call ids continue from here)."""
    return sum(len(m.get("tool_calls") or []) for m in messages if m["role"] == "assistant")


# -- request mapping ----------------------------------------------------------------------------


def build_payload(request: LlmRequest) -> dict[str, Any]:
    """The JSON body for ``generateContent`` / ``streamGenerateContent``."""
    payload: dict[str, Any] = {"contents": to_gemini_contents(request.messages)}
    if request.instructions:
        payload["systemInstruction"] = {"parts": [{"text": request.instructions}]}
    if request.tools:
        payload["tools"] = [{"functionDeclarations": [function_declaration(t) for t in request.tools]}]
    config = generation_config(request)
    if config:
        payload["generationConfig"] = config
    return payload


def function_declaration(tool: LlmToolSpec) -> dict[str, Any]:
    """One ``functionDeclarations`` entry with a Gemini-compatible parameter schema."""
    declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
    parameters = clean_schema(tool.parameters)
    # Gemini rejects an OBJECT schema without properties; a tool with no parameters omits them.
    if parameters.get("properties") or parameters.get("type", "object") != "object":
        declaration["parameters"] = parameters
    return declaration


def generation_config(request: LlmRequest) -> dict[str, Any]:
    """``generationConfig``: sampling, output limit, thinking and structured output."""
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    budget = request.thinking_budget_tokens
    if budget is not None:
        thinking: dict[str, Any] = {"thinkingBudget": budget}
        if budget != 0:
            # Without it the reply carries no thought summaries to report as ``thinking``.
            thinking["includeThoughts"] = True
        config["thinkingConfig"] = thinking
    if request.output_schema is not None:
        config["responseMimeType"] = "application/json"
        config["responseSchema"] = clean_schema(request.output_schema)
    return config


def to_gemini_contents(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Internal messages to ``contents`` with roles ``user``/``model``.

    Consecutive messages with the same role are merged, so a run of tool results becomes one
    ``user`` turn of ``functionResponse`` parts answering the preceding ``model`` turn.
    """
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in messages:
        role, parts = _to_parts(message, names)
        append_turn(out, role, parts, "parts")
    return out


def _to_parts(message: ChatMessage, names: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    if message["role"] == "assistant":
        content = message["content"]
        parts: list[dict[str, Any]] = [{"text": content}] if content else []
        for index, call in enumerate(message.get("tool_calls") or []):
            names[str(call["id"])] = call["name"]
            part: dict[str, Any] = {
                "functionCall": {"name": call["name"], "args": parse_arguments(call.get("arguments"))}
            }
            if index == 0:
                # Only the first call of a step carries a signature (parallel calls share it).
                part["thoughtSignature"] = SKIP_THOUGHT_SIGNATURE
            parts.append(part)
        return "model", parts
    if message["role"] == "tool":
        name = message.get("name") or names.get(str(message.get("tool_call_id")), "tool")
        return "user", [{"functionResponse": {"name": name, "response": tool_response(message["content"])}}]
    parts = [media_part(url) for url in message.get("media") or []]
    if message["content"]:
        parts.append({"text": message["content"]})
    return "user", parts


def tool_response(content: Any) -> dict[str, Any]:
    """A ``functionResponse.response`` object: a JSON object result as is, else ``{"result": ...}``."""
    text = "" if content is None else content if isinstance(content, str) else json.dumps(content)
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"result": text}
    return parsed if isinstance(parsed, dict) else {"result": parsed}


def media_part(url: str) -> dict[str, Any]:
    """``inlineData`` for a ``data:`` URL, else ``fileData`` with a MIME type guessed from the path."""
    if url.startswith("data:"):
        mime, data = parse_data_url(url)
        return {"inlineData": {"mimeType": mime, "data": data}}
    path = urllib.parse.urlsplit(url).path
    guessed = _MEDIA_TYPES.get(PurePosixPath(path).suffix.lower()) or mimetypes.guess_type(path)[0]
    file_data = {"fileUri": url}
    if guessed:
        file_data["mimeType"] = guessed
    return {"fileData": file_data}


# -- schema cleaning ----------------------------------------------------------------------------


def clean_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a JSON schema to the OpenAPI subset Gemini accepts (a new dict; input untouched).

    ``$ref`` is inlined from ``$defs``/``definitions`` (recursive references become an
    unconstrained object: Gemini schemas cannot recurse), ``allOf`` is merged, ``anyOf``/``oneOf``
    and type lists with ``null`` become ``nullable``, non-string enums move into the description,
    and keywords Gemini rejects (``additionalProperties``, ``$schema``, ``default``, ``title``,
    unsupported ``format`` values, ...) are dropped.
    """
    defs: dict[str, Any] = {}
    for key in ("definitions", "$defs"):
        if isinstance(schema.get(key), Mapping):
            defs.update(schema[key])
    return _clean(schema, defs, frozenset())


def _clean(node: Any, defs: Mapping[str, Any], seen: frozenset[str]) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        # ``true`` (anything goes) has no Gemini spelling; no constraint is the closest.
        return {}
    if isinstance(node.get("$ref"), str):
        return _clean_ref(node, defs, seen)
    if isinstance(node.get("allOf"), list):
        node = _merge_all_of(node, defs, seen)
    variants = node.get("anyOf", node.get("oneOf"))
    if isinstance(variants, list):
        base = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
        return _clean_union(base, [v for v in variants if isinstance(v, Mapping)], defs, seen)
    if isinstance(node.get("type"), list):
        base = {k: v for k, v in node.items() if k != "type"}
        return _clean_union(base, [{"type": t} for t in node["type"]], defs, seen)
    return _clean_plain(node, defs, seen)


def _clean_ref(node: Mapping[str, Any], defs: Mapping[str, Any], seen: frozenset[str]) -> dict[str, Any]:
    name = str(node["$ref"]).rsplit("/", 1)[-1]
    siblings = {k: v for k, v in node.items() if k != "$ref"}
    target = defs.get(name)
    if name in seen or not isinstance(target, Mapping):
        # A cycle (or a target we cannot find) cannot be inlined; accept any object rather than
        # fail the whole call.
        return _clean({"type": "object", **siblings}, defs, seen)
    return _clean({**target, **siblings}, defs, seen | {name})


def _merge_all_of(node: Mapping[str, Any], defs: Mapping[str, Any], seen: frozenset[str]) -> dict[str, Any]:
    merged = {k: v for k, v in node.items() if k != "allOf"}
    properties: dict[str, Any] = dict(merged.get("properties") or {})
    required: list[Any] = list(merged.get("required") or [])
    for part in node["allOf"]:
        if isinstance(part, Mapping) and isinstance(part.get("$ref"), str):
            name = str(part["$ref"]).rsplit("/", 1)[-1]
            part = defs.get(name) if name not in seen else None
        if not isinstance(part, Mapping):
            continue
        properties.update(part.get("properties") or {})
        required.extend(r for r in part.get("required") or [] if r not in required)
        for key, value in part.items():
            merged.setdefault(key, value)
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def _clean_union(
    base: Mapping[str, Any], variants: list[Any], defs: Mapping[str, Any], seen: frozenset[str]
) -> dict[str, Any]:
    non_null = [v for v in variants if not _is_null(v)]
    nullable = len(non_null) < len(variants) or base.get("nullable") is True
    if len(non_null) == 1:
        out = _clean({**base, **non_null[0]}, defs, seen)
    elif non_null:
        # Sibling keywords (e.g. ``properties`` next to a type list) constrain every variant.
        shared = {k: v for k, v in base.items() if k != "description"}
        out = {"anyOf": [_clean({**shared, **v}, defs, seen) for v in non_null]}
        if isinstance(base.get("description"), str):
            out["description"] = base["description"]
    else:
        out = _clean(base, defs, seen)
    if nullable:
        out["nullable"] = True
    return out


def _is_null(variant: Any) -> bool:
    return isinstance(variant, Mapping) and variant.get("type") == "null"


def _clean_plain(node: Mapping[str, Any], defs: Mapping[str, Any], seen: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kind = node.get("type")
    if isinstance(kind, str):
        out["type"] = kind
    elif isinstance(node.get("properties"), Mapping):
        out["type"] = "object"
    elif "items" in node:
        out["type"] = "array"
    for key in _COPIED_KEYWORDS:
        value = node.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            out[key] = value
    if node.get("nullable") is True:
        out["nullable"] = True
    _copy_enum(node, out)
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS.get(str(out.get("type")), frozenset()):
        out["format"] = fmt
    _copy_structure(node, out, defs, seen)
    return out


def _copy_enum(node: Mapping[str, Any], out: dict[str, Any]) -> None:
    if isinstance(node.get("enum"), list):
        values = list(node["enum"])
    elif "const" in node:
        values = [node["const"]]
    else:
        return
    if None in values:
        out["nullable"] = True
        values = [v for v in values if v is not None]
    if values and all(isinstance(v, str) for v in values):
        out["enum"] = values
        out.setdefault("type", "string")
    elif values:
        # Gemini enums must be strings; keep the declared type and tell the model the choices.
        allowed = "Allowed values: " + ", ".join(json.dumps(v) for v in values)
        description = out.get("description")
        out["description"] = f"{description} ({allowed})" if description else allowed


def _copy_structure(
    node: Mapping[str, Any], out: dict[str, Any], defs: Mapping[str, Any], seen: frozenset[str]
) -> None:
    properties = node.get("properties")
    if isinstance(properties, Mapping) and properties:
        cleaned = {str(name): _clean(sub, defs, seen) for name, sub in properties.items()}
        out["properties"] = cleaned
        required = [r for r in node.get("required") or [] if r in cleaned]
        if required:
            out["required"] = required
    items = node.get("items")
    if isinstance(items, list):
        # Tuple validation has no Gemini form; the first position's schema is the best guess.
        items = items[0] if items else None
    if isinstance(items, Mapping):
        out["items"] = _clean(items, defs, seen)


# -- response parsing ---------------------------------------------------------------------------


@dataclass(slots=True)
class ResponseAssembler:
    """Merges ``GenerateContentResponse`` bodies: one for a plain reply, many when streamed."""

    first_call_number: int = 1
    texts: list[str] = field(default_factory=list)
    thoughts: list[str] = field(default_factory=list)
    calls: list[LlmToolCall] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None
    block_reason: str | None = None
    saw_candidate: bool = False

    def feed(self, body: Any) -> list[str]:
        """Apply one response body; returns the answer text pieces it added, in order."""
        if not isinstance(body, dict):
            raise TypeError("response is not a JSON object")
        if isinstance(body.get("error"), dict):
            raise _body_error(body["error"])
        if isinstance(body.get("usageMetadata"), dict):
            # Each streamed chunk repeats the running totals, so the latest one wins.
            self.usage = body["usageMetadata"]
        feedback = body.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            self.block_reason = str(feedback["blockReason"])
        candidates = body.get("candidates") or []
        if not candidates:
            return []
        candidate = candidates[0]
        self.saw_candidate = True
        if candidate.get("finishReason"):
            self.finish_reason = str(candidate["finishReason"])
        pieces: list[str] = []
        for part in (candidate.get("content") or {}).get("parts") or []:
            piece = self._part(part)
            if piece:
                pieces.append(piece)
        return pieces

    def result(self, *, streamed: bool) -> LlmResponse:
        """The complete reply; raises for a blocked prompt or a stream cut before it finished."""
        if not self.saw_candidate:
            reason = f"prompt blocked: {self.block_reason}" if self.block_reason else "no candidates"
            raise ProviderError(f"Gemini returned no answer ({reason})", retryable=False)
        if streamed and self.finish_reason is None:
            raise ProviderError("Gemini stream ended before a finishReason", retryable=True)
        return LlmResponse(
            content="".join(self.texts) if self.texts else None,
            tool_calls=list(self.calls),
            usage=parse_usage(self.usage),
            finish_reason=self.finish_reason,
            thinking="".join(self.thoughts) if self.thoughts else None,
        )

    def _part(self, part: dict[str, Any]) -> str | None:
        call = part.get("functionCall")
        if isinstance(call, dict):
            name = call["name"]
            if not isinstance(name, str):
                raise TypeError("functionCall name is not a string")
            call_id = call.get("id") or f"call_{self.first_call_number + len(self.calls)}"
            # The API sends parsed objects; anything else (a string from a proxy) is passed through
            # raw so the engine can report it back to the model.
            args = call.get("args")
            arguments = arguments_text({} if args is None else args)
            self.calls.append(LlmToolCall(id=str(call_id), name=name, arguments=arguments))
            return None
        text = part.get("text")
        if not isinstance(text, str) or not text:
            return None
        if part.get("thought") is True:
            self.thoughts.append(text)
            return None
        self.texts.append(text)
        return text


def parse_usage(meta: Mapping[str, Any]) -> LlmUsage:
    """``usageMetadata`` to :class:`LlmUsage`; Gemini counts thoughts apart from the candidates."""
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    return LlmUsage(
        prompt_tokens=int(meta.get("promptTokenCount") or 0),
        completion_tokens=int(meta.get("candidatesTokenCount") or 0) + thoughts,
        cached_tokens=int(meta.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


# -- errors -------------------------------------------------------------------------------------


def describe_error(error: Mapping[str, Any]) -> str:
    """``STATUS: message`` from a Google error object."""
    message = one_line(str(error.get("message") or "no error message"))
    status = error.get("status")
    return f"{status}: {message}" if isinstance(status, str) and status else message


def retry_delay(error: Mapping[str, Any]) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "37s"``), if any."""
    for detail in error.get("details") or []:
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith("RetryInfo"):
            continue
        raw = str(detail.get("retryDelay") or "")
        try:
            seconds = float(raw.removesuffix("s"))
        except ValueError:
            return None
        return seconds if seconds >= 0 else None
    return None


def _error_object(reply: httpx.Response) -> dict[str, Any] | None:
    try:
        body = reply.json()
    except ValueError:
        return None
    # Some front ends wrap the error in a one-element array.
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return dict(body["error"])
    return None


def _body_error(error: Mapping[str, Any]) -> ProviderError:
    # An error inside a 200 body (usually mid-stream): only its code and status say whether a
    # retry can help.
    code = error.get("code")
    status = str(error.get("status") or "")
    retryable = code == 429 or (isinstance(code, int) and code >= 500) or status in _RETRYABLE_STATUSES
    return ProviderError(
        f"Gemini returned an error: {describe_error(error)}",
        retryable=retryable,
        retry_after=retry_delay(error),
    )
