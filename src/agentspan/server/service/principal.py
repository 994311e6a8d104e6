"""Who is calling: the one value authorization will be decided on.

Today the server has no authentication: every request is served as ``ANONYMOUS``, built
in one place at the edge (``api/edge.py::principal_of``). An authentication middleware
(outermost in ``app.py``) will put a ``Principal`` into the ASGI scope under
``PRINCIPAL_SCOPE_KEY``; the edge then hands it to every service method unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

PRINCIPAL_SCOPE_KEY = "agentspan.principal"


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller: a stable ``id`` (an API key's id, a user) and what it may do."""

    id: str
    scopes: frozenset[str] = frozenset()
    anonymous: bool = False


ANONYMOUS = Principal(id="anonymous", scopes=frozenset({"*"}), anonymous=True)
"""Every caller while the server has no authentication: allowed everything, as today."""
