"""``/api/deployments``: named, versioned agent definitions, and starting one by name;
``/api/agent/compile``: what a start would store, without starting. Both need the
``operator`` scope (``api/auth.py``), as starting an execution does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from agentspan.protocol.api import (
    CompileResponse,
    DeployedStartRequest,
    DeploymentDetail,
    DeploymentInfoWire,
    DeploymentSummary,
    DeployRequest,
    StartResponse,
)
from agentspan.protocol.errors import ErrorCode
from agentspan.server.api.edge import layer_of, principal_of
from agentspan.server.api.errors import BODY, PARAMETERS, WRITES
from agentspan.server.api.routes import MAX_WAIT_MS, answers

router = APIRouter(prefix="/api", tags=["deployments"])

_PREPARED = (
    ErrorCode.INVALID_AGENT,
    ErrorCode.INVALID_MODEL,
    ErrorCode.BASE_URL_NOT_ALLOWED,
    ErrorCode.LIMIT_EXCEEDED,
    ErrorCode.MCP_SERVER_NOT_ALLOWED,
    ErrorCode.TOOL_DISCOVERY_FAILED,
    *BODY,
)
"""What preparing a definition may refuse (the checks a start makes before it writes)."""


@router.post(
    "/agent/compile",
    response_model=CompileResponse,
    response_model_by_alias=True,
    responses=answers(*_PREPARED),
)
async def compile_agent(request: Request, body: DeployRequest) -> CompileResponse:
    """The definition a start of ``agentConfig`` would store (templates rendered,
    discovering tools expanded) and the worker tasks it needs; nothing is stored or run."""
    return await layer_of(request.app.state).deployments.compile(
        principal_of(request.scope), body.agent_config
    )


@router.post(
    "/deployments",
    status_code=201,
    response_model=DeploymentInfoWire,
    response_model_by_alias=True,
    responses={
        200: {"description": "The latest version already held this definition"},
        **answers(*_PREPARED, *WRITES),
    },
)
async def deploy(request: Request, body: DeployRequest, response: Response) -> DeploymentInfoWire:
    """Store ``agentConfig`` as the next version of its name: 201 with the new version,
    or 200 with the latest one when it already holds the same definition."""
    info = await layer_of(request.app.state).deployments.deploy(
        principal_of(request.scope), body.agent_config
    )
    response.status_code = 201 if info.created else 200
    return info


@router.get(
    "/deployments", response_model=list[DeploymentSummary], response_model_by_alias=True, responses=answers()
)
async def list_deployments(request: Request) -> list[DeploymentSummary]:
    """Every deployed name with its latest version."""
    return await layer_of(request.app.state).deployments.list(principal_of(request.scope))


@router.get(
    "/deployments/{name}",
    response_model=DeploymentDetail,
    response_model_by_alias=True,
    responses=answers(ErrorCode.DEPLOYMENT_NOT_FOUND, *PARAMETERS),
)
async def deployment(request: Request, name: str) -> DeploymentDetail:
    """A name's versions, newest first, each with how many unfinished executions run it."""
    return await layer_of(request.app.state).deployments.detail(principal_of(request.scope), name)


@router.post(
    "/deployments/{name}/start",
    response_model=StartResponse,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses=answers(ErrorCode.DEPLOYMENT_NOT_FOUND, *_PREPARED, *PARAMETERS, *WRITES),
)
async def start_deployed(
    request: Request,
    name: str,
    body: DeployedStartRequest,
    wait_ms: Annotated[int, Query(alias="waitMs", ge=0, le=MAX_WAIT_MS)] = 0,
) -> StartResponse:
    """Start the latest (or ``version``) deployed definition of ``name``, as ``/agent/start``
    starts a definition sent in full (``waitMs`` and ``idempotencyKey`` alike)."""
    layer = layer_of(request.app.state)
    return await layer.deployments.start(principal_of(request.scope), name, body, wait_ms)
