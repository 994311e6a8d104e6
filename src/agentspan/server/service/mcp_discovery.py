"""MCP discovery at start: an ``mcp_tool`` becomes one tool per tool its server lists.

``expand_mcp(tool, discovery)`` is what a start-time expansion calls for each ``McpTool``
the SDK sent (``config.remote_name`` unset). It checks the tool (transport, the
operator's stdio allow-list, declared header placeholders), lists the server's tools
(cached per server for ``AGENTSPAN_MCP_LIST_TTL_SECONDS``), keeps ``tool_names`` (in
that order) or all of them, cuts at ``max_tools``, and returns one ``McpTool`` per MCP
tool with ``remote_name`` set. The expanded tools are what the execution's stored spec
holds, so a restarted server, or a replica, never lists again for that execution.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from agentspan.protocol.spec import McpSettings, McpTool
from agentspan.protocol.spec.tools import TOOL_NAME_PATTERN
from agentspan.server.errors import InvalidAgent, McpServerNotAllowed, ToolDiscoveryFailed
from agentspan.server.executors.base import MissingSecret, NoSecrets, SecretResolver
from agentspan.server.executors.mcp_client import (
    INSTALL_HINT,
    STDIO_PREFIX,
    ListedTool,
    McpEndpoint,
    McpFailure,
    McpRefused,
    list_tools,
    mcp_available,
    stdio_name,
    transport_of,
)
from agentspan.server.settings import Settings

DEFAULT_MAX_TOOLS = 64
"""The SDK's default ``max_tools``, for specs that leave it out."""
LIST_TIMEOUT_SECONDS = 30.0
CACHE_ENTRIES = 256
MAX_DESCRIPTION_CHARS = 4_000
MAX_SCHEMA_CHARS = 64_000
"""An expanded tool is stored in the spec and sent with every model call: bounded."""
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def placeholders(headers: dict[str, str] | None) -> list[str]:
    """The ``${NAME}`` names used in header values, in order of first use."""
    found: dict[str, None] = {}
    for value in (headers or {}).values():
        for match in _PLACEHOLDER.finditer(value):
            found.setdefault(match.group(1), None)
    return list(found)


def substitute(headers: dict[str, str] | None, values: dict[str, str]) -> dict[str, str]:
    return {k: _PLACEHOLDER.sub(lambda m: values[m.group(1)], v) for k, v in (headers or {}).items()}


async def resolve_endpoint(
    config: McpSettings, settings: Settings, secrets: SecretResolver, execution_id: str
) -> McpEndpoint:
    """The endpoint a tool's settings name, its ``${NAME}`` headers resolved now (raises
    ``MissingSecret`` naming an unset credential, ``McpServerNotAllowed``)."""
    transport = transport_of(config.server_url, config.transport)
    if transport == "stdio":
        name = stdio_name(config.server_url)
        command = settings.mcp_stdio_commands.get(name)
        if command is None:
            raise McpServerNotAllowed(_stdio_refusal(name, settings))
        return McpEndpoint(url=name, transport="stdio", command=command)
    if not settings.mcp_url_allowed(config.server_url):
        raise McpServerNotAllowed(_url_refusal(config.server_url))
    names = placeholders(config.headers)
    values = await secrets.resolve(names, execution_id) if names else {}
    return McpEndpoint(
        url=config.server_url,
        transport=transport,
        headers=substitute(config.headers, values),
        secrets=tuple(values[n] for n in names),
    )


def _stdio_refusal(name: str, settings: Settings) -> str:
    allowed = ", ".join(sorted(settings.mcp_stdio_commands)) or "none"
    return (
        f"MCP server 'stdio:{name}' is not one the operator allows (allowed: {allowed}); "
        "local MCP servers are listed by name in AGENTSPAN_MCP_STDIO_COMMANDS"
    )


def _url_refusal(url: str) -> str:
    return f"MCP server {url!r} does not match AGENTSPAN_MCP_ALLOWED_URLS on this server"


@dataclass(slots=True)
class _Listing:
    expires: float
    tools: list[ListedTool]


class McpDiscovery:
    """Lists MCP servers' tools for starts, with a per-server cache (instance-scoped: one
    per server process). ``secrets`` is the executors' resolver (set when the services
    are wired)."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.secrets: SecretResolver = NoSecrets()
        self._clock = clock
        self._cache: OrderedDict[str, _Listing] = OrderedDict()
        self.lists = 0
        """How many times a server was really asked (for tests and metrics)."""

    def forget(self, endpoint: McpEndpoint) -> None:
        """Drop a server's listing (a call to it failed: the next start lists again)."""
        self._cache.pop(_cache_key(endpoint), None)

    def check(self, tool: McpTool, where: str) -> None:
        """What can be refused before any connection: the SDK, the transport, the stdio
        allow-list, undeclared header placeholders."""
        if not mcp_available():
            raise InvalidAgent(f"agent '{where}': tool '{tool.name}': {INSTALL_HINT}")
        config = tool.config
        transport = transport_of(config.server_url, config.transport)
        if transport == "stdio":
            name = stdio_name(config.server_url)
            if name not in self.settings.mcp_stdio_commands:
                raise McpServerNotAllowed(
                    f"agent '{where}': tool '{tool.name}': {_stdio_refusal(name, self.settings)}"
                )
        elif config.server_url.startswith(STDIO_PREFIX) or not config.server_url.startswith(
            ("http://", "https://")
        ):
            raise InvalidAgent(
                f"agent '{where}': tool '{tool.name}': server_url must be an http(s) URL or stdio:NAME, "
                f"got {config.server_url!r} with transport {transport!r}"
            )
        elif not self.settings.mcp_url_allowed(config.server_url):
            raise McpServerNotAllowed(
                f"agent '{where}': tool '{tool.name}': {_url_refusal(config.server_url)}"
            )
        undeclared = [n for n in placeholders(config.headers) if n not in (config.credentials or [])]
        if undeclared:
            raise InvalidAgent(
                f"agent '{where}': tool '{tool.name}': header placeholders "
                f"{', '.join('${' + n + '}' for n in undeclared)} are not declared in its credentials"
            )

    async def listing(self, endpoint: McpEndpoint) -> list[ListedTool]:
        key = _cache_key(endpoint)
        cached = self._cache.get(key)
        now = self._clock()
        if cached is not None and cached.expires > now:
            self._cache.move_to_end(key)
            return cached.tools
        self.lists += 1
        tools = await list_tools(endpoint, LIST_TIMEOUT_SECONDS)
        self._cache[key] = _Listing(expires=now + self.settings.mcp_list_ttl_seconds, tools=tools)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return tools

    async def expand(self, tool: McpTool, where: str = "") -> list[McpTool]:
        where = where or "?"
        self.check(tool, where)
        config = tool.config
        try:
            endpoint = await resolve_endpoint(config, self.settings, self.secrets, execution_id="")
            listed = await self.listing(endpoint)
        except MissingSecret as exc:  # a configuration to fix, not a server to reach
            raise InvalidAgent(f"agent '{where}': tool '{tool.name}': {exc}") from None
        except (McpFailure, McpRefused) as exc:
            raise ToolDiscoveryFailed(
                f"agent '{where}': tool '{tool.name}': could not list the MCP server's tools: {exc}"
            ) from None
        return [_expanded(tool, item, where) for item in _chosen(tool, listed)]


def _chosen(tool: McpTool, listed: list[ListedTool]) -> list[ListedTool]:
    """``tool_names`` in the order given (names the server does not list are skipped), or
    every listed tool; at most ``max_tools``."""
    if tool.config.tool_names is not None:
        by_name = {t.name: t for t in listed}
        listed = [by_name[n] for n in dict.fromkeys(tool.config.tool_names) if n in by_name]
    return listed[: tool.config.max_tools or DEFAULT_MAX_TOOLS]


def _model_name(remote: str) -> str:
    """The name the model sees: the MCP name when it is a valid tool name, else a cleaned one."""
    if TOOL_NAME_PATTERN.match(remote):
        return remote
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]", "_", remote)[:120] or "tool"
    return f"{cleaned}_{hashlib.sha256(remote.encode()).hexdigest()[:6]}"


def _expanded(tool: McpTool, listed: ListedTool, where: str = "?") -> McpTool:
    """The tool the model is offered for one listed MCP tool (bounded: it is stored with
    the spec and sent with every model call)."""
    schema = listed.input_schema if isinstance(listed.input_schema, dict) else {}
    schema = {"type": "object", "properties": {}, **schema}
    if len(json.dumps(schema, default=str)) > MAX_SCHEMA_CHARS:
        raise ToolDiscoveryFailed(
            f"agent '{where}': MCP tool '{listed.name}' has an input schema over {MAX_SCHEMA_CHARS} "
            "characters; leave it out with tool_names=[...]"
        )
    description = listed.description[:MAX_DESCRIPTION_CHARS]
    config = tool.config.model_copy(
        update={"remote_name": listed.name, "tool_names": None, "max_tools": None}
    )
    return tool.model_copy(
        update={
            "name": _model_name(listed.name),
            "description": description or tool.description,
            "input_schema": schema,
            "config": config,
        }
    )


async def expand_mcp(tool: McpTool, discovery: McpDiscovery, where: str = "") -> list[McpTool]:
    """The tools that replace ``tool`` in a spec (the tool itself when already expanded)."""
    if tool.config.remote_name is not None:
        return [tool]
    return await discovery.expand(tool, where)


def _cache_key(endpoint: McpEndpoint) -> str:
    """Per server and per set of resolved headers (two users' tokens may list different
    tools); the headers only as a hash, so no secret is kept as a key."""
    digest = hashlib.sha256(repr(sorted(endpoint.headers.items())).encode()).hexdigest()
    return f"{endpoint.transport} {endpoint.url} {digest}"
