"""Credentials inside a worker tool call: ``get_credential`` and the errors (reference §16).

A tool declared with ``@tool(credentials=["NAME", ...])`` gets those values from the
server's credential store for the duration of each call: the worker fetches them with
the call's lease (``POST /api/tasks/{taskId}/credentials``; the lease is the short-lived,
execution-scoped token: it stops working when the call ends, the task is withdrawn or
the execution stops), then exposes them

* to ``get_credential(name)``, through a context variable (so concurrent calls each see
  their own), and
* as environment variables, while the call runs (set on entry, restored when the last
  call using a name returns; ``os.environ`` is process-wide, so a concurrent call of
  another tool in the same process can see them too: use ``get_credential`` there).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from agentspan._core.errors import AgentspanError, ConfigurationError
from agentspan.protocol.spec.credentials import undeclared

_CURRENT: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "agentspan_credentials", default=None
)


class CredentialNotFoundError(AgentspanError):
    """A credential is not set on the server, not declared by the tool, or asked for
    outside a tool call that declared it. ``missing_names`` lists them."""

    def __init__(self, missing_names: list[str] | str, detail: str = "") -> None:
        names = [missing_names] if isinstance(missing_names, str) else list(missing_names)
        super().__init__(detail or f"credential(s) not available: {', '.join(names)}")
        self.missing_names = names
        self.detail = detail


class CredentialAuthError(AgentspanError):
    """The server refused the worker's request for credentials (its key, or a lease that
    is no longer current)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or "credential request refused")
        self.detail = detail


class CredentialRateLimitError(AgentspanError):
    """The server asked the worker to slow down (429)."""

    def __init__(self) -> None:
        super().__init__("credential requests are rate limited")


class CredentialServiceError(AgentspanError):
    """The server failed to answer (``status_code`` 0: no HTTP answer at all)."""

    def __init__(self, status_code: int, detail: str = "") -> None:
        super().__init__(f"credential service error ({status_code}): {detail}")
        self.status_code = status_code
        self.detail = detail


def get_credential(name: str) -> str:
    """The value of credential ``name`` in the running tool call that declared it."""
    values = _CURRENT.get()
    if values is None:
        raise CredentialNotFoundError(
            [name], f"get_credential({name!r}) outside a tool call declared with credentials=[...]"
        )
    try:
        return values[name]
    except KeyError:
        raise CredentialNotFoundError(
            [name], f"credential {name!r} is not among the tool's declared credentials"
        ) from None


def check_placeholders(tool_name: str, headers: Mapping[str, str] | None, declared: list[Any] | None) -> None:
    """Every ``${NAME}`` in a server-side tool's headers must be in its ``credentials``
    (``ConfigurationError``, a ``ValueError``, naming the missing ones, as in the reference)."""
    missing = undeclared(headers, credential_names(declared or []))
    if missing:
        names = ", ".join(missing)
        raise ConfigurationError(
            f"tool {tool_name!r}: headers use ${{{missing[0]}}} but its credentials do not list "
            f"{names}: add credentials={missing!r}"
        )


def credential_names(declared: list[Any]) -> list[str]:
    """Names of ``@tool(credentials=[...])`` entries (a ``CredentialFile``-like object is
    named by its ``env_var``)."""
    return [c if isinstance(c, str) else str(c.env_var) for c in declared]


_env_lock = threading.Lock()
_env_users: dict[str, int] = {}
_env_saved: dict[str, str | None] = {}


@contextlib.contextmanager
def _in_environment(values: Mapping[str, str]) -> Iterator[None]:
    with _env_lock:
        for name, value in values.items():
            if _env_users.get(name, 0) == 0:
                _env_saved[name] = os.environ.get(name)
            _env_users[name] = _env_users.get(name, 0) + 1
            os.environ[name] = value
    try:
        yield
    finally:
        with _env_lock:
            for name in values:
                _env_users[name] -= 1
                if _env_users[name] == 0:
                    del _env_users[name]
                    saved = _env_saved.pop(name, None)
                    if saved is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = saved


@contextlib.contextmanager
def provided(values: Mapping[str, str]) -> Iterator[contextvars.Context]:
    """Expose ``values`` for one call; yields the context to run a sync tool in (threads
    do not inherit context variables by themselves)."""
    token = _CURRENT.set(dict(values))
    try:
        with _in_environment(values):
            yield contextvars.copy_context()
    finally:
        _CURRENT.reset(token)
