"""A fake OpenAI Chat Completions server for tests.

It is a real HTTP server (stdlib ``ThreadingHTTPServer``, see :mod:`fakes._http`) on ``127.0.0.1``
and a free port, running in a background thread, so sync tests, async tests and other processes (a
server or worker started by an e2e test) can all reach it through :attr:`FakeOpenAI.base_url`::

    with FakeOpenAI() as fake:
        fake.script(FakeOpenAI.tool_calls([("get_weather", {"city": "NYC"})]), FakeOpenAI.text("Sunny"))
        ...  # point the code under test at fake.base_url
        assert fake.request_count == 2

Scripted replies are served in order; once they run out, the ``default`` callable decides, or
the reply is the text ``"fake final answer"``. Every reply reports
``prompt_tokens=10, completion_tokens=5`` (plus cached/reasoning token details when scripted).

Requests with ``"stream": true`` are answered the way OpenAI streams: ``chat.completion.chunk``
server-sent events (text split at word boundaries, tool-call arguments in fragments), a usage
chunk when ``stream_options.include_usage`` is set, then ``data: [DONE]``. Besides
``/v1/chat/completions`` the Azure shape ``/openai/deployments/{name}/chat/completions`` is
served too (point Azure code at :attr:`FakeOpenAI.endpoint`); :attr:`FakeOpenAI.request_paths`
records each request's path and query.

The media APIs are served as OpenAI does, outside the chat script: ``POST
/v1/images/generations`` answers ``{"created", "data": [{"b64_json", "revised_prompt"}]}``
with ``n`` small PNG images (:func:`fake_png`), and ``POST /v1/audio/speech`` answers the
audio bytes (:func:`fake_speech`) with the format's content type. They are recorded in
:attr:`FakeOpenAI.media_requests`; :meth:`FakeOpenAI.fail_media` makes the next ones fail.
``POST /v1/embeddings`` (and Azure's ``/openai/deployments/{name}/embeddings``) answers with
deterministic vectors (:meth:`FakeOpenAI.vector`: hashed word buckets, so texts sharing
words point the same way; :attr:`FakeOpenAI.synonyms` maps a word to another before
hashing, so a test can show a match no shared word explains). Embedding requests never
take scripted chat replies; they are recorded in :attr:`FakeOpenAI.embedding_requests`, and
:attr:`FakeOpenAI.embedding_delay` holds each answer back that many seconds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import threading
import zlib
from collections import deque
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from fakes._http import (
    COMPLETION_TOKENS,
    DEFAULT_ANSWER,
    ECHO,
    PROMPT_TOKENS,
    DefaultReply,
    FakeReply,
    FakeServer,
    HttpReply,
    Route,
    with_headers,
)

__all__ = [
    "ARGUMENT_FRAGMENT",
    "COMPLETION_TOKENS",
    "DEFAULT_ANSWER",
    "ECHO",
    "PROMPT_TOKENS",
    "DefaultReply",
    "FakeOpenAI",
    "FakeReply",
]

EMBEDDING_DIMENSIONS = 32
"""Length of the fake's vectors when the request names no ``dimensions``."""

ARGUMENT_FRAGMENT = 8
"""Streamed tool-call arguments arrive in fragments of this many characters."""

_MEDIA_ROUTES = ("/v1/images/generations", "/v1/audio/speech")
_SPEECH_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
}


def fake_png(seed: int) -> bytes:
    """A valid 1x1 PNG whose one pixel depends on ``seed`` (so images differ)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixel = bytes([0, seed % 256, (seed * 7) % 256, (seed * 13) % 256])
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixel))
        + chunk(b"IEND", b"")
    )


def fake_speech(text: str, voice: str) -> bytes:
    """What the fake says for ``text``: an ID3-tagged stand-in, readable back in tests."""
    return b"ID3" + f"voice={voice};text={text}".encode()


_ROUTES = (
    re.compile(r"^/v1/chat/completions$"),
    re.compile(r"^/openai/deployments/[^/]+/chat/completions$"),
)


_EMBEDDING_ROUTES = (
    re.compile(r"^/v1/embeddings$"),
    re.compile(r"^/openai/deployments/[^/]+/embeddings$"),
)


class FakeOpenAI(FakeServer):
    """Serves ``POST /v1/chat/completions`` from a queue of scripted replies.

    Of the :class:`~fakes._http.FakeReply` fields it renders the content, tool calls, cached and
    reasoning tokens, errors (``retry_after`` as a ``Retry-After`` header), raw bodies, extra
    headers, delays and ``cut_stream``; ``thinking``, ``finish_reason``, ``stream_error`` and
    ``cache_write_tokens`` are ignored.
    """

    thread_name = "fake-openai"

    def __init__(self, *, default: DefaultReply | None = None, echo_header: str | None = None) -> None:
        super().__init__(default=default, echo_header=echo_header)
        self._media: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self._media_failures: deque[tuple[int, str]] = deque()
        self.synonyms: dict[str, str] = {}
        self.embedding_delay = 0.0
        self._embedding_requests: list[dict[str, Any]] = []
        self._embedding_lock = threading.Lock()

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._media.clear()
            self._media_failures.clear()
        with self._embedding_lock:
            self._embedding_requests.clear()

    @property
    def media_requests(self) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
        """Each media request as ``(path, body, lower-cased headers)``, oldest first."""
        with self._lock:
            return list(self._media)

    def fail_media(self, status: int, message: str, times: int = 1) -> None:
        """Answer the next ``times`` media requests with this error (OpenAI's shape)."""
        with self._lock:
            self._media_failures.extend([(status, message)] * times)

    def _handle(self, path: str, raw: bytes, headers: dict[str, str]) -> tuple[HttpReply, float]:
        route = urlsplit(path).path.rstrip("/")
        if any(p.match(route) for p in _EMBEDDING_ROUTES):
            return self._embeddings(raw), self.embedding_delay
        if route not in _MEDIA_ROUTES:
            return super()._handle(path, raw, headers)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return self._error_reply(400, "request body is not JSON"), 0.0
        with self._lock:
            self._media.append((route, body, headers))
            failure = self._media_failures.popleft() if self._media_failures else None
            number = len(self._media)
        if failure is not None:
            return self._error_reply(*failure), 0.0
        if not isinstance(body, dict) or not body.get("model"):
            return self._error_reply(400, "you must provide a model parameter"), 0.0
        if route.endswith("/speech"):
            audio_format = str(body.get("response_format") or "mp3")
            if audio_format not in _SPEECH_TYPES or not body.get("input"):
                return self._error_reply(400, "invalid speech request"), 0.0
            audio = fake_speech(str(body["input"]), str(body.get("voice")))
            return HttpReply(200, audio, content_type=_SPEECH_TYPES[audio_format]), 0.0
        if not body.get("prompt"):
            return self._error_reply(400, "prompt is required"), 0.0
        images = [
            {
                "b64_json": base64.b64encode(fake_png(number * 10 + i)).decode(),
                "revised_prompt": body["prompt"],
            }
            for i in range(int(body.get("n") or 1))
        ]
        return HttpReply(200, json.dumps({"created": 1, "data": images}).encode()), 0.0

    @property
    def embedding_requests(self) -> list[dict[str, Any]]:
        with self._embedding_lock:
            return list(self._embedding_requests)

    def vector(self, text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
        """The fake's embedding of ``text``: each word (after ``synonyms``) adds 1 to a
        bucket picked by its hash; normalised to length 1 (all zeros for no words)."""
        buckets = [0.0] * dimensions
        for word in re.findall(r"\w+", text.lower()):
            word = self.synonyms.get(word, word)
            buckets[int(hashlib.sha256(word.encode()).hexdigest(), 16) % dimensions] += 1.0
        norm = math.sqrt(sum(x * x for x in buckets))
        return [x / norm for x in buckets] if norm else buckets

    def _embeddings(self, raw: bytes) -> HttpReply:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return self._error_reply(400, "request body is not JSON")
        texts = body.get("input") if isinstance(body, dict) else None
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return self._error_reply(400, "'input' must be a string or a non-empty list of strings")
        with self._embedding_lock:
            self._embedding_requests.append(body)
        dimensions = int(body.get("dimensions") or EMBEDDING_DIMENSIONS)
        data = [
            {"object": "embedding", "index": i, "embedding": self.vector(t, dimensions)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(len(t.split()) for t in texts)
        reply = {
            "object": "list",
            "data": data,
            "model": body.get("model", "fake"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return HttpReply(200, json.dumps(reply).encode())

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:PORT/v1``; pass it as the OpenAI base URL."""
        return f"{self.endpoint}/v1"

    @property
    def endpoint(self) -> str:
        """E.g. ``http://127.0.0.1:PORT``; pass it as an Azure OpenAI endpoint."""
        return super().base_url

    # -- the wire format (called on handler threads) ---------------------------------------

    def _route(self, path: str) -> Route | None:
        route = urlsplit(path).path.rstrip("/")
        return Route() if any(pattern.match(route) for pattern in _ROUTES) else None

    def _error_reply(self, status: int, message: str) -> HttpReply:
        return HttpReply(status, json.dumps({"error": {"message": message}}).encode())

    def _render(self, reply: FakeReply, body: dict[str, Any], number: int, route: Route) -> HttpReply:
        if reply.raw_body is not None:
            return self._raw_reply(reply)
        if not self._is_plain(reply):
            retry = () if reply.retry_after is None else (("Retry-After", str(reply.retry_after)),)
            return with_headers(reply.status, _error_body(reply), retry + reply.headers)
        if body.get("stream") is True:
            return HttpReply(
                200,
                chunks=tuple(self._render_stream(reply, body, number)),
                content_type="text/event-stream; charset=utf-8",
                headers=reply.headers,
            )
        return with_headers(reply.status, self._completion(reply, body, number), reply.headers)

    @staticmethod
    def _is_plain(reply: FakeReply) -> bool:
        """Whether the reply is a normal completion (not an error or a raw body)."""
        return reply.raw_body is None and reply.error_message is None and reply.status < 400

    def _next_call_ids(self, count: int) -> list[str]:
        with self._lock:
            first = self._call_counter + 1
            self._call_counter += count
        return [f"call_{first + i}" for i in range(count)]

    def _completion(self, reply: FakeReply, request: dict[str, Any], number: int) -> bytes:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish_reason = "stop"
        calls = self._assign_ids(reply)
        if calls:
            message["tool_calls"] = [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
                for call_id, name, arguments in calls
            ]
            finish_reason = "tool_calls"
        completion = {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
            "usage": _usage(reply),
        }
        return json.dumps(completion).encode()

    def _assign_ids(self, reply: FakeReply) -> list[tuple[str, str, str]]:
        if not reply.tool_calls:
            return []
        ids = self._next_call_ids(len(reply.tool_calls))
        return [(call_id, name, args) for call_id, (name, args) in zip(ids, reply.tool_calls, strict=True)]

    def _render_stream(self, reply: FakeReply, request: dict[str, Any], number: int) -> list[bytes]:
        """The reply as ``chat.completion.chunk`` events, each a complete ``data:`` line pair."""
        base = {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": request.get("model", "fake"),
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return {**base, "choices": [choice]}

        calls = self._assign_ids(reply)
        # Like OpenAI: the first chunk carries the role, with "" content for text replies.
        chunks = [chunk({"role": "assistant", "content": None if calls and not reply.content else ""})]
        chunks += [chunk({"content": piece}) for piece in re.findall(r"\s*\S+|\s+", reply.content or "")]
        for index, (call_id, name, arguments) in enumerate(calls):
            head = {"index": index, "id": call_id, "type": "function"}
            chunks.append(chunk({"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]}))
            for start in range(0, len(arguments), ARGUMENT_FRAGMENT):
                fragment = arguments[start : start + ARGUMENT_FRAGMENT]
                chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
        events = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks]
        if reply.cut_stream:
            return events
        events.append(f"data: {json.dumps(chunk({}, 'tool_calls' if calls else 'stop'))}\n\n".encode())
        if (request.get("stream_options") or {}).get("include_usage"):
            usage_chunk = {**base, "choices": [], "usage": _usage(reply)}
            events.append(f"data: {json.dumps(usage_chunk)}\n\n".encode())
        events.append(b"data: [DONE]\n\n")
        return events


def _usage(reply: FakeReply) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }
    if reply.cached_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cached_tokens, "audio_tokens": 0}
    if reply.reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": reply.reasoning_tokens, "audio_tokens": 0}
    return usage


def _error_body(reply: FakeReply) -> bytes:
    error = {
        "message": reply.error_message or HTTPStatus(reply.status).phrase,
        "type": "rate_limit_error" if reply.status == 429 else "invalid_request_error",
        "param": None,
        "code": None,
    }
    return json.dumps({"error": error}).encode()
