"""``/metrics`` (Prometheus) and ``/api/admin/doctor`` (``agentspan doctor``).

Scopes (``api/auth.py``): ``/metrics`` needs ``operator`` — it names agents, tools and
models but holds no prompts, outputs or secrets, and a monitoring system should not hold
an ``admin`` key; ``/api/admin/`` needs ``admin`` (the doctor reports the server's
configuration). On an open loopback server neither needs a key, like every route.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from agentspan.protocol.errors import ErrorCode
from agentspan.protocol.ops import DoctorReport
from agentspan.server.api.edge import layer_of
from agentspan.server.api.routes import answers
from agentspan.server.errors import NotFound

router = APIRouter(tags=["operations"])

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"

_METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    **answers(ErrorCode.NOT_FOUND),
    200: {
        "content": {PROMETHEUS_TEXT: {"schema": {"type": "string"}}},
        "description": "Prometheus text format",
    },
}


@router.get("/metrics", response_class=Response, responses=_METRICS_RESPONSES)
async def metrics(request: Request) -> Response:
    """This process's metrics and the shared state's gauges (docs/operations.md)."""
    body = await layer_of(request.app.state).ops.metrics_text()
    if body is None:
        raise NotFound("metrics are switched off on this server (AGENTSPAN_METRICS=0)", ErrorCode.NOT_FOUND)
    return Response(content=body, media_type=PROMETHEUS_TEXT)


@router.get(
    "/api/admin/doctor",
    response_model=DoctorReport,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses=answers(),
)
async def doctor(request: Request) -> DoctorReport:
    """The server's health as ``agentspan doctor`` prints it; provider keys as present or
    absent, never their values."""
    return await layer_of(request.app.state).ops.doctor()
