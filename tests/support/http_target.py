"""A real local HTTP service for server-side HTTP tool tests (stdlib, threaded).

It records every request that arrives (method, path, query, headers, body), counts them
per ``Idempotency-Key``, and answers from routes the test sets: ``target.route("GET",
"/weather/{city}", handler)``. A handler gets the ``Seen`` request and returns ``(status,
body)`` or ``(status, body, content_type)``; a ``dict``/``list`` body is sent as JSON.
``target.hold(path)`` makes requests to that path wait until ``release(path)``, so a test
can kill a server while a call is in flight.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from agentspan.server.executors.base import MissingSecret

from fakes.openai_server import FakeOpenAI


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, Any] | tuple[int, Any, str]
Handler = Callable[[Seen], Reply]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing a kept-alive connection (or a killed server) is not a test failure.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class HttpTarget:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.by_key: Counter[str] = Counter()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._held: dict[str, threading.Event] = {}
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        target = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                target._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        self._server = _QuietServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="http-target")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for event in self._held.values():
            event.set()
        self._server.shutdown()
        self._server.server_close()

    def route(self, method: str, path: str, handler: Handler) -> None:
        pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")
        self._routes.insert(0, (method.upper(), pattern, handler))

    def json_route(self, method: str, path: str, body: Any, status: int = 200) -> None:
        self.route(method, path, lambda _seen: (status, body))

    def hold(self, path: str) -> None:
        self._held[path] = threading.Event()

    def release(self, path: str) -> None:
        self._held.pop(path).set()

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        seen = Seen(
            method=handler.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        with self._lock:
            self.seen.append(seen)
            key = seen.headers.get("idempotency-key")
            if key:
                self.by_key[key] += 1
        self.arrived.set()
        held = self._held.get(parts.path)
        if held is not None:
            held.wait(60)
        reply = self._reply(seen)
        status, payload = reply[0], reply[1]
        content_type = reply[2] if len(reply) == 3 else "application/json"
        raw = (
            payload
            if isinstance(payload, bytes)
            else (payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
        )
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(raw)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the caller went away (a killed server)

    def _reply(self, seen: Seen) -> Reply:
        for method, pattern, handler in self._routes:
            match = pattern.match(seen.path)
            if match and method == seen.method:
                seen.params = match.groupdict()
                return handler(seen)
        return 404, {"error": f"no route {seen.method} {seen.path}"}


class DictSecrets:
    """A ``SecretResolver`` over a dict (the credential store's stand-in in these tests)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.asked: list[tuple[list[str], str]] = []

    async def resolve(self, names: Collection[str], execution_id: str) -> dict[str, str]:
        self.asked.append((list(names), execution_id))
        for name in names:
            if name not in self.values:
                raise MissingSecret(f"credential {name!r} is not set on the server")
        return {name: self.values[name] for name in names}


def tool_messages(fake: FakeOpenAI) -> list[str]:
    """The tool results the model was shown, in the order it saw them."""
    last = fake.requests[-1]["messages"]
    return [str(m["content"]) for m in last if m["role"] == "tool"]
