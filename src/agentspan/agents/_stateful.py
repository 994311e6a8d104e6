"""Which tools of an agent tree are ``stateful``: their calls for one execution go only
to the process that started it (or re-attached to it with ``resume``), which polls them
with the execution's id as its domain, so state kept in that process stays consistent."""

from __future__ import annotations

import dataclasses

from agentspan._core.tool import ToolDef, get_tool_def
from agentspan.agents._agent import Agent


def stateful_tools(agent: Agent) -> list[ToolDef]:
    """The tools with a local function that the server scopes to one execution: those
    declared ``@tool(stateful=True)`` and every tool of an ``Agent(stateful=True)`` (as
    the spec marks them), across sub-agents, routers and agent tools."""
    found: dict[str, ToolDef] = {}
    visited: set[int] = set()

    def visit(current: Agent) -> None:
        if id(current) in visited:
            return
        visited.add(id(current))
        for item in current.tools:
            if isinstance(item, str):
                continue
            definition = get_tool_def(item)
            child = definition.config.get("agent")
            if definition.tool_type == "agent_tool" and isinstance(child, Agent):
                visit(child)
            if definition.func is not None and (definition.stateful or current.stateful):
                found.setdefault(definition.name, dataclasses.replace(definition, stateful=True))
        for sub in current.agents:
            visit(sub)
        if isinstance(current.router, Agent):
            visit(current.router)

    visit(agent)
    return list(found.values())
