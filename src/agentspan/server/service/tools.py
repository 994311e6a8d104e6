"""Tools expanded at start, before the spec is stored: an ``api`` tool becomes one ``http``
tool per operation of its API (later, an ``mcp`` tool one tool per server tool).

``ExecutionService.start`` calls ``ToolExpander.expand`` once per start request. The
stored spec then holds the expanded tools, so a restarted server, a replica and every
later step use exactly what was discovered: nothing is discovered twice. The expander
also checks every ``http`` tool's URL against the destination rules, so a spec naming
a refused destination is a 400 at start rather than an error at its first call.

To add a discovering tool type: one entry in ``EXPANDERS`` (tool type -> async function
from the tool and the ``Discovery`` to the tools it stands for).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from agentspan.protocol.api import StartRequest
from agentspan.protocol.spec import AgentConfig, AgentTool, HttpTool
from agentspan.protocol.spec.tools import ToolConfig
from agentspan.server.errors import InvalidAgent, ToolDiscoveryFailed, UrlNotAllowed
from agentspan.server.executors.base import NoSecrets, SecretResolver
from agentspan.server.executors.http_tool import placeholders
from agentspan.server.outbound import DestinationRefused, check_credential_names
from agentspan.server.service.api_tools import Discovery, expand_api_tool
from agentspan.server.settings import HttpToolSettings

Expander = Callable[[Any, Discovery], Awaitable[list[Any]]]

EXPANDERS: dict[str, Expander] = {
    "api": expand_api_tool,
}
"""By tool type: what a tool of that type expands to at start."""


class ToolExpander:
    """Expands the discovering tools of an agent tree (``EXPANDERS``) at start."""

    def __init__(
        self, settings: HttpToolSettings | None = None, secrets: Callable[[], SecretResolver] | None = None
    ) -> None:
        """``secrets``: where header credentials of a discovery request come from (read at
        each start, so a resolver installed after construction is used)."""
        self.settings = settings or HttpToolSettings()
        self._secrets = secrets or NoSecrets

    async def expand(self, req: StartRequest) -> StartRequest:
        """``req`` with its agent tree's discovering tools expanded (``req`` itself when
        there are none); ``ToolDiscoveryFailed`` or ``UrlNotAllowed`` otherwise."""
        discovery = Discovery(self.settings, self._secrets())
        try:
            async with asyncio.timeout(self.settings.discovery_seconds):
                spec = await self._agent(req.agent_config, discovery, "")
        except TimeoutError:
            raise ToolDiscoveryFailed(
                f"tool discovery took longer than {self.settings.discovery_seconds}s "
                "(AGENTSPAN_API_TOOL_DISCOVERY_SECONDS)"
            ) from None
        self._check_destinations(spec, discovery, "")
        if spec is req.agent_config:
            return req
        return req.model_copy(update={"agent_config": spec})

    async def _agent(self, spec: AgentConfig, discovery: Discovery, path: str) -> AgentConfig:
        where = f"{path}{spec.name}"
        update: dict[str, Any] = {}
        tools: list[ToolConfig] = []
        for tool in spec.tools:
            expander = EXPANDERS.get(tool.tool_type)
            if expander is not None:
                tools.extend(await expander(tool, discovery))
            elif isinstance(tool, AgentTool) and tool.config.agent_config is not None:
                child = await self._agent(tool.config.agent_config, discovery, f"{where}/")
                config = tool.config.model_copy(update={"agent_config": child})
                tools.append(
                    tool if child is tool.config.agent_config else tool.model_copy(update={"config": config})
                )
            else:
                tools.append(tool)
        if any(a is not b for a, b in zip(tools, spec.tools, strict=False)) or len(tools) != len(spec.tools):
            _check_unique(tools, where)
            update["tools"] = tools
        agents = [await self._agent(a, discovery, f"{where}/") for a in spec.agents]
        if any(a is not b for a, b in zip(agents, spec.agents, strict=True)):
            update["agents"] = agents
        if isinstance(spec.router, AgentConfig):
            router = await self._agent(spec.router, discovery, f"{where}/")
            if router is not spec.router:
                update["router"] = router
        return spec.model_copy(update=update) if update else spec

    def _check_destinations(self, spec: AgentConfig, discovery: Discovery, path: str) -> None:
        where = f"{path}{spec.name}"
        for tool in spec.tools:
            if isinstance(tool, HttpTool):
                try:
                    discovery.policy.check(tool.config.url)
                except DestinationRefused as exc:
                    raise UrlNotAllowed(f"agent '{where}': tool '{tool.name}': {exc}") from None
                try:
                    check_credential_names(placeholders(tool.config.headers or {}))
                except DestinationRefused as exc:
                    raise InvalidAgent(f"agent '{where}': tool '{tool.name}': {exc}") from None
        for nested in spec.nested_agents():
            self._check_destinations(nested, discovery, f"{where}/")


def _check_unique(tools: list[ToolConfig], where: str) -> None:
    seen: set[str] = set()
    for tool in tools:
        if tool.name in seen:
            raise ToolDiscoveryFailed(
                f"agent '{where}': two tools are named '{tool.name}' after discovery "
                "(narrow an api tool with tool_names)"
            )
        seen.add(tool.name)
