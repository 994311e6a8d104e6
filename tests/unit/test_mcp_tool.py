"""``mcp_tool``: what the SDK sends (the reference's names and wire shape) and what it refuses."""

from __future__ import annotations

import pytest

from agentspan.agents import Agent, mcp_tool
from agentspan.agents._serialize import serialize_agent
from agentspan.protocol.spec import McpTool


def test_mcp_tool_defaults_match_the_reference() -> None:
    definition = mcp_tool(server_url="http://localhost:6767/mcp")
    assert definition.name == "mcp_tools"
    assert definition.description == "MCP tools from http://localhost:6767/mcp"
    assert definition.tool_type == "mcp"
    assert definition.func is None
    assert definition.config == {"server_url": "http://localhost:6767/mcp", "max_tools": 64}


def test_mcp_tool_serialises_to_the_typed_variant_with_snake_case_config() -> None:
    github = mcp_tool(
        "https://mcp.example/mcp",
        name="github",
        headers={"Authorization": "Bearer ${GITHUB_TOKEN}"},
        tool_names=["search_issues"],
        max_tools=5,
        credentials=["GITHUB_TOKEN"],
        retryable=False,
        timeout_seconds=20,
    )
    spec = serialize_agent(Agent(name="assistant", model="openai/gpt-4o", tools=[github]))
    (tool,) = spec.tools
    assert isinstance(tool, McpTool)
    assert tool.retryable is False and tool.timeout_seconds == 20
    wire = tool.model_dump(by_alias=True, exclude_none=True)
    assert wire["toolType"] == "mcp"
    assert wire["config"] == {
        "server_url": "https://mcp.example/mcp",
        "headers": {"Authorization": "Bearer ${GITHUB_TOKEN}"},
        "tool_names": ["search_issues"],
        "max_tools": 5,
        "credentials": ["GITHUB_TOKEN"],
    }


def test_an_undeclared_header_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\$\{TOKEN\}.*credentials"):
        mcp_tool("https://mcp.example/mcp", headers={"Authorization": "Bearer ${TOKEN}"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"server_url": " "}, "server_url"),
        ({"server_url": "http://x/mcp", "max_tools": 0}, "max_tools"),
        ({"server_url": "http://x/mcp", "tool_names": "search"}, "tool_names"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mcp_tool(**kwargs)  # type: ignore[arg-type]


def test_an_unknown_transport_is_refused_by_the_spec() -> None:
    with pytest.raises(ValueError, match="transport"):
        serialize_agent(
            Agent(name="a", model="openai/gpt-4o", tools=[mcp_tool("http://x/mcp", transport="ws")])  # type: ignore[arg-type]
        )
