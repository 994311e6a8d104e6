"""Executors of ``image_tool`` and ``audio_tool`` calls (tool types ``generate_image``,
``generate_audio``): the server asks the tool's provider to make the media.

Providers: ``openai`` only (``POST {base}/images/generations``, ``POST {base}/audio/speech``),
with the server's OpenAI settings (``OPENAI_API_KEY``, or the credential store's, and
``OPENAI_BASE_URL``). Other providers, and every ``video_tool``, are refused when the
agent starts (``check_media_tools``), not at the first call.

Where the bytes go: a generated file is too large for an event or the conversation, so it
is stored as a blob (``store/media.py``, at most ``AGENTSPAN_MEDIA_MAX_BYTES``, 16 MiB by
default) under an id derived from the call's idempotency key, and the model gets a
reference: ``{"url": "/api/agent/<executionId>/media/<id>", "contentType", "sizeBytes"}``
(one per image in ``media`` when ``n`` > 1). The URL is served with the same key scope
as the execution's other routes. Each request carries the call's ``Idempotency-Key``; a call
run again after a crash writes the same blob ids, so nothing is stored twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from typing import Any

import httpx

from agentspan.protocol.spec import AgentConfig, AudioTool, ImageTool, MediaTool, VideoTool
from agentspan.server.errors import InvalidAgent
from agentspan.server.executors.base import ExecutorContext
from agentspan.server.executors.tools import ToolCall, ToolCallError, ToolExecutor
from agentspan.server.outbound import Masker, read_capped
from agentspan.server.providers.base import ProviderError
from agentspan.server.store.media import MediaRow

MEDIA_PROVIDERS: dict[str, tuple[str, ...]] = {
    "generate_image": ("openai",),
    "generate_audio": ("openai",),
    "generate_video": (),
}
"""Which providers this server calls for each media tool type."""

VIDEO_REFUSED = (
    "video generation is not supported by this server: OpenAI's Videos API (Sora) was removed from its API "
    "on 24 September 2026, and Google's Veo (Gemini API, Vertex AI), which has one, is not wired in yet"
)
MAX_PROMPT_CHARS = 32_000
MAX_SPEECH_CHARS = 4096
"""OpenAI's limit on the text of one speech request."""
MAX_IMAGES = 4
SPEECH_FORMATS = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
IMAGE_FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}
_RETRIED = frozenset({408, 409, 429})
_IMAGE_DEFAULTS: dict[str, Any] = {"width": 1024, "height": 1024, "n": 1, "outputFormat": "png"}
_AUDIO_DEFAULTS: dict[str, Any] = {"voice": "alloy", "speed": 1.0, "responseFormat": "mp3", "n": 1}
_SETTINGS_KEYS = frozenset({"taskType", "llmProvider", "model"})


def check_media_tools(spec: AgentConfig, path: str = "") -> None:
    """Refuse at start a media tool whose provider this server cannot call for it."""
    where = f"{path}{spec.name}"
    for tool in spec.tools:
        if isinstance(tool, VideoTool):
            raise InvalidAgent(f"agent '{where}': tool '{tool.name}': {VIDEO_REFUSED}")
        if isinstance(tool, ImageTool | AudioTool):
            supported = MEDIA_PROVIDERS[tool.tool_type]
            provider = tool.config.llm_provider
            if provider not in supported:
                raise InvalidAgent(
                    f"agent '{where}': tool '{tool.name}': {tool.tool_type} with provider {provider!r} is not "
                    f"supported by this server (providers with that API here: {', '.join(supported)})"
                )
            if not tool.config.model:
                raise InvalidAgent(f"agent '{where}': tool '{tool.name}': name the model (model=...)")
    for nested in spec.nested_agents():
        check_media_tools(nested, f"{where}/")


def media_id(idempotency_key: str, index: int) -> str:
    """The blob id of one file of one call: the same on every attempt of the call."""
    return hashlib.sha256(f"{idempotency_key}#{index}".encode()).hexdigest()[:32]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() else default


class MediaToolExecutor(ToolExecutor):
    """What image and speech calls share: the tool's settings, the provider's endpoint and
    key, the request, the blob and the reference."""

    lease_seconds = 120.0
    concurrency = 4
    defaults: dict[str, Any] = {}

    def __init__(self, max_bytes: int | None = None, timeout_seconds: float = 110.0) -> None:
        self.max_bytes = max_bytes or _env_int("AGENTSPAN_MEDIA_MAX_BYTES", 16 * 1024 * 1024)
        self.timeout_seconds = timeout_seconds

    async def call(self, call: ToolCall, ctx: ExecutorContext) -> Any:
        tool = await _tool_of(call, ctx, self.kind)
        config = tool.config.model_dump(by_alias=True, exclude_none=True)
        args = {**self.defaults, **{k: v for k, v in config.items() if k not in _SETTINGS_KEYS}, **call.args}
        base_url, key = await _endpoint(tool.config.llm_provider, ctx)
        masker = Masker([key] if key else [])
        files = await self.make(args, tool.config.model, base_url, key, call, masker)
        media = []
        for index, (content_type, data) in enumerate(files):
            row = MediaRow(
                media_id(call.idempotency_key, index), call.execution_id, content_type, data, time.time()
            )
            async with ctx.store.transaction() as tx:
                await tx.put_media(row)
            media.append(
                {
                    "url": f"/api/agent/{call.execution_id}/media/{row.id}",
                    "contentType": content_type,
                    "sizeBytes": len(data),
                }
            )
        return {**media[0], "count": len(media), "media": media} if len(media) > 1 else media[0]

    async def make(
        self, args: dict[str, Any], model: str, base_url: str, key: str | None, call: ToolCall, masker: Masker
    ) -> list[tuple[str, bytes]]:
        raise NotImplementedError

    async def post(
        self, url: str, body: dict[str, Any], key: str | None, call: ToolCall, masker: Masker
    ) -> tuple[str, bytes]:
        """POST ``body`` as JSON; the answer's content type and body (at most the cap
        plus the base64 overhead), or a ``ToolCallError`` the model sees (masked)."""
        headers = {"Idempotency-Key": call.idempotency_key, "Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        limit = self.max_bytes * 4 // 3 + 64 * 1024
        timeout = call.timeout_seconds or self.timeout_seconds
        try:
            async with (
                httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
                client.stream("POST", url, headers=headers, content=json.dumps(body).encode()) as response,
            ):
                raw, cut = await read_capped(response, limit)
                content_type = response.headers.get("content-type", "")
                status = response.status_code
        except httpx.HTTPError as exc:
            raise ToolCallError(masker.text(f"{url} failed: {type(exc).__name__}: {exc}")) from None
        if not 200 <= status < 300:
            raise ToolCallError(
                masker.text(f"{url} answered {status}: {_error_text(raw)}"),
                retryable=status in _RETRIED or status >= 500,
            )
        if cut:
            raise ToolCallError(
                f"the provider's answer is over this server's limit of {self.max_bytes} bytes "
                "(AGENTSPAN_MEDIA_MAX_BYTES)",
                retryable=False,
            )
        return content_type, raw

    def bounded(self, data: bytes) -> bytes:
        if len(data) > self.max_bytes:
            raise ToolCallError(
                f"the file has {len(data)} bytes, over this server's limit of {self.max_bytes} "
                "(AGENTSPAN_MEDIA_MAX_BYTES)",
                retryable=False,
            )
        return data


class ImageToolExecutor(MediaToolExecutor):
    """``POST {base}/images/generations``; the images come back as base64."""

    kind = "generate_image"
    defaults = _IMAGE_DEFAULTS

    async def make(
        self, args: dict[str, Any], model: str, base_url: str, key: str | None, call: ToolCall, masker: Masker
    ) -> list[tuple[str, bytes]]:
        prompt = _text(args, "prompt", MAX_PROMPT_CHARS)
        n = args.get("n", 1)
        if not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
            raise ToolCallError(f"n must be a whole number from 1 to {MAX_IMAGES}", retryable=False)
        image_format = str(args.get("outputFormat") or "png").lower()
        if image_format not in IMAGE_FORMATS:
            raise ToolCallError(f"outputFormat must be one of {', '.join(IMAGE_FORMATS)}", retryable=False)
        body: dict[str, Any] = {"model": model, "prompt": prompt, "n": n, "size": _size(args)}
        if model.startswith("dall-e"):
            body["response_format"] = "b64_json"  # else a short-lived URL to fetch
            if args.get("style") in ("vivid", "natural") and model.startswith("dall-e-3"):
                body["style"] = args["style"]
        else:
            body["output_format"] = "jpeg" if image_format == "jpg" else image_format
        _, raw = await self.post(f"{base_url.rstrip('/')}/images/generations", body, key, call, masker)
        try:
            items = json.loads(raw)["data"]
            encoded = [str(item["b64_json"]) for item in items]
        except (ValueError, KeyError, TypeError):
            raise ToolCallError(
                "the provider's answer has no base64 images (data[].b64_json)", retryable=False
            ) from None
        content_type = "image/png" if model.startswith("dall-e") else IMAGE_FORMATS[image_format]
        try:
            return [(content_type, self.bounded(base64.b64decode(e, validate=True))) for e in encoded]
        except binascii.Error:
            raise ToolCallError(
                "the provider's answer holds an image that is not base64", retryable=False
            ) from None


class AudioToolExecutor(MediaToolExecutor):
    """``POST {base}/audio/speech``; the answer's body is the audio file."""

    kind = "generate_audio"
    defaults = _AUDIO_DEFAULTS

    async def make(
        self, args: dict[str, Any], model: str, base_url: str, key: str | None, call: ToolCall, masker: Masker
    ) -> list[tuple[str, bytes]]:
        text = _text(args, "text", MAX_SPEECH_CHARS)
        if args.get("n", 1) != 1:
            raise ToolCallError("a speech call makes one file: n must be 1", retryable=False)
        audio_format = str(args.get("responseFormat") or "mp3").lower()
        if audio_format not in SPEECH_FORMATS:
            raise ToolCallError(f"responseFormat must be one of {', '.join(SPEECH_FORMATS)}", retryable=False)
        speed = args.get("speed", 1.0)
        if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
            raise ToolCallError("speed must be a number from 0.25 to 4", retryable=False)
        body = {
            "model": model,
            "input": text,
            "voice": str(args.get("voice") or "alloy"),
            "response_format": audio_format,
            "speed": speed,
        }
        _, raw = await self.post(f"{base_url.rstrip('/')}/audio/speech", body, key, call, masker)
        return [(SPEECH_FORMATS[audio_format], self.bounded(raw))]


def _text(args: dict[str, Any], name: str, limit: int) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ToolCallError(f"give '{name}' (a non-empty string)", retryable=False)
    if len(value) > limit:
        raise ToolCallError(f"'{name}' has {len(value)} characters; the limit is {limit}", retryable=False)
    return value


def _size(args: dict[str, Any]) -> str:
    size = args.get("size")
    if isinstance(size, str) and size:
        return size
    width, height = args.get("width", 1024), args.get("height", 1024)
    if not isinstance(width, int) or not isinstance(height, int):
        raise ToolCallError("width and height must be whole numbers of pixels", retryable=False)
    return f"{width}x{height}"


def _error_text(raw: bytes) -> str:
    try:
        message = json.loads(raw)["error"]["message"]
        return str(message)[:500]
    except (ValueError, KeyError, TypeError):
        return raw[:500].decode("utf-8", errors="replace")


async def _endpoint(provider: str, ctx: ExecutorContext) -> tuple[str, str | None]:
    missing = ctx.providers.key_names(f"{provider}/media")  # the key variables the environment lacks
    stored = await ctx.provider_keys.lookup(missing) if missing else {}
    try:
        return ctx.providers.openai_endpoint(provider, stored)
    except ProviderError as exc:
        raise ToolCallError(str(exc), retryable=exc.retryable) from None


async def _tool_of(call: ToolCall, ctx: ExecutorContext, kind: str) -> MediaTool:
    row = await ctx.store.get_execution(call.execution_id)
    if row is None:
        raise ToolCallError(f"execution {call.execution_id} is gone", retryable=False)
    spec = await ctx.spec_of(row)
    for tool in spec.tools:
        if tool.name == call.name and tool.tool_type == kind and isinstance(tool, ImageTool | AudioTool):
            return tool
    raise ToolCallError(f"agent {spec.name!r} has no {kind} tool {call.name!r}", retryable=False)
