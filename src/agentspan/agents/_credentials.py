"""``resolve_credentials``: credentials for a worker written without ``@tool``.

A process that polls the task queue itself (``POST /api/tasks/poll``) may fetch the
credentials a task may have with the task's lease, as the SDK's own worker does: pass
the task as it was polled (it holds ``taskId`` and ``leaseId``), or input data carrying
them under ``__agentspan_ctx__``. Only while the lease is current, and only the names
the task's tool, agent or run declares (docs/credentials.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from agentspan._core.credentials import CredentialNotFoundError, CredentialServiceError
from agentspan.agents._config import AgentConfig
from agentspan.client._auth import auth_headers, bearer_token
from agentspan.client._http import _error_of
from agentspan.client._worker import credential_error

CONTEXT_KEY = "__agentspan_ctx__"


def resolve_credentials(
    input_data: Mapping[str, Any], names: list[str], *, config: AgentConfig | None = None
) -> dict[str, str]:
    """The values of ``names`` for the task ``input_data`` is (or belongs to).

    Raises ``CredentialNotFoundError`` (no lease in ``input_data``, or a name not set on
    the server), ``CredentialAuthError`` (a lease that ended or moved, a name the task
    may not have, a key without the ``worker`` scope), ``CredentialRateLimitError`` or
    ``CredentialServiceError`` (the server did not answer). ``config``: where the server
    is and the key to send (default: ``AgentConfig.from_env()``).
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    task_id, lease_id = _lease_of(input_data)
    if not task_id or not lease_id:
        raise CredentialNotFoundError(
            wanted,
            "no task lease in input_data: pass the task as polled (with taskId and leaseId), "
            f"or input data with {CONTEXT_KEY} = {{'taskId': ..., 'leaseId': ...}}",
        )
    config = config or AgentConfig.from_env()
    url = f"{config.server_url}/tasks/{task_id}/credentials"
    headers = auth_headers(bearer_token(config.api_key, config.auth_key))
    try:
        response = httpx.post(url, json={"leaseId": lease_id, "names": wanted}, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise CredentialServiceError(0, f"cannot reach the Agentspan server: {type(exc).__name__}") from None
    if response.status_code >= 400:
        raise credential_error(_error_of(response.status_code, response.text, url), wanted)
    values = response.json()
    missing = [name for name in wanted if name not in values]
    if missing:
        raise CredentialNotFoundError(missing)
    return {name: str(values[name]) for name in wanted}


def _lease_of(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    ctx = data.get(CONTEXT_KEY)
    source = ctx if isinstance(ctx, Mapping) else data
    task_id, lease_id = source.get("taskId"), source.get("leaseId")
    return (str(task_id) if task_id else None, str(lease_id) if lease_id else None)
