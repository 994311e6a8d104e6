"""``api_tool`` discovery at start: fetch the API description, make one ``http`` tool per
operation, keep the ones ``tool_names`` names, cap them at ``max_tools``.

The document is fetched through the outbound policy (the same destination rules as the
calls), read up to ``AGENTSPAN_API_TOOL_MAX_DOCUMENT_BYTES``; a URL that answers 404 or
HTML is taken as a base URL and the well-known paths below it are tried. Over
``max_tools``, the first operations in document order are kept (deterministic; name
the ones you need with ``tool_names``). Every failure is a ``ToolDiscoveryFailed``
naming the URL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from agentspan.protocol.spec import ApiTool, HttpTool
from agentspan.protocol.spec.tools import HttpSettings
from agentspan.server.errors import ToolDiscoveryFailed
from agentspan.server.executors.base import MissingSecret, NoSecrets, SecretResolver
from agentspan.server.executors.http_tool import fill_in, placeholders
from agentspan.server.outbound import (
    DestinationRefused,
    Masker,
    OutboundPolicy,
    check_credential_names,
    read_capped,
    refusal_of,
)
from agentspan.server.service.api_documents import DocumentError, Operation, document_format, operations
from agentspan.server.settings import HttpToolSettings

DEFAULT_MAX_TOOLS = 64
"""``max_tools`` when the spec gives none (the SDK's default)."""
WELL_KNOWN_PATHS = (
    "/openapi.json",
    "/swagger.json",
    "/v3/api-docs",
    "/v2/api-docs",
    "/api-docs",
    "/swagger/v1/swagger.json",
    "/api/openapi.json",
)
"""Tried, in order, below a URL that is not itself a description (404 or HTML)."""


@dataclass(slots=True)
class Discovery:
    """What discovery at start may use; one per start request (it caches documents)."""

    settings: HttpToolSettings
    secrets: SecretResolver = field(default_factory=NoSecrets)
    policy: OutboundPolicy = field(init=False)
    documents: dict[tuple[str, str], tuple[Any, str]] = field(default_factory=dict)
    """Documents fetched during this start, by URL and headers (one fetch each)."""

    def __post_init__(self) -> None:
        self.policy = OutboundPolicy(self.settings)


async def expand_api_tool(tool: ApiTool, discovery: Discovery) -> list[HttpTool]:
    """The ``http`` tools ``tool`` stands for (``ToolDiscoveryFailed`` naming the URL)."""
    config = tool.config
    try:
        doc, doc_url = await _document(config.url, dict(config.headers or {}), discovery)
        found = operations(doc, doc_url)
    except (DocumentError, DestinationRefused) as exc:
        raise ToolDiscoveryFailed(f"api tool '{tool.name}': {config.url}: {exc}") from None
    chosen = _select(found, config.tool_names, config.max_tools or DEFAULT_MAX_TOOLS, tool, config.url)
    return [_http_tool(op, tool) for op in chosen]


def _select(
    found: list[Operation], names: list[str] | None, cap: int, tool: ApiTool, url: str
) -> list[Operation]:
    if names is not None:
        by_name = {op.name: op for op in found}
        missing = [n for n in names if n not in by_name]
        if missing:
            known = ", ".join(op.name for op in found[:30]) + (", ..." if len(found) > 30 else "")
            raise ToolDiscoveryFailed(
                f"api tool '{tool.name}': {url}: no operation named {missing}; it has: {known or 'none'}"
            )
        wanted = set(names)
        found = [op for op in found if op.name in wanted]
    if not found:
        raise ToolDiscoveryFailed(f"api tool '{tool.name}': {url}: the description has no operations")
    return found[:cap]


def _http_tool(op: Operation, api: ApiTool) -> HttpTool:
    headers = {**op.headers, **(api.config.headers or {})}
    return HttpTool(
        name=op.name,
        description=op.description,
        input_schema=op.input_schema,
        approval_required=api.approval_required,
        timeout_seconds=api.timeout_seconds,
        retry_count=api.retry_count,
        retry_delay_seconds=api.retry_delay_seconds,
        retryable=api.retryable,
        config=HttpSettings(
            url=op.url,
            method=op.method,
            headers=headers or None,
            accept=["application/json"],
            content_type=op.content_type,
            credentials=api.config.credentials,
            query_params=op.query_params or None,
            header_params=op.header_params or None,
            body_param=op.body_param,
        ),
    )


async def _document(url: str, headers: dict[str, str], discovery: Discovery) -> tuple[Any, str]:
    """The parsed description at ``url`` or, for a base URL, at a well-known path below it."""
    key = (url, json.dumps(headers, sort_keys=True))
    if key in discovery.documents:
        return discovery.documents[key]
    names = placeholders(headers)
    check_credential_names(names)
    try:
        secrets = dict(await discovery.secrets.resolve(names, "")) if names else {}
    except MissingSecret as exc:
        raise DocumentError(str(exc)) from None
    masker = Masker(secrets.values())
    filled = {"Accept": "application/json", **fill_in(headers, secrets)}
    try:
        found = await _fetch(url, filled, discovery)
        if found is None:
            found = await _probe(url, filled, discovery)
    except DocumentError as exc:
        raise DocumentError(masker.text(str(exc))) from None
    discovery.documents[key] = found
    return found


async def _probe(url: str, headers: dict[str, str], discovery: Discovery) -> tuple[Any, str]:
    tried: list[str] = []
    for candidate in _candidates(url):
        tried.append(candidate)
        found = await _fetch(candidate, headers, discovery)
        if found is not None:
            return found
    raise DocumentError("no API description there (not found, or HTML); also tried " + ", ".join(tried))


def _candidates(url: str) -> list[str]:
    parts = urlsplit(url)
    bases = [parts.path.rstrip("/")]
    if bases[0]:
        bases.append("")  # the origin's root too
    out = []
    for base in bases:
        for path in WELL_KNOWN_PATHS:
            out.append(urlunsplit((parts.scheme, parts.netloc, base + path, "", "")))
    return list(dict.fromkeys(out))


async def _fetch(url: str, headers: dict[str, str], discovery: Discovery) -> tuple[Any, str] | None:
    """The parsed description at ``url``; ``None`` when the URL is not one (404, HTML)."""
    destination = discovery.policy.check(url)
    limit = discovery.settings.max_document_bytes
    try:
        timeout = discovery.settings.timeout_seconds
        async with (
            discovery.policy.client(destination, timeout) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            status = response.status_code
            if status == 404 or "html" in response.headers.get("content-type", ""):
                return None
            raw, cut = await read_capped(response, limit)
    except httpx.HTTPError as exc:
        refused = refusal_of(exc)
        raise DocumentError(str(refused) if refused else f"{type(exc).__name__}: {exc}") from None
    if not 200 <= status < 300:
        raise DocumentError(f"HTTP {status} {response.reason_phrase}")
    if cut:
        raise DocumentError(
            f"the description is larger than {limit} bytes (AGENTSPAN_API_TOOL_MAX_DOCUMENT_BYTES)"
        )
    if raw.lstrip()[:1] == b"<":
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        raise DocumentError("not a JSON document (YAML descriptions are not read; serve JSON)") from None
    if document_format(doc) is None:
        return None  # some other JSON (a base URL's index): try the well-known paths
    return doc, url
