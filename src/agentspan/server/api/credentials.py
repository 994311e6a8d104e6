"""``/api/credentials``: set, list and delete credentials (the ``admin`` scope: no rule in
``api/auth.py`` names this path, so it needs ``admin``); and
``/api/tasks/{taskId}/credentials``, where a worker's current lease gets the credentials
its tool declares (the ``worker`` scope of ``/api/tasks/``).

A value goes in and never comes out: every answer carries names and dates only. Values
travel in request bodies, never in a URL (which proxies and access logs keep).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from agentspan.protocol.api import (
    CredentialInfo,
    CredentialValue,
    SetCredentialRequest,
    TaskCredentialsRequest,
)
from agentspan.protocol.errors import ErrorCode
from agentspan.server.api.edge import layer_of, principal_of
from agentspan.server.api.errors import BODY, PARAMETERS, WRITES
from agentspan.server.api.routes import answers

router = APIRouter(prefix="/api/credentials", tags=["credentials"])
tasks_router = APIRouter(prefix="/api/tasks", tags=["credentials"])

_SET = (*BODY, *WRITES, ErrorCode.CREDENTIAL_STORE_UNAVAILABLE)
"""Setting one: the body, a name that does not validate, a store that cannot seal."""


@router.post(
    "",
    status_code=201,
    response_model=CredentialInfo,
    response_model_by_alias=True,
    responses=answers(*_SET),
)
async def create_credential(request: Request, body: SetCredentialRequest) -> CredentialInfo:
    """Set a credential (replacing any value it had)."""
    credentials = layer_of(request.app.state).credentials
    info, _ = await credentials.set(principal_of(request.scope), body.name, body.value)
    return info


@router.put(
    "/{name}",
    response_model=CredentialInfo,
    response_model_by_alias=True,
    responses={201: {"description": "The credential was new"}, **answers(*_SET)},
)
async def put_credential(
    request: Request, name: str, body: CredentialValue, response: Response
) -> CredentialInfo:
    """Set or replace a credential's value: 201 when the name was new, else 200."""
    credentials = layer_of(request.app.state).credentials
    info, created = await credentials.set(principal_of(request.scope), name, body.value)
    response.status_code = 201 if created else 200
    return info


@router.get(
    "",
    response_model=list[CredentialInfo],
    response_model_by_alias=True,
    responses=answers(),
)
async def list_credentials(request: Request) -> list[CredentialInfo]:
    """Every credential's name and dates (never a value)."""
    return await layer_of(request.app.state).credentials.list()


@router.get(
    "/{name}",
    response_model=CredentialInfo,
    response_model_by_alias=True,
    responses=answers(ErrorCode.CREDENTIAL_NOT_FOUND, *PARAMETERS),
)
async def get_credential(request: Request, name: str) -> CredentialInfo:
    """One credential's name and dates (never its value)."""
    return await layer_of(request.app.state).credentials.info(name)


@router.delete(
    "/{name}", status_code=204, responses=answers(ErrorCode.CREDENTIAL_NOT_FOUND, *PARAMETERS, *WRITES)
)
async def delete_credential(request: Request, name: str) -> Response:
    await layer_of(request.app.state).credentials.delete(name)
    return Response(status_code=204)


@tasks_router.post(
    "/{task_id}/credentials",
    response_model=dict[str, str],
    responses=answers(
        ErrorCode.LEASE_LOST, ErrorCode.CREDENTIAL_NOT_DECLARED, ErrorCode.CREDENTIAL_NOT_FOUND, *BODY
    ),
)
async def task_credentials(request: Request, task_id: str, body: TaskCredentialsRequest) -> dict[str, str]:
    """The values of credentials a worker tool call declares (``@tool(credentials=[...])``),
    for the current lease of its task only (the ``worker`` scope, as every ``/api/tasks``
    route). The answer is the one place a value leaves the server."""
    credentials = layer_of(request.app.state).credentials
    return await credentials.for_task(task_id, body.lease_id, body.names)
