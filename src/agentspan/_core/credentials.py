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
import dataclasses
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
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


@dataclasses.dataclass(frozen=True)
class CredentialFile:
    """A credential a tool needs as a file (a key file, a cloud SDK's config): during the
    call its value is written, readable by the owner only (0600), at ``relative_path``
    under a private directory made for the call (the call's ``HOME`` when the tool is
    ``isolated``), and the environment variable ``env_var`` holds the file's path.
    ``get_credential(env_var)`` still returns the value. The stored credential is the one
    named ``env_var``. ``content`` is accepted for the reference's signature and not used:
    the value always comes from the server's store."""

    env_var: str
    relative_path: str
    content: str | None = None

    def __post_init__(self) -> None:
        path = PurePosixPath(self.relative_path)
        if not self.relative_path or path.is_absolute() or ".." in path.parts:
            raise ConfigurationError(
                f"CredentialFile({self.env_var!r}): relative_path must be a path inside the call's "
                f"directory, got {self.relative_path!r}"
            )


def credential_files(declared: list[Any]) -> dict[str, str]:
    """``env_var -> relative_path`` of the ``CredentialFile`` entries."""
    return {c.env_var: c.relative_path for c in declared if isinstance(c, CredentialFile)}


def write_files(values: Mapping[str, str], files: Mapping[str, str], directory: str) -> dict[str, str]:
    """Write each file credential under ``directory`` (0600, in 0700 folders); the
    environment to expose: the file's path for those, the value for the others."""
    exposed = dict(values)
    for name, relative in files.items():
        if name not in values:
            continue
        path = os.path.join(directory, relative)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(values[name])
        exposed[name] = path
    return exposed


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
def provided(
    values: Mapping[str, str], files: Mapping[str, str] | None = None
) -> Iterator[contextvars.Context]:
    """Expose ``values`` for one call; yields the context to run a sync tool in (threads
    do not inherit context variables by themselves). ``files``: the ``CredentialFile``
    names, written to a private directory removed when the call returns."""
    token = _CURRENT.set(dict(values))
    wanted = {name: path for name, path in (files or {}).items() if name in values}
    directory = tempfile.mkdtemp(prefix="agentspan-credentials-") if wanted else None
    try:
        exposed = write_files(values, wanted, directory) if directory else values
        with _in_environment(exposed):
            yield contextvars.copy_context()
    finally:
        _CURRENT.reset(token)
        if directory:
            shutil.rmtree(directory, ignore_errors=True)
