"""``/api/memory/{namespace}/...``: the server's semantic memory (the ``operator`` scope,
``api/auth.py``). Entries live per namespace and index (query ``index``, default
``default``); ``docs/api.md#semantic-memory``."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from agentspan.protocol.api import (
    AddMemoryRequest,
    ClearedMemory,
    MemoryEntries,
    MemoryEntryOut,
    SearchMemoryRequest,
)
from agentspan.protocol.errors import ErrorCode
from agentspan.server.api.edge import layer_of, principal_of
from agentspan.server.api.errors import BODY, PARAMETERS, WRITES
from agentspan.server.api.routes import answers

router = APIRouter(prefix="/api/memory", tags=["memory"])

_INDEX = Query("default", description="The index of the namespace (1-128 letters, digits, '_.:-').")
_EMBEDS = (ErrorCode.EMBEDDING_FAILED,)


@router.post(
    "/{namespace}/entries",
    status_code=201,
    response_model=MemoryEntries,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses=answers(*BODY, *WRITES, ErrorCode.LIMIT_EXCEEDED, *_EMBEDS),
)
async def add_entries(request: Request, namespace: str, body: AddMemoryRequest) -> MemoryEntries:
    """Store entries (embedded first when a model is named or configured); an entry with
    an id already stored replaces it."""
    return await layer_of(request.app.state).memory.add(principal_of(request.scope), namespace, body)


@router.post(
    "/{namespace}/search",
    response_model=MemoryEntries,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses=answers(*BODY, *_EMBEDS),
)
async def search_entries(request: Request, namespace: str, body: SearchMemoryRequest) -> MemoryEntries:
    """The entries most relevant to the query, best first, each with its score and what
    ranked it (``embedding`` or ``lexical``)."""
    return await layer_of(request.app.state).memory.search(principal_of(request.scope), namespace, body)


@router.get(
    "/{namespace}/entries",
    response_model=MemoryEntries,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses=answers(*PARAMETERS),
)
async def list_entries(
    request: Request,
    namespace: str,
    index: str = _INDEX,
    limit: int = Query(50, description="Entries per page (1-200)."),
    cursor: str | None = Query(None, description="``nextCursor`` of the previous page."),
) -> MemoryEntries:
    """The index's entries, oldest first, a page at a time."""
    memory = layer_of(request.app.state).memory
    return await memory.list(principal_of(request.scope), namespace, index, limit, cursor)


@router.delete(
    "/{namespace}/entries",
    response_model=ClearedMemory,
    responses=answers(*PARAMETERS, *WRITES),
)
async def clear_entries(request: Request, namespace: str, index: str = _INDEX) -> ClearedMemory:
    """Remove every entry of the index."""
    return await layer_of(request.app.state).memory.clear(principal_of(request.scope), namespace, index)


@router.get(
    "/{namespace}/entries/{entry_id}",
    response_model=MemoryEntryOut,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses=answers(ErrorCode.MEMORY_ENTRY_NOT_FOUND, *PARAMETERS),
)
async def get_entry(request: Request, namespace: str, entry_id: str, index: str = _INDEX) -> MemoryEntryOut:
    memory = layer_of(request.app.state).memory
    return await memory.get(principal_of(request.scope), namespace, index, entry_id)


@router.delete(
    "/{namespace}/entries/{entry_id}",
    status_code=204,
    responses=answers(ErrorCode.MEMORY_ENTRY_NOT_FOUND, *PARAMETERS, *WRITES),
)
async def delete_entry(request: Request, namespace: str, entry_id: str, index: str = _INDEX) -> Response:
    memory = layer_of(request.app.state).memory
    await memory.delete(principal_of(request.scope), namespace, index, entry_id)
    return Response(status_code=204)
