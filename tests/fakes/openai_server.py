"""A fake OpenAI Chat Completions server for tests.

It is a real HTTP server (stdlib ``ThreadingHTTPServer``) on ``127.0.0.1`` and a free port,
running in a background thread, so sync tests, async tests and other processes (a server or
worker started by an e2e test) can all reach it through :attr:`FakeOpenAI.base_url`::

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
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

PROMPT_TOKENS = 10
COMPLETION_TOKENS = 5
DEFAULT_ANSWER = "fake final answer"
ARGUMENT_FRAGMENT = 8
"""Streamed tool-call arguments arrive in fragments of this many characters."""

_ROUTES = (
    re.compile(r"^/v1/chat/completions$"),
    re.compile(r"^/openai/deployments/[^/]+/chat/completions$"),
)


@dataclass(frozen=True, slots=True)
class FakeReply:
    """One scripted response. Build it with the ``FakeOpenAI`` helpers."""

    status: int = 200
    content: str | None = None
    tool_calls: tuple[tuple[str, str], ...] = ()
    """(name, raw arguments text) pairs; ids are assigned when the reply is served."""
    error_message: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    raw_body: str | None = None
    """Sent verbatim instead of a generated body (for malformed-response tests)."""
    delay: float = 0.0
    """Seconds to wait before answering (for timeout tests)."""
    cached_tokens: int = 0
    """Reported as ``usage.prompt_tokens_details.cached_tokens`` when non-zero."""
    reasoning_tokens: int = 0
    """Reported as ``usage.completion_tokens_details.reasoning_tokens`` when non-zero."""
    cut_stream: bool = False
    """When streamed, end the body after the content, with no finish chunk and no ``[DONE]``."""


DefaultReply = Callable[[dict[str, Any]], FakeReply]


class FakeOpenAI:
    """Serves ``POST /v1/chat/completions`` from a queue of scripted replies."""

    def __init__(self, *, default: DefaultReply | None = None) -> None:
        self._default = default
        self._lock = threading.Lock()
        self._queue: deque[FakeReply] = deque()
        self._requests: list[dict[str, Any]] = []
        self._headers: list[dict[str, str]] = []
        self._paths: list[str] = []
        self._call_counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- reply builders -------------------------------------------------------------------

    @staticmethod
    def text(
        content: str,
        *,
        delay: float = 0.0,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
        cut_stream: bool = False,
    ) -> FakeReply:
        """A plain assistant message (``finish_reason`` ``stop``)."""
        return FakeReply(
            content=content,
            delay=delay,
            cached_tokens=cached_tokens,
            reasoning_tokens=reasoning_tokens,
            cut_stream=cut_stream,
        )

    @staticmethod
    def tool_calls(
        calls: Iterable[tuple[str, dict[str, Any] | str]], *, content: str | None = None
    ) -> FakeReply:
        """Tool calls; a dict is JSON-encoded, a str is sent raw (it may be malformed JSON)."""
        encoded = tuple((name, args if isinstance(args, str) else json.dumps(args)) for name, args in calls)
        return FakeReply(content=content, tool_calls=encoded)

    @staticmethod
    def error(status: int, message: str, retry_after: float | str | None = None) -> FakeReply:
        """An OpenAI-style error body, with a ``Retry-After`` header when given."""
        headers = () if retry_after is None else (("Retry-After", str(retry_after)),)
        return FakeReply(status=status, error_message=message, headers=headers)

    @staticmethod
    def raw(status: int, body: str, content_type: str = "application/json") -> FakeReply:
        """An arbitrary body, e.g. one that is not the expected shape."""
        return FakeReply(status=status, raw_body=body, headers=(("Content-Type", content_type),))

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Bind a free port and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("FakeOpenAI is already running")
        server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and wait for in-flight requests, so no thread outlives the test."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:PORT/v1``; pass it as the OpenAI base URL."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not running; use it as a context manager")
        return f"{self.endpoint}/v1"

    @property
    def endpoint(self) -> str:
        """E.g. ``http://127.0.0.1:PORT``; pass it as an Azure OpenAI endpoint."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not running; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- scripting and inspection ---------------------------------------------------------

    def reset(self) -> None:
        """Forget queued replies and recorded requests (between tests)."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._headers.clear()
            self._paths.clear()

    def script(self, *replies: FakeReply) -> None:
        """Queue replies; each request consumes the next one."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A snapshot of every request body received, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def request_headers(self) -> list[dict[str, str]]:
        """A snapshot of each request's headers (names lower-cased), in order."""
        with self._lock:
            return [dict(h) for h in self._headers]

    @property
    def request_paths(self) -> list[str]:
        """A snapshot of each request's path including its query string, in order."""
        with self._lock:
            return list(self._paths)

    @property
    def request_count(self) -> int:
        """How many chat completion requests arrived."""
        with self._lock:
            return len(self._requests)

    @property
    def pending(self) -> int:
        """Scripted replies not yet served."""
        with self._lock:
            return len(self._queue)

    # -- serving (called on handler threads) ----------------------------------------------

    def _next_reply(
        self, body: dict[str, Any], headers: dict[str, str], path: str = ""
    ) -> tuple[FakeReply, int]:
        with self._lock:
            self._requests.append(body)
            self._headers.append(headers)
            self._paths.append(path)
            number = len(self._requests)
            reply = self._queue.popleft() if self._queue else None
        if reply is None:
            # Called outside the lock: a user callable must not be able to deadlock the server.
            reply = self._default(body) if self._default is not None else FakeOpenAI.text(DEFAULT_ANSWER)
        return reply, number

    def _next_call_ids(self, count: int) -> list[str]:
        with self._lock:
            first = self._call_counter + 1
            self._call_counter += count
        return [f"call_{first + i}" for i in range(count)]

    @staticmethod
    def _is_plain(reply: FakeReply) -> bool:
        """Whether the reply is a normal completion (not an error or a raw body)."""
        return reply.raw_body is None and reply.error_message is None and reply.status < 400

    def _render(self, reply: FakeReply, request: dict[str, Any], number: int) -> bytes:
        if reply.raw_body is not None:
            return reply.raw_body.encode()
        if not self._is_plain(reply):
            error = {
                "message": reply.error_message or HTTPStatus(reply.status).phrase,
                "type": "rate_limit_error" if reply.status == 429 else "invalid_request_error",
                "param": None,
                "code": None,
            }
            return json.dumps({"error": error}).encode()
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


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (e.g. a timeout test) closes its socket before a delayed reply;
        # that is expected, so do not print a traceback for it.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            route = urlsplit(self.path).path.rstrip("/")
            if not any(pattern.match(route) for pattern in _ROUTES):
                self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}).encode())
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                self._send(400, json.dumps({"error": {"message": "request body is not JSON"}}).encode())
                return
            if not isinstance(body, dict):
                self._send(400, json.dumps({"error": {"message": "request body is not an object"}}).encode())
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply, number = fake._next_reply(body, headers, self.path)
            if reply.delay > 0:
                time.sleep(reply.delay)
            if body.get("stream") is True and fake._is_plain(reply):
                self._send_stream(fake._render_stream(reply, body, number), reply.headers)
                return
            self._send(reply.status, fake._render(reply, body, number), reply.headers)

        def _send_stream(self, events: list[bytes], headers: Iterable[tuple[str, str]] = ()) -> None:
            # Chunked transfer encoding, one HTTP chunk per event, flushed as it goes: the client
            # sees a real incremental stream, as from api.openai.com.
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            for event in events:
                self.wfile.write(f"{len(event):X}\r\n".encode() + event + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True

        def _send(self, status: int, payload: bytes, headers: Iterable[tuple[str, str]] = ()) -> None:
            extra = dict(headers)
            self.send_response(status)
            self.send_header("Content-Type", extra.pop("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(payload)))
            # One request per connection: shutdown then never waits on an idle keep-alive socket.
            self.send_header("Connection", "close")
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    return Handler
