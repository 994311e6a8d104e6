"""The hot paths without the web framework: worker task calls and starting a run.

Every tool step costs a worker two requests (poll, complete) and every ``run()`` one
(start, waiting for the result); on a small machine FastAPI's routing, dependency
injection and middleware stack cost more per request than the work they route (see
docs/benchmarks.md). ``FastPaths`` sits in front of the FastAPI app and serves exactly
these endpoints itself: the same paths, bodies, status codes and problem documents, with
bodies validated straight from JSON by the same pydantic models. Everything else, and the
OpenAPI description of these endpoints too, stays with FastAPI.

Like the FastAPI routes, each endpoint here only parses, calls the same service method
(``ExecutionService``, ``TaskService``) and maps the answer; errors go through the same
``api/errors.py::problem_from``. Cross-cutting concerns (auth, metrics, tracing) wrap
this app from outside (``app.py``), so they see these endpoints too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel

from agentspan.protocol.api import (
    CompleteRequest,
    FailRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    PollRequest,
    PollResponse,
    StartRequest,
)
from agentspan.protocol.errors import ErrorCode
from agentspan.server.api.edge import ServiceLayer, layer_of, principal_of
from agentspan.server.api.errors import problem_body, problem_from
from agentspan.server.api.routes import MAX_WAIT_MS, looks_like_event_id, resume_point
from agentspan.server.errors import ValidationFailed, limit_of
from agentspan.server.service.limits import precheck_start_json

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TASK_ACTIONS = ("complete", "heartbeat", "fail")
_STREAM_PREFIX = "/api/agent/stream/"
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class _Request:
    def __init__(self, scope: Scope, receive: Receive, body: bytes) -> None:
        self.scope = scope
        self.receive = receive
        self.body = body
        self._gone = False
        self._watch: asyncio.Task[None] | None = None

    def query(self) -> dict[str, str]:
        raw = self.scope.get("query_string", b"")
        return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}

    def watch_disconnect(self) -> None:
        """Notice a client that goes away during a long-poll (checked before claiming)."""

        async def watch() -> None:
            while (await self.receive())["type"] != "http.disconnect":
                pass
            self._gone = True

        self._watch = asyncio.create_task(watch())

    async def gone(self) -> bool:
        return self._gone

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()


class FastPaths:
    """ASGI app: serves the hot endpoints, hands every other request to ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app  # the FastAPI app (its ``state.layer`` is set by the lifespan)

    @property
    def state(self) -> Any:
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST":
            route = _route(scope["path"])
            if route is not None:
                await self._serve(scope, receive, send, *route)
                return
        elif scope["method"] == "GET" and scope["path"].startswith(_STREAM_PREFIX):
            execution_id = scope["path"][len(_STREAM_PREFIX) :]
            if execution_id and "/" not in execution_id:
                await self._stream(scope, receive, send, execution_id)
                return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            # A long request (``waitMs``) cut by a shutdown: answer it as the fast paths do.
            if not started:
                await answer_cut(send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, execution_id: str) -> None:
        """``GET /api/agent/stream/{id}``: ``ExecutionService.stream``'s frames written straight to
        the connection (no streaming-response task group, no middleware per frame, which
        is what an event fanned out to many subscribers paid for each of them)."""
        request = _Request(scope, receive, await _read_body(receive))
        try:
            query = request.query()
            deltas = _flag(query.get("deltas", "true"), "deltas")
            after = _after(query.get("lastEventId"), _header(scope, b"last-event-id"))
            frames = await layer_of(self.app.state).executions.stream(
                principal_of(scope), execution_id, after=after, deltas=deltas, gone=request.gone
            )
        except Exception as exc:  # noqa: BLE001 - every error leaves as a problem document
            status, code, detail = problem_from(exc)
            await _respond(send, status, problem_body(status, code, detail, limit_of(exc)))
            return
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        request.watch_disconnect()
        try:
            async for frame in frames:
                if await request.gone():
                    return
                await send({"type": "http.response.body", "body": frame.encode(), "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except asyncio.CancelledError:
            return  # the server is shutting down: the client resumes elsewhere
        finally:
            request.close()

    async def _serve(self, scope: Scope, receive: Receive, send: Send, action: str, task_id: str) -> None:
        request = _Request(scope, receive, await _read_body(receive))
        try:
            status, body = await self._handle(request, action, task_id)
        except asyncio.CancelledError:
            # Only a server shutting down cancels a request (a parked long-poll, past the
            # graceful wait). Unanswered, uvicorn would send a plain-text 500.
            request.close()
            await answer_cut(send)
            return
        except Exception as exc:  # noqa: BLE001 - every error leaves as a problem document
            status, code, detail = problem_from(exc)
            if code == ErrorCode.SHUTTING_DOWN:  # a poll the stop woke: as a cut one
                request.close()
                await answer_cut(send, detail)
                return
            body = problem_body(status, code, detail, limit_of(exc))
        finally:
            request.close()
        await _respond(send, status, body)

    async def _handle(self, request: _Request, action: str, task_id: str) -> tuple[int, bytes | None]:
        layer: ServiceLayer = layer_of(self.app.state)
        principal = principal_of(request.scope)
        if action == "start":
            wait_ms = _wait_ms(request.query())
            precheck_start_json(request.body, layer.executions.limits)
            body = StartRequest.model_validate_json(request.body)
            return 200, _json(await layer.executions.start(principal, body, wait_ms))
        if action == "poll":
            poll = PollRequest.model_validate_json(request.body)
            request.watch_disconnect()
            tasks = await layer.tasks.poll(
                principal,
                poll.names,
                poll.worker_id,
                poll.count,
                poll.wait_ms,
                gone=request.gone,
                domain=poll.domain,
            )
            return 200, _json(PollResponse(tasks=tasks))
        if action == "complete":
            done = CompleteRequest.model_validate_json(request.body)
            await layer.tasks.complete(principal, task_id, done.lease_id, done.output, done.state_updates)
            return 204, None
        if action == "fail":
            failed = FailRequest.model_validate_json(request.body)
            await layer.tasks.fail(principal, task_id, failed.lease_id, failed.error, failed.retryable)
            return 204, None
        beat = HeartbeatRequest.model_validate_json(request.body)
        ttl = await layer.tasks.heartbeat(principal, task_id, beat.lease_id)
        return 200, _json(HeartbeatResponse(lease_ttl_ms=ttl))


def _route(path: str) -> tuple[str, str] | None:
    """``(action, task_id)`` for the paths served here, else ``None``."""
    if path == "/api/tasks/poll":
        return "poll", ""
    if path == "/api/agent/start":
        return "start", ""
    if path.startswith("/api/tasks/"):
        task_id, _, action = path[len("/api/tasks/") :].rpartition("/")
        if task_id and action in _TASK_ACTIONS:
            return action, task_id
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _flag(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValidationFailed(f"{name}: give true or false, not {raw!r}")


def _after(query: str | None, header: str | None) -> int:
    """Where a stream resumes: ``Last-Event-ID`` wins over ``lastEventId`` (a header that
    is not a number is ignored, as a browser may send one of its own)."""
    if header and looks_like_event_id(header):
        return resume_point(header, "Last-Event-ID")
    if query is None:
        return 0
    return resume_point(query, "lastEventId")


def _wait_ms(query: dict[str, str]) -> int:
    raw = query.get("waitMs")
    if raw is None:
        return 0
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_WAIT_MS:
        raise ValidationFailed(f"waitMs: give a whole number of milliseconds, 0 to {MAX_WAIT_MS}")
    return value


def _json(model: BaseModel) -> bytes:
    return model.model_dump_json(by_alias=True, exclude_none=True).encode()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left before sending it all
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


RETRY_AFTER_SECONDS = 1
"""What a request cut by a shutdown is told to wait before trying again (a restart, or
another replica behind the same address)."""


async def answer_cut(
    send: Send, detail: str = "the server is shutting down; try again (it may be restarting)"
) -> None:
    """Answer a request the server is shutting down under: ``503 shutting_down`` with
    ``Retry-After``, a problem document the SDK retries quietly. Nothing was done for it
    that a retry would repeat: a cut poll claimed nothing, a cut ``waitMs`` only waited."""
    body = problem_body(503, ErrorCode.SHUTTING_DOWN, detail)
    retry = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode()), (b"connection", b"close")]
    with contextlib.suppress(Exception):  # the client may be gone already
        await _respond(send, 503, body, retry)


async def _respond(
    send: Send, status: int, body: bytes | None, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-length", str(len(body or b"")).encode()), *(extra or ())]
    if body is not None:
        kind = b"application/problem+json" if status >= 400 else b"application/json"
        headers.append((b"content-type", kind))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body or b""})
