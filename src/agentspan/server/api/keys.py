"""``/api/keys``: create, list and revoke API keys (the ``admin`` scope, ``api/auth.py``).

A new key is shown once, in the answer that creates it. Revoking takes effect on every
replica at once (``service/keys.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from agentspan.protocol.api import ApiKeyInfo, CreatedApiKey, CreateKeyRequest
from agentspan.protocol.errors import ErrorCode
from agentspan.server.api.edge import layer_of, principal_of
from agentspan.server.api.errors import BODY, PARAMETERS, WRITES
from agentspan.server.api.routes import answers

router = APIRouter(prefix="/api/keys", tags=["keys"])


@router.post(
    "",
    status_code=201,
    response_model=CreatedApiKey,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses=answers(ErrorCode.KEY_NAME_TAKEN, *BODY, *WRITES),
)
async def create_key(request: Request, body: CreateKeyRequest) -> CreatedApiKey:
    """Create a key. The answer holds the key itself, which is never shown again."""
    keys = layer_of(request.app.state).keys
    return await keys.create(principal_of(request.scope), body.name, body.scopes)


@router.get(
    "",
    response_model=list[ApiKeyInfo],
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses=answers(*PARAMETERS),
)
async def list_keys(
    request: Request, include_revoked: Annotated[bool, Query(alias="includeRevoked")] = False
) -> list[ApiKeyInfo]:
    return await layer_of(request.app.state).keys.list(include_revoked)


@router.delete(
    "/{key}",
    response_model=ApiKeyInfo,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses=answers(ErrorCode.KEY_NOT_FOUND, *WRITES),
)
async def revoke_key(request: Request, key: str) -> ApiKeyInfo:
    """Revoke the active key with this id or name; it stops working at once."""
    return await layer_of(request.app.state).keys.revoke(key)
