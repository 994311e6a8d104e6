"""Who is calling: the one value authorization is decided on.

The authentication middleware (``api/auth.py``) turns a request's bearer key into a
``Principal`` and puts it into the ASGI scope under ``PRINCIPAL_SCOPE_KEY``; the edge
(``api/edge.py::principal_of``) hands it to every service method unchanged. While the
server does not require keys (a loopback bind with no key and no bootstrap token), every
request is ``ANONYMOUS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

PRINCIPAL_SCOPE_KEY = "agentspan.principal"

Scope = Literal["admin", "operator", "worker"]
"""What a key may do:

- ``worker``: poll for tasks and report them (heartbeat, complete, fail);
- ``operator``: start, read, stream, answer (approve, reject, respond) and control executions;
- ``admin``: everything, including managing keys.
"""
SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)
DEFAULT_SCOPES: Final[tuple[Scope, ...]] = ("operator", "worker")
"""A new key's scopes unless told otherwise: a program that runs agents and serves their
tools needs both."""


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller: a stable ``id`` (an API key's id), the ``name`` recorded as who did
    something (an approval's ``decidedBy``), and what it may do."""

    id: str
    name: str
    scopes: frozenset[str] = frozenset()
    anonymous: bool = False

    def allows(self, scope: Scope) -> bool:
        return "admin" in self.scopes or scope in self.scopes


ANONYMOUS = Principal(id="anonymous", name="anonymous", scopes=frozenset({"admin"}), anonymous=True)
"""Every caller while the server does not require keys: allowed everything."""
