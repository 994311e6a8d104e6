"""``Authenticate``: every request names its key, and the key may do what it asks.

The one place the server decides who is calling and whether they may: a request's
``Authorization: Bearer <key>`` becomes a ``Principal`` (``service/keys.py``), put into
the ASGI scope for the services (``api/edge.py::principal_of``), and the route's scope
(``ROUTE_SCOPES``) is checked against it. It wraps both HTTP stacks (``app.py``), so the
fast paths, FastAPI's routes, SSE and anything added later are covered alike.

Keys are required once one was ever created (revoking the last does not reopen the
server), while the bootstrap token ``AGENTSPAN_AUTH_TOKEN`` is set, and always on a
non-loopback bind. Then a missing or unknown key gets ``401
unauthorized`` (with ``WWW-Authenticate: Bearer``) and a key without the route's scope
``403 insufficient_scope``. Otherwise (a loopback server nobody has created a key for)
every request is ``ANONYMOUS``, as a local developer expects.

Deny by default: a path no rule names needs ``admin``, so a new route is never open by
accident; ``PUBLIC`` lists the few that need no key at all.
"""

from __future__ import annotations

from agentspan.protocol.errors import ErrorCode
from agentspan.server.api.errors import send_problem
from agentspan.server.api.fast import ASGIApp, Receive, Scope, Send
from agentspan.server.service.keys import KeyService
from agentspan.server.service.principal import ANONYMOUS, PRINCIPAL_SCOPE_KEY
from agentspan.server.service.principal import Scope as KeyScope
from agentspan.server.settings import Settings

PUBLIC: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/api/openapi.json"),
        ("GET", "/api/docs"),
        ("GET", "/"),
    }
)
"""Routes anyone may call: liveness for load balancers, the API's description and the web
UI's page (they hold no data). ``/health`` says only that the server is up and its version."""

PUBLIC_PREFIXES: tuple[tuple[str, str], ...] = (("GET", "/ui/"),)
"""Path prefixes anyone may ``GET``: the web UI's assets (``api/ui.py``), which hold no
data; the UI reads data through the API with the key it asks the user for."""

ROUTE_SCOPES: tuple[tuple[str, KeyScope], ...] = (
    ("/api/tasks/", "worker"),
    ("/api/agent/", "operator"),
    ("/api/deployments", "operator"),
    ("/api/memory/", "operator"),
    ("/api/keys", "admin"),
    ("/metrics", "operator"),
)
"""Path prefix -> the scope a key needs; the first match wins, no match needs ``admin``."""


_CHALLENGE = ((b"www-authenticate", b'Bearer realm="agentspan"'),)


def required_scope(method: str, path: str) -> KeyScope | None:
    """The scope a request needs; None for a public route."""
    if (method, path) in PUBLIC:
        return None
    if any(method == m and path.startswith(p) for m, p in PUBLIC_PREFIXES):
        return None
    for prefix, scope in ROUTE_SCOPES:
        if path.startswith(prefix):
            return scope
    return "admin"


class Authenticate:
    """See the module doc. ``keys`` is the running server's ``KeyService`` (bound when
    the server starts; a request before that is refused)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.always_required = not settings.loopback_only
        self.keys: KeyService | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        keys = self.keys
        open_server = keys is not None and not keys.required and not self.always_required
        needed = None if open_server else required_scope(scope["method"], scope["path"])
        if needed is None:
            scope[PRINCIPAL_SCOPE_KEY] = ANONYMOUS
            await self.app(scope, receive, send)
            return
        token = _bearer(scope["headers"])
        principal = await keys.authenticate(token) if keys is not None and token else None
        if principal is None:
            detail = (
                "this server requires an API key: send Authorization: Bearer <key> "
                "(the SDK and CLI read AGENTSPAN_API_KEY)"
                if token is None
                else "the API key is unknown or revoked"
            )
            await send_problem(send, ErrorCode.UNAUTHORIZED, detail, _CHALLENGE)
            return
        if not principal.allows(needed):
            detail = f"the key {principal.name!r} lacks the {needed!r} scope this route needs"
            await send_problem(send, ErrorCode.INSUFFICIENT_SCOPE, detail)
            return
        scope[PRINCIPAL_SCOPE_KEY] = principal
        await self.app(scope, receive, send)


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None
