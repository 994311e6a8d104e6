"""``HttpMetrics``: request latency by route *template*, and open event streams.

A route's label is its template (``/api/agent/executions/{executionId}``), never the
raw path, so ids cannot grow the label set: FastAPI's routes put the matched route into
the ASGI scope; the fast paths (``api/fast.py``) are named here; anything else (a 404)
is ``unmatched``. Per request this costs two clock reads, a dict lookup and one
histogram update.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from agentspan.server.api.fast import Receive, Scope, Send
from agentspan.server.observability.metrics import Metrics

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Message = dict[str, Any]

_FAST_EXACT = frozenset({"/api/tasks/poll", "/api/agent/start"})
_TASK_ACTIONS = frozenset({"complete", "heartbeat", "fail", "credentials"})
_STREAM_PREFIX = "/api/agent/stream/"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The bounded label for a request's route."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    raw: str = scope.get("path", "")
    if raw in _FAST_EXACT:
        return raw
    if raw.startswith("/api/tasks/"):
        action = raw.rpartition("/")[2]
        return f"/api/tasks/{{taskId}}/{action}" if action in _TASK_ACTIONS else "unmatched"
    if raw.startswith(_STREAM_PREFIX):
        return _STREAM_PREFIX + "{executionId}"
    return "unmatched"


class HttpMetrics:
    """ASGI middleware timing every HTTP request into ``metrics``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._series: dict[tuple[str, str, int], Any] = {}
        """``labels()`` children by (method, route, status): ``labels()`` validates and
        locks on every call. Bounded, as the three labels are."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        streaming = False
        gauge = self.metrics.sse_subscribers

        async def timed_send(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", ()):
                    if name == b"content-type" and bytes(value).startswith(b"text/event-stream"):
                        streaming = True
                        gauge.inc()
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if streaming:
                gauge.dec()
            method = scope["method"] if scope["method"] in _METHODS else "other"
            key = (method, route_template(scope), status)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = self.metrics.http_latency.labels(key[0], key[1], str(status))
            series.observe(time.perf_counter() - started)
