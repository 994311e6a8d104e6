"""``ToolExpander``: api tools anywhere in an agent tree are expanded once per start, and
everything else is left as it was (the same objects)."""

from __future__ import annotations

import asyncio
from typing import Any

from agentspan.protocol.api import StartRequest
from agentspan.protocol.spec import AgentConfig, AgentTool, HttpTool
from agentspan.server.service.tools import ToolExpander

from support.http_target import HttpTarget

DOC = {
    "openapi": "3.0.0",
    "info": {"title": "t", "version": "1"},
    "paths": {"/ping": {"get": {"operationId": "ping"}}, "/echo": {"post": {"operationId": "echo"}}},
}


def api(url: str, **config: Any) -> dict[str, Any]:
    return {"name": "api_tools", "toolType": "api", "config": {"url": url, **config}}


def test_api_tools_in_sub_agents_routers_and_agent_tools_are_expanded_with_one_fetch() -> None:
    with HttpTarget() as target:
        target.json_route("GET", "/openapi.json", DOC)
        url = target.url + "/openapi.json"
        child = {"name": "child", "model": "openai/gpt-4o", "tools": [api(url, tool_names=["echo"])]}
        tree = AgentConfig.model_validate(
            {
                "name": "root",
                "model": "openai/gpt-4o",
                "tools": [
                    {"name": "local", "toolType": "worker"},
                    {"name": "helper", "toolType": "agent_tool", "config": {"agentConfig": child}},
                ],
                "agents": [{"name": "sub", "model": "openai/gpt-4o", "tools": [api(url, max_tools=1)]}],
                "strategy": "router",
                "router": {"name": "picker", "model": "openai/gpt-4o", "tools": [api(url)]},
            }
        )
        req = StartRequest(agent_config=tree, prompt="go")
        expanded = asyncio.run(ToolExpander().expand(req)).agent_config
        assert len(target.requests_to("/openapi.json")) == 1  # one fetch per document per start

    assert expanded.tools[0] is tree.tools[0]  # untouched tools stay the same objects
    helper = expanded.tools[1]
    assert isinstance(helper, AgentTool) and helper.config.agent_config is not None
    assert [t.name for t in helper.config.agent_config.tools] == ["echo"]
    assert [t.name for t in expanded.agents[0].tools] == ["ping"]
    assert isinstance(expanded.router, AgentConfig)
    assert [t.name for t in expanded.router.tools] == ["ping", "echo"]
    assert all(isinstance(t, HttpTool) for t in expanded.router.tools)
    # The expanded tree is a valid spec: it survives its own wire form.
    assert AgentConfig.model_validate(expanded.wire()).wire() == expanded.wire()


def test_a_tree_without_discovering_tools_is_returned_as_is() -> None:
    tree = AgentConfig.model_validate({"name": "plain", "model": "openai/gpt-4o", "tools": [{"name": "t"}]})
    req = StartRequest(agent_config=tree, prompt="go")
    assert asyncio.run(ToolExpander().expand(req)) is req
