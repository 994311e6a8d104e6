"""``RequestGuard``: the server refuses to be driven by a web page it did not choose.

A browser lets any page send "simple" cross-site requests (``text/plain`` bodies, no
preflight) to ``localhost``, and DNS rebinding lets a page on ``evil.example`` reach a
loopback server under its own host name. Both would let a page start executions and read
the answers. The guard closes these doors with header checks only, before any route:

* **Host** — on a loopback bind (``Settings.loopback_only``) only ``localhost``,
  ``127.0.0.1`` and ``[::1]`` (any port) are served: ``421 forbidden_host``;
* **Origin** — a request carrying an ``Origin`` that is neither the server's own (the
  ``Host`` it was sent to) nor listed in ``Settings.cors_origins`` is refused:
  ``403 forbidden_origin``. CORS headers are sent only to listed origins, and only then
  are preflights answered; with the list empty (the default) CORS is off;
* **Content type** — a ``POST``/``PUT``/``PATCH`` under ``/api`` that has a body must be
  ``application/json`` (parameters such as ``charset`` allowed): ``415
  unsupported_media_type``. A JSON body always costs a browser a preflight;
* **Size** — a body larger than ``Settings.max_request_bytes`` is refused with ``413
  request_too_large`` before the app reads it: from ``Content-Length`` at once, and a
  chunked body (no length) is read up to the limit first, then handed on.

Requests without ``Origin`` (the SDK, the CLI, curl) are not affected by the Origin rule.
The checks read the headers once per request and add nothing per streamed frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentspan.protocol.errors import ErrorCode
from agentspan.server.api.errors import send_problem
from agentspan.server.api.fast import ASGIApp, Message, Receive, Scope, Send
from agentspan.server.settings import Settings

LOOPBACK_HOST_NAMES = frozenset({b"localhost", b"127.0.0.1", b"[::1]"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON = b"application/json"
_PREFLIGHT_METHODS = b"GET, POST, PUT, DELETE"
_PREFLIGHT_HEADERS = b"content-type, authorization, last-event-id"


class RequestGuard:
    """Refuses foreign hosts, foreign origins and non-JSON bodies; see the module doc."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.loopback_only = settings.loopback_only
        self.cors_origins = frozenset(o.strip().rstrip("/").lower().encode() for o in settings.cors_origins)
        self.max_body = settings.max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        h = _Headers.of(scope["headers"])
        if self.loopback_only and h.host is not None and not is_loopback_host(h.host):
            await send_problem(
                send, ErrorCode.FORBIDDEN_HOST, "this server only answers to localhost, 127.0.0.1 or [::1]"
            )
            return
        cross_site = h.origin is not None and h.origin in self.cors_origins
        if h.origin is not None and not cross_site and not is_same_origin(h.origin, h.host):
            detail = "requests from other web origins are refused (AGENTSPAN_CORS_ORIGINS lists allowed ones)"
            await send_problem(send, ErrorCode.FORBIDDEN_ORIGIN, detail)
            return
        method = scope["method"]
        if cross_site and method == "OPTIONS":
            await _preflight(send, h.origin or b"", scope["headers"])
            return
        if (
            h.has_body
            and method in _BODY_METHODS
            and scope["path"].startswith("/api/")
            and not is_json(h.content_type)
        ):
            await send_problem(
                send,
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                "the request body must be Content-Type: application/json",
            )
            return
        bounded = await self._bounded(h, receive, send)
        if bounded is None:
            return
        if cross_site:
            send = _with_cors_headers(send, h.origin or b"")
        await self.app(scope, bounded, send)

    async def _bounded(self, h: _Headers, receive: Receive, send: Send) -> Receive | None:
        """``receive`` for a body within the size limit; ``None`` once a 413 was sent."""
        if h.length > self.max_body:
            await _too_large(send, self.max_body)
            return None
        if not h.chunked:
            return receive
        body = await _read_bounded(receive, self.max_body)
        if body is None:
            await _too_large(send, self.max_body)
            return None
        return _replay(body, receive)


@dataclass(slots=True)
class _Headers:
    """The request headers the guard looks at, read in one pass."""

    host: bytes | None = None
    origin: bytes | None = None
    content_type: bytes | None = None
    length: int = 0
    chunked: bool = False

    @property
    def has_body(self) -> bool:
        return self.length > 0 or self.chunked

    @classmethod
    def of(cls, headers: list[tuple[bytes, bytes]]) -> _Headers:
        h = cls()
        for name, value in headers:
            if name == b"host":
                h.host = value.lower()
            elif name == b"origin":
                h.origin = value.strip().lower()
            elif name == b"content-type":
                h.content_type = value
            elif name == b"content-length":
                h.length = int(value) if value.strip().isdigit() else 0
            elif name == b"transfer-encoding":
                h.chunked = True
        return h


def is_loopback_host(host: bytes) -> bool:
    """True for ``localhost``, ``127.0.0.1`` and ``[::1]``, with or without a port."""
    if host.startswith(b"["):
        name, _, rest = host.partition(b"]")
        name += b"]"
    else:
        name, _, port = host.partition(b":")
        rest = b":" + port if port else b""
    if rest and not (rest.startswith(b":") and rest[1:].isdigit()):
        return False
    return name in LOOPBACK_HOST_NAMES


def is_same_origin(origin: bytes, host: bytes | None) -> bool:
    """True when ``origin`` names the host the request was sent to (a page the server
    itself served). The scheme is not compared: a TLS-terminating proxy changes it."""
    scheme, sep, netloc = origin.partition(b"://")
    return bool(sep) and scheme in (b"http", b"https") and host is not None and netloc == host


def is_json(content_type: bytes | None) -> bool:
    return content_type is not None and content_type.split(b";", 1)[0].strip().lower() == _JSON


async def _too_large(send: Send, limit: int) -> None:
    detail = f"the request body is larger than {limit} bytes (AGENTSPAN_MAX_REQUEST_BYTES)"
    await send_problem(send, ErrorCode.REQUEST_TOO_LARGE, detail)


async def _read_bounded(receive: Receive, limit: int) -> bytes | None:
    """A body sent without a length, read whole unless it passes ``limit`` (``None``)
    or the client goes away (what was read; the app then sees the disconnect)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that hands the app the body read already, then the client's messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _preflight(send: Send, origin: bytes, request_headers: list[tuple[bytes, bytes]]) -> None:
    """Answer a listed origin's CORS preflight: the methods and headers the API uses."""
    asked = next((v for n, v in request_headers if n == b"access-control-request-headers"), None)
    headers = [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-methods", _PREFLIGHT_METHODS),
        (b"access-control-allow-headers", asked or _PREFLIGHT_HEADERS),
        (b"access-control-max-age", b"600"),
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _with_cors_headers(send: Send, origin: bytes) -> Send:
    """``send`` that tells the browser a listed origin may read the response."""

    async def send_with_cors(message: Message) -> None:
        if message["type"] == "http.response.start":
            extra = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return send_with_cors
