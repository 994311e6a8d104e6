"""``create_app``: the ASGI application, composed in one place.

A request passes, outermost first::

    HttpMetrics (observability/http.py: request latency by route; unless metrics are off)
    MIDDLEWARE (cross-cutting: the request guard, …)
      -> Authenticate (api/auth.py: who is calling, and may they; not optional)
        -> FastPaths (api/fast.py: start, worker task calls, the SSE stream)
          -> FastAPI (api/routes.py, api/sse.py, api/keys.py, api/credentials.py,
             api/deployments.py: everything else, and the
             OpenAPI description)

A cross-cutting concern is a plain ASGI middleware (``Middleware``: it takes the app it
wraps and the server's ``Settings`` and returns an app) added to ``MIDDLEWARE``; it then sees every request, the hot
endpoints included. Keep it cheap per request and free of per-frame work on streams.
``Authenticate`` is always there, inside the middleware, so replacing ``MIDDLEWARE``
cannot switch authentication off; it puts the caller's ``Principal`` into the scope under
``service.principal.PRINCIPAL_SCOPE_KEY``, and ``api/edge.py::principal_of`` hands it on
to the services.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

import agentspan
from agentspan.server.api import credentials, deployments, errors, keys, memory, ops, routes, sse, ui
from agentspan.server.api.auth import Authenticate
from agentspan.server.api.edge import ServiceLayer
from agentspan.server.api.errors import code_table, tidy_problems
from agentspan.server.api.fast import FastPaths, Receive, Scope, Send
from agentspan.server.api.guard import RequestGuard
from agentspan.server.observability import Observability
from agentspan.server.observability.http import HttpMetrics
from agentspan.server.service.executions import ExecutionService
from agentspan.server.service.limits import Limits
from agentspan.server.service.ops import OpsService
from agentspan.server.service.semantic_memory import MemoryService
from agentspan.server.service.templates import PromptTemplates
from agentspan.server.services import Services
from agentspan.server.settings import Settings
from agentspan.server.store.base import Store

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Middleware = Callable[[ASGIApp, Settings], ASGIApp]

MIDDLEWARE: tuple[Middleware, ...] = (RequestGuard,)
"""Cross-cutting middleware around the whole server, outermost first: ``RequestGuard``
(foreign hosts, foreign origins and non-JSON bodies are refused before anything runs)."""


class ServerApp:
    """The server as one ASGI app: ``middleware`` around ``Authenticate`` around
    ``FastPaths`` around FastAPI."""

    def __init__(
        self,
        api: FastAPI,
        middleware: Sequence[Middleware],
        settings: Settings,
        observability: Observability | None = None,
    ) -> None:
        self.api = api
        self.auth = Authenticate(FastPaths(api), settings)
        entry: ASGIApp = self.auth
        for wrap in reversed(middleware):
            entry = wrap(entry, settings)
        if observability is not None and observability.metrics is not None:
            # Outermost: requests refused by the guard or authentication are timed too.
            entry = HttpMetrics(entry, observability.metrics)
        self.entry = entry

    @property
    def state(self) -> Any:
        """The FastAPI app's state (``services`` and ``layer`` once started)."""
        return self.api.state

    def begin_shutdown(self) -> None:
        """A stop was asked for: long polls, streams and ``waitMs`` waits answer now."""
        services: Services | None = getattr(self.api.state, "services", None)
        if services is not None:
            services.hub.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.entry(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    store: Store | None = None,
    middleware: Sequence[Middleware] = MIDDLEWARE,
    observability: Observability | None = None,
) -> ServerApp:
    """The server; ``middleware`` wraps everything, outermost first. ``observability``:
    metrics, tracing and execution logs (default: as the environment says)."""
    settings = settings or Settings.from_env()
    observability = observability or Observability.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.start(settings, store, observers=observability.observers)
        services.driver.trace_tasks = observability.tracing_enabled
        bus = services.observers
        app.state.services = services
        server.auth.keys = services.keys
        app.state.layer = ServiceLayer(
            executions=ExecutionService(
                services.driver,
                settings.base_url_allowed,
                Limits.from_settings(settings),
                services.providers.model_problem,
                tools=services.tools,
                templates=PromptTemplates(settings.resolved_prompt_templates_dir()),
            ),
            tasks=services.tasks,
            keys=services.keys,
            credentials=services.credentials,
            ops=OpsService(
                settings,
                services.store,
                services.providers,
                services.credentials,
                observability.metrics,
                keys_required=lambda: server.auth.always_required or services.keys.required,
                dropped=lambda: (
                    (sum(bus.dropped()) if bus is not None else 0) + observability.tracer_dropped()
                ),
                tracing_enabled=observability.tracing_enabled,
            ),
            memory=MemoryService(services.memory),
        )
        try:
            yield
        finally:
            await services.stop()
            observability.close()

    app = FastAPI(
        title="Agentspan",
        version=agentspan.__version__,
        description="A durable runtime for AI agents.\n\nEvery error is a problem document "
        "(`application/problem+json`) with a stable `code`:\n\n" + code_table(),
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url=None,  # api/ui.py serves /api/docs from the package: it works offline
        redoc_url=None,
    )
    errors.install(app)
    app.include_router(routes.router)
    app.include_router(sse.router)
    app.include_router(keys.router)
    app.include_router(credentials.router)
    app.include_router(credentials.tasks_router)
    app.include_router(deployments.router)
    app.include_router(memory.router)
    app.include_router(ui.router)
    app.include_router(ops.router)
    _describe_problems(app)

    @app.get("/health", responses=errors.documented())
    async def health() -> dict[str, object]:
        svc: Services = app.state.services
        return {"healthy": True, "version": agentspan.__version__, "database": svc.store.url.split(":", 1)[0]}

    server = ServerApp(app, middleware, settings, observability)
    return server


def _describe_problems(app: FastAPI) -> None:
    """The OpenAPI description lists the problem documents each route answers
    (``api/errors.py::documented``), not FastAPI's 422, which the server never sends."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = tidy_problems(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
