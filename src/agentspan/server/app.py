"""``create_app``: the ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import agentspan
from agentspan.server.api import problems, routes, sse
from agentspan.server.api.fast import FastPaths
from agentspan.server.services import Services
from agentspan.server.settings import Settings
from agentspan.server.store.base import Store


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastPaths:
    """The server: the hot endpoints served directly (``api/fast.py``), the rest by FastAPI."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await Services.start(settings, store)
        try:
            yield
        finally:
            await app.state.services.stop()

    app = FastAPI(
        title="Agentspan",
        version=agentspan.__version__,
        description="A durable runtime for AI agents.",
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    problems.install(app)
    app.include_router(routes.router)
    app.include_router(sse.router)

    @app.get("/health")
    async def health() -> dict[str, object]:
        svc: Services = app.state.services
        return {"healthy": True, "version": agentspan.__version__, "database": svc.store.url.split(":", 1)[0]}

    return FastPaths(app)
