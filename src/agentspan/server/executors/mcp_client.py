"""Talking to MCP servers with the official SDK (``pip install 'agentspan[mcp]'``).

One short session per operation (list the tools, or make one call): nothing is held open
between calls, so a restarted MCP server or a lost connection costs nothing but the
next handshake. Transports: streamable HTTP, SSE, and stdio for commands the operator
allows by name (``AGENTSPAN_MCP_STDIO_COMMANDS``; a caller's spec only names them).

Resolved header values (secrets) live only in an ``McpEndpoint`` in memory; every error
message that leaves this module is scrubbed of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from mcp import Client
    from mcp.types import RequestParamsMeta

Transport = Literal["streamable_http", "sse", "stdio"]

INSTALL_HINT = "MCP tools need the MCP SDK on the server: pip install 'agentspan[mcp]'"
STDIO_PREFIX = "stdio:"
META_PREFIX = "ai.agentspan/"
"""Our keys in a request's ``_meta`` (MCP asks for a reverse-DNS prefix)."""
MAX_LIST_PAGES = 20
"""A server that paginates its listing forever cannot hang a start."""
MAX_RESULT_CHARS = 1_000_000
"""A result's text beyond this is cut: it goes into the conversation and the database."""


class McpUnavailable(RuntimeError):
    """The ``mcp`` package is not installed on this server."""


class McpFailure(Exception):
    """The MCP server could not be reached or broke the protocol (worth trying again)."""


class McpRefused(Exception):
    """The MCP server answered the request with a protocol error (unknown tool, bad
    arguments, ...): trying the same request again will not help."""


def mcp_available() -> bool:
    """Whether the SDK is installed (found, not imported: importing it takes seconds)."""
    return importlib.util.find_spec("mcp") is not None


def _import_sdk() -> None:
    """Import every SDK module this client uses. Run in a thread: a first import takes
    1-2 s, which on the event loop would stall every request and lease renewal."""
    import httpx2  # noqa: F401
    import mcp.client.sse
    import mcp.client.stdio
    import mcp.client.streamable_http
    import mcp.types  # noqa: F401

    _SDK_IMPORTED.set()


_SDK_IMPORTED = threading.Event()
"""Set once every module is fully imported (a module half-imported by another thread would
block the loop on its import lock)."""


async def _require_mcp() -> None:
    if not mcp_available():
        raise McpUnavailable(INSTALL_HINT)
    if not _SDK_IMPORTED.is_set():
        await asyncio.to_thread(_import_sdk)


@dataclass(frozen=True, slots=True)
class McpEndpoint:
    """Where and how to reach one MCP server, with its headers resolved (in memory only)."""

    url: str
    transport: Transport
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    command: tuple[str, ...] = ()
    """The operator's command line, for ``stdio``."""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Resolved secret values, scrubbed from every error message."""

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def transport_of(server_url: str, transport: str | None) -> Transport:
    """The transport a tool's settings mean (an explicit one wins)."""
    if transport is not None:
        if transport not in ("streamable_http", "sse", "stdio"):
            raise ValueError(f"unknown MCP transport {transport!r}")
        return transport  # type: ignore[return-value]
    if server_url.startswith(STDIO_PREFIX):
        return "stdio"
    if urlsplit(server_url).path.rstrip("/").endswith("/sse"):
        return "sse"
    return "streamable_http"


def stdio_name(server_url: str) -> str:
    """The operator's name of a stdio server (``stdio:NAME``)."""
    return server_url[len(STDIO_PREFIX) :].strip() if server_url.startswith(STDIO_PREFIX) else server_url


@dataclass(frozen=True, slots=True)
class ListedTool:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What a ``tools/call`` answered: the value for the model, and whether the tool
    itself reported an error (``isError``)."""

    output: Any
    is_error: bool


async def list_tools(endpoint: McpEndpoint, timeout: float) -> list[ListedTool]:
    """Every tool the server lists (following pagination, bounded)."""
    listed: list[ListedTool] = []
    async with _session(endpoint, timeout) as client:
        cursor: str | None = None
        for _ in range(MAX_LIST_PAGES):
            page = await client.list_tools(cursor=cursor, cache_mode="refresh")
            listed.extend(
                ListedTool(
                    name=t.name, description=t.description or t.title or "", input_schema=t.input_schema
                )
                for t in page.tools
            )
            cursor = page.next_cursor
            if cursor is None:
                break
    return listed


async def call_tool(
    endpoint: McpEndpoint, name: str, args: dict[str, Any], meta: dict[str, Any], timeout: float
) -> CallOutcome:
    """Call one tool; ``meta`` goes into the request's ``_meta`` (our keys prefixed)."""
    async with _session(endpoint, timeout) as client:
        result = await client.call_tool(
            name,
            args,
            read_timeout_seconds=timeout,
            meta=cast("RequestParamsMeta", {f"{META_PREFIX}{k}": v for k, v in meta.items()}),
        )
    text = _text_of(result.content)
    if result.is_error:
        return CallOutcome(output=text or "the MCP tool reported an error", is_error=True)
    structured = result.structured_content
    if structured is not None and len(json.dumps(structured, default=str)) <= MAX_RESULT_CHARS:
        return CallOutcome(output=structured, is_error=False)
    # No structured result, or one too big to store: the (bounded) text content instead.
    return CallOutcome(output=text, is_error=False)


def _text_of(content: Sequence[Any]) -> str:
    parts: list[str] = []
    for block in content:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(str(block.text))
        elif kind == "resource_link":
            parts.append(f"[resource {block.uri}]")
        elif kind == "resource":
            inner = block.resource
            parts.append(str(getattr(inner, "text", None) or f"[resource {inner.uri}]"))
        else:  # images and audio: the model gets a note, not base64 in its context
            parts.append(f"[{kind} content: {getattr(block, 'mime_type', '') or 'binary'}]")
    text = "\n".join(parts)
    return text if len(text) <= MAX_RESULT_CHARS else text[:MAX_RESULT_CHARS] + "\n[truncated]"


@contextlib.asynccontextmanager
async def _session(endpoint: McpEndpoint, timeout: float) -> AsyncIterator[Client]:
    """A connected client; transport and protocol failures become ``McpFailure`` /
    ``McpRefused`` with messages free of secrets."""
    await _require_mcp()
    from mcp import Client, MCPError
    from mcp.types import Implementation

    try:
        async with contextlib.AsyncExitStack() as stack:
            client = Client(
                await _transport(endpoint, timeout, stack),
                read_timeout_seconds=timeout,
                cache=None,
                client_info=Implementation(name="agentspan", version="1"),
            )
            await stack.enter_async_context(client)
            yield client
    except (McpFailure, McpRefused, McpUnavailable):
        raise
    except Exception as exc:  # noqa: BLE001 - transport errors of many kinds, often grouped
        inner = _innermost(exc)
        if isinstance(inner, MCPError):
            raise McpRefused(endpoint.scrub(_brief(f"MCP error {inner.code}: {inner.message}"))) from None
        if isinstance(inner, TimeoutError):
            raise McpFailure(
                f"the MCP server at {_where(endpoint)} did not answer within {timeout:g}s"
            ) from None
        raise McpFailure(
            endpoint.scrub(_brief(f"MCP server at {_where(endpoint)}: {_describe(inner)}"))
        ) from None


async def _transport(endpoint: McpEndpoint, timeout: float, stack: contextlib.AsyncExitStack) -> Any:
    """The SDK transport for the endpoint (its HTTP client, if any, closed with ``stack``)."""
    if endpoint.transport == "stdio":
        from mcp.client.stdio import StdioServerParameters, stdio_client

        program, *args = endpoint.command
        # The MCP server's stderr is its own business, not our server's log.
        errlog = stack.enter_context(open(os.devnull, "w"))  # noqa: ASYNC230, SIM115 - instant; closed by the stack
        return stdio_client(StdioServerParameters(command=program, args=args), errlog=errlog)
    if endpoint.transport == "sse":
        from mcp.client.sse import sse_client

        return sse_client(
            endpoint.url, headers=dict(endpoint.headers), timeout=timeout, sse_read_timeout=timeout
        )
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    http = await stack.enter_async_context(
        httpx2.AsyncClient(headers=dict(endpoint.headers), timeout=httpx2.Timeout(timeout))
    )
    return streamable_http_client(endpoint.url, http_client=http)


def _where(endpoint: McpEndpoint) -> str:
    return f"stdio:{endpoint.url}" if endpoint.transport == "stdio" else endpoint.url


def _innermost(exc: BaseException) -> BaseException:
    """The error itself: anyio wraps transport errors in exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _brief(text: str, limit: int = 300) -> str:
    """The first line, bounded: the SDK's parse errors quote the answer further down, and
    an answer from a URL that is not an MCP server must not travel back to the caller."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit] + "…"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
