"""Plumbing shared by the fake provider servers (``FakeOpenAI``, ``FakeAnthropic``, ``FakeGemini``).

:class:`FakeServer` is a real HTTP server (stdlib ``ThreadingHTTPServer``) on ``127.0.0.1`` and a
free port, in a background thread, with one scripting API for every wire format: queue replies with
:meth:`FakeServer.script`, inspect :attr:`~FakeServer.requests` afterwards. A subclass supplies
one wire format by implementing the routing, validation and rendering hooks; streamed replies are
sent with chunked transfer encoding, one chunk per event, as real servers do.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

PROMPT_TOKENS = 10
"""Uncached prompt tokens every fake reply reports."""
COMPLETION_TOKENS = 5
"""Answer tokens every fake reply reports (thinking tokens are added on top)."""
DEFAULT_ANSWER = "fake final answer"
ECHO = "{echo}"
"""In a scripted reply's text, error message, tool arguments or raw body: replaced by the
value of the request header named ``FakeServer(echo_header=...)`` (a server that echoes
the credential it was sent, e.g. in an "invalid API key" error)."""


@dataclass(frozen=True, slots=True)
class FakeReply:
    """One scripted response. Build it with the ``FakeServer`` helpers."""

    status: int = 200
    content: str | None = None
    tool_calls: tuple[tuple[str, str], ...] = ()
    """(name, raw arguments text) pairs; ids are assigned when the reply is served."""
    thinking: str | None = None
    error_message: str | None = None
    retry_after: float | str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    raw_body: str | None = None
    """Sent verbatim instead of a generated body (for malformed-response tests)."""
    delay: float = 0.0
    """Seconds to wait before answering (for timeout tests)."""
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    """Prompt tokens written to the cache (Anthropic only)."""
    reasoning_tokens: int = 0
    finish_reason: str | None = None
    """Overrides the wire format's natural stop reason."""
    stream_error: str | None = None
    """When streamed: send an error event with this message after the first content event."""
    cut_stream: bool = False
    """When streamed, end the body after the content, with no finish chunk and no ``[DONE]`` (OpenAI only)."""


@dataclass(frozen=True, slots=True)
class Route:
    """What a request path asks for."""

    stream: bool = False
    model: str | None = None
    sse: bool = True
    """For streams: server-sent events (else a JSON array, Gemini's non-SSE stream form)."""


@dataclass(frozen=True, slots=True)
class HttpReply:
    """What the handler sends back."""

    status: int
    body: bytes = b""
    chunks: tuple[bytes, ...] | None = None
    """Sent with chunked transfer encoding when set (streams)."""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


DefaultReply = Callable[[dict[str, Any]], FakeReply]


def word_pieces(text: str) -> list[str]:
    """``text`` split after each word (whitespace kept), so the pieces join back to ``text``."""
    return re.findall(r"\S+\s*|\s+", text)


def fixed_pieces(text: str, size: int = 7) -> list[str]:
    """``text`` in pieces of ``size`` characters (how streamed JSON arguments arrive)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def parsed_or_raw(arguments: str) -> Any:
    """The JSON value of ``arguments``, or the text itself when it does not parse."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


class FakeServer:
    """Serves one provider's wire format from a queue of scripted replies."""

    thread_name = "fake-llm"

    def __init__(
        self,
        *,
        default: DefaultReply | None = None,
        api_key: str | None = None,
        echo_header: str | None = None,
    ) -> None:
        self._default = default
        self.api_key = api_key
        """When set, requests with another key are rejected the way the real API does."""
        self.echo_header = echo_header.lower() if echo_header else None
        """When set, :data:`ECHO` in a reply becomes this request header's value."""
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
        thinking: str | None = None,
        delay: float = 0.0,
        cached_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
        finish_reason: str | None = None,
        stream_error: str | None = None,
        cut_stream: bool = False,
    ) -> FakeReply:
        """A plain answer, optionally with thinking and cache/reasoning usage."""
        return FakeReply(
            content=content,
            thinking=thinking,
            delay=delay,
            cached_tokens=cached_tokens,
            cache_write_tokens=cache_write_tokens,
            reasoning_tokens=reasoning_tokens,
            finish_reason=finish_reason,
            stream_error=stream_error,
            cut_stream=cut_stream,
        )

    @staticmethod
    def tool_calls(
        calls: Iterable[tuple[str, dict[str, Any] | str]],
        *,
        content: str | None = None,
        thinking: str | None = None,
        reasoning_tokens: int = 0,
        finish_reason: str | None = None,
    ) -> FakeReply:
        """Tool calls; a dict is JSON-encoded, a str is sent raw (it may be malformed JSON)."""
        encoded = tuple((name, args if isinstance(args, str) else json.dumps(args)) for name, args in calls)
        return FakeReply(
            content=content,
            tool_calls=encoded,
            thinking=thinking,
            reasoning_tokens=reasoning_tokens,
            finish_reason=finish_reason,
        )

    @staticmethod
    def error(status: int, message: str, retry_after: float | str | None = None) -> FakeReply:
        """An error in the provider's format, saying when to retry the provider's way."""
        return FakeReply(status=status, error_message=message, retry_after=retry_after)

    @staticmethod
    def raw(status: int, body: str, content_type: str = "application/json") -> FakeReply:
        """An arbitrary body, e.g. one that is not the expected shape."""
        return FakeReply(status=status, raw_body=body, headers=(("Content-Type", content_type),))

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Bind a free port and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
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
        """E.g. ``http://127.0.0.1:PORT``; pass it as the provider's base URL."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running; use it as a context manager")
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
        """Queue replies; each accepted request consumes the next one."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A snapshot of every request body received, in order (rejected ones included)."""
        with self._lock:
            return list(self._requests)

    @property
    def request_headers(self) -> list[dict[str, str]]:
        """A snapshot of each request's headers (names lower-cased), in order."""
        with self._lock:
            return [dict(h) for h in self._headers]

    @property
    def request_paths(self) -> list[str]:
        """Each request's path including the query string, in order."""
        with self._lock:
            return list(self._paths)

    @property
    def request_count(self) -> int:
        """How many requests arrived on a known route."""
        with self._lock:
            return len(self._requests)

    @property
    def pending(self) -> int:
        """Scripted replies not yet served."""
        with self._lock:
            return len(self._queue)

    # -- hooks for a wire format ----------------------------------------------------------

    def _route(self, path: str) -> Route | None:
        """The route for ``path`` (with query), or None for a 404."""
        raise NotImplementedError

    def _reject(self, body: dict[str, Any], headers: dict[str, str], route: Route) -> HttpReply | None:
        """An error reply for a request the real API would refuse, else None."""
        return None

    def _render(self, reply: FakeReply, body: dict[str, Any], number: int, route: Route) -> HttpReply:
        """The HTTP reply for a scripted (or default) reply."""
        raise NotImplementedError

    def _error_reply(self, status: int, message: str) -> HttpReply:
        """An error in the wire format's shape."""
        raise NotImplementedError

    # -- serving (called on handler threads) ----------------------------------------------

    def _handle(self, path: str, raw: bytes, headers: dict[str, str]) -> tuple[HttpReply, float]:
        route = self._route(path)
        if route is None:
            return self._error_reply(404, f"no route {path}"), 0.0
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return self._error_reply(400, "request body is not JSON"), 0.0
        if not isinstance(body, dict):
            return self._error_reply(400, "request body is not an object"), 0.0
        with self._lock:
            self._requests.append(body)
            self._headers.append(headers)
            self._paths.append(path)
            number = len(self._requests)
        rejection = self._reject(body, headers, route)
        if rejection is not None:
            return rejection, 0.0
        reply = self._next_reply(body)
        if self.echo_header is not None:
            reply = _echoed(reply, headers.get(self.echo_header, ""))
        return self._render(reply, body, number, route), reply.delay

    def _next_reply(self, body: dict[str, Any]) -> FakeReply:
        with self._lock:
            reply = self._queue.popleft() if self._queue else None
        if reply is None:
            # Called outside the lock: a user callable must not be able to deadlock the server.
            reply = self._default(body) if self._default is not None else FakeServer.text(DEFAULT_ANSWER)
        return reply

    def _next_number(self) -> int:
        """A fresh number for ids (tool calls, signatures), unique for this server."""
        with self._lock:
            self._call_counter += 1
            return self._call_counter

    def _raw_reply(self, reply: FakeReply) -> HttpReply:
        assert reply.raw_body is not None
        return with_headers(reply.status, reply.raw_body.encode(), reply.headers)


def _echoed(reply: FakeReply, value: str) -> FakeReply:
    """``reply`` with :data:`ECHO` replaced by ``value`` wherever it carries text."""

    def put(text: str | None) -> str | None:
        return None if text is None else text.replace(ECHO, value)

    return dataclasses.replace(
        reply,
        content=put(reply.content),
        thinking=put(reply.thinking),
        error_message=put(reply.error_message),
        raw_body=put(reply.raw_body),
        stream_error=put(reply.stream_error),
        # Inside JSON arguments: the value is escaped as a JSON string's content.
        tool_calls=tuple(
            (name, args.replace(ECHO, json.dumps(value)[1:-1])) for name, args in reply.tool_calls
        ),
    )


def with_headers(status: int, body: bytes, headers: Iterable[tuple[str, str]]) -> HttpReply:
    """A reply with extra ``headers``; a ``Content-Type`` among them replaces the JSON default."""
    extra = dict(headers)
    content_type = extra.pop("Content-Type", "application/json")
    return HttpReply(status, body, content_type=content_type, headers=tuple(extra.items()))


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (e.g. a timeout test) closes its socket before a delayed reply;
        # that is expected, so do not print a traceback for it.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _make_handler(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply, delay = fake._handle(self.path, raw, headers)
            if delay > 0:
                time.sleep(delay)
            self._send(reply)

        def _send(self, reply: HttpReply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            if reply.chunks is None:
                self.send_header("Content-Length", str(len(reply.body)))
            else:
                self.send_header("Transfer-Encoding", "chunked")
            # One request per connection: shutdown then never waits on an idle keep-alive socket.
            self.send_header("Connection", "close")
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            if reply.chunks is None:
                self.wfile.write(reply.body)
            else:
                for chunk in reply.chunks:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    return Handler
