"""``mcp_tool``: the tools of an MCP server, listed and called by the Agentspan server.

No worker runs these: the server connects to the MCP server when an execution starts,
offers the model the tools it lists (all of them, or ``tool_names``, at most
``max_tools``) and makes each call itself (docs/tools.md).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from agentspan._core.tool import ToolDef

__all__ = ["mcp_tool"]

McpTransport = Literal["streamable_http", "sse", "stdio"]

DEFAULT_MAX_TOOLS = 64
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def mcp_tool(
    server_url: str,
    name: str | None = None,
    description: str | None = None,
    headers: dict[str, str] | None = None,
    tool_names: list[str] | None = None,
    max_tools: int = DEFAULT_MAX_TOOLS,
    credentials: list[Any] | None = None,
    *,
    transport: McpTransport | None = None,
    timeout_seconds: float | None = None,
    retry_count: int | None = None,
    retry_delay_seconds: float | None = None,
    retryable: bool = True,
    approval_required: bool = False,
) -> ToolDef:
    """Offer the model the tools of the MCP server at ``server_url``.

    ``server_url`` is an ``http(s)://`` URL (streamable HTTP; ``transport="sse"`` for the
    older SSE transport, also chosen for a URL whose path ends in ``/sse``) or
    ``stdio:NAME`` for a local server the operator has allowed under that name
    (``AGENTSPAN_MCP_STDIO_COMMANDS``). ``headers`` may hold ``${NAME}`` placeholders,
    resolved on the server at call time from the credentials named in ``credentials``.
    ``retryable=False``: a call whose outcome is unknown (the server died during it) waits
    for a human instead of being made again.
    """
    if not isinstance(server_url, str) or not server_url.strip():
        raise ValueError("mcp_tool() needs a server_url")
    if isinstance(max_tools, bool) or not isinstance(max_tools, int) or max_tools < 1:
        raise ValueError(f"mcp_tool(max_tools=...) must be a whole number of at least 1, got {max_tools!r}")
    given: Any = tool_names  # callers without type checking pass anything
    if given is not None and (isinstance(given, str) or not all(isinstance(n, str) and n for n in given)):
        raise ValueError("mcp_tool(tool_names=...) must be a list of tool names")
    names = [c if isinstance(c, str) else str(c.env_var) for c in credentials or []]
    _check_placeholders(headers, names)
    config: dict[str, Any] = {"server_url": server_url.strip(), "max_tools": max_tools}
    if headers:
        config["headers"] = dict(headers)
    if tool_names is not None:
        config["tool_names"] = list(tool_names)
    if transport is not None:
        config["transport"] = transport
    return ToolDef(
        name=name or "mcp_tools",
        description=description or f"MCP tools from {server_url}",
        input_schema={"type": "object", "properties": {}},
        tool_type="mcp",
        config=config,
        credentials=list(credentials or []),
        timeout_seconds=timeout_seconds,
        retry_count=retry_count,
        retry_delay_seconds=retry_delay_seconds,
        retryable=retryable,
        approval_required=approval_required,
    )


def _check_placeholders(headers: dict[str, str] | None, credentials: list[str]) -> None:
    """Every ``${NAME}`` in the headers must be a declared credential, as in the reference:
    an undeclared one would otherwise only fail when the server makes the call."""
    if not headers:
        return
    used = {m.group(1) for value in headers.values() for m in _PLACEHOLDER.finditer(str(value))}
    missing = sorted(used - set(credentials))
    if missing:
        raise ValueError(
            f"header placeholders {', '.join('${' + n + '}' for n in missing)} are not declared: "
            f"add them to credentials=[...]"
        )
