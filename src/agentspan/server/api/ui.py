"""The web UI: ``/`` and its assets under ``/ui/``, and the offline ``/api/docs`` page.

The UI is hand-written HTML, CSS and JavaScript modules shipped inside the package
(``agentspan/server/ui/``): nothing is built at install time and nothing is fetched from
another site, so it works on a machine without internet. The pages and assets are public
(``api/auth.py::PUBLIC``): they hold no data. The data comes from the API, which asks the
browser for a key when the server requires one.

Assets are served from a fixed table read once at start, so a path can only name a file
that shipped (no traversal, no directory listing). Every answer carries a content security
policy that allows only this server's own scripts, styles and connections: even if some
text slipped into the page as markup, no script of another origin could run.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from agentspan.protocol.errors import ErrorCode
from agentspan.server.errors import NotFound

router = APIRouter(include_in_schema=False)

UI_PREFIX = "/ui/"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
"""``no-cache`` (revalidate, not "never store"): after an upgrade the browser picks up the
new assets at once instead of mixing old and new modules."""


def _load_assets() -> dict[str, bytes]:
    """Every shipped asset by its name under ``/ui/``, read once."""
    root = resources.files("agentspan.server") / "ui"
    assets: dict[str, bytes] = {}
    for entry in root.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in _TYPES:
            assets[entry.name] = entry.read_bytes()
    return assets


ASSETS = _load_assets()


def _asset(name: str) -> Response:
    body = ASSETS.get(name)
    if body is None:
        raise NotFound(f"no UI asset named {name!r}", ErrorCode.NOT_FOUND)
    media_type = _TYPES["." + name.rsplit(".", 1)[-1]]
    return Response(body, media_type=media_type, headers=SECURITY_HEADERS)


@router.get("/")
async def index() -> Response:
    """The UI's single page; it routes by the URL's fragment (``#/executions/ID``)."""
    return _asset("index.html")


@router.get("/api/docs")
async def api_docs() -> Response:
    """The API reference, rendered in the browser from ``/api/openapi.json``."""
    return _asset("docs.html")


@router.get(UI_PREFIX + "{name}")
async def asset(name: str) -> Response:
    return _asset(name)
