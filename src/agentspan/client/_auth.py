"""How a client proves who it is: the one place that builds the ``Authorization`` header.

Every request to the server goes through one of two clients, the SDK's async
``client/_http.py::ApiClient`` (which hands the same headers to ``client/_wire.py``) and
the CLI's sync ``cli/_executions.py::ApiClient``. Both take their credential headers from
here, so a new scheme (a signed request, say) is written once and both send it. The
server checks the key once it has any (docs/security.md#authentication).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["API_KEY_VARIABLE", "AUTH_KEY_VARIABLE", "auth_headers", "bearer_token", "bearer_token_from_env"]

API_KEY_VARIABLE = "AGENTSPAN_API_KEY"
"""The environment variable holding the key sent as the bearer token."""
AUTH_KEY_VARIABLE = "AGENTSPAN_AUTH_KEY"
"""The reference product's older name for the key; used only when the API key is unset."""


def bearer_token(api_key: str | None, auth_key: str | None) -> str | None:
    """The token to send: the API key, else the auth key, else none (empty means unset)."""
    return api_key or auth_key or None


def bearer_token_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """:func:`bearer_token` read from the same variables ``AgentConfig.from_env`` reads."""
    return bearer_token(environ.get(API_KEY_VARIABLE), environ.get(AUTH_KEY_VARIABLE))


def auth_headers(token: str | None) -> dict[str, str]:
    """The credential headers for ``token``: none without one."""
    return {"Authorization": f"Bearer {token}"} if token else {}
