"""A server-side tool's ``${NAME}`` header placeholders must be declared in its
``credentials`` (ValueError, as in the reference), checked when the agent is serialised."""

from __future__ import annotations

import pytest

from agentspan.agents import Agent, ConfigurationError
from agentspan.agents._serialize import serialize_agent
from agentspan.agents._tool import ToolDef


def _http(headers: dict[str, str], credentials: list[str] | None = None) -> ToolDef:
    config = {"url": "https://api.example/x", "method": "GET", "headers": headers}
    return ToolDef(name="issues", tool_type="http", config=config, credentials=credentials or [])


def test_an_undeclared_placeholder_is_a_value_error_naming_it() -> None:
    agent = Agent(name="a", model="offline/basic", tools=[_http({"Authorization": "Bearer ${GH_TOKEN}"})])
    with pytest.raises(ValueError, match=r"GH_TOKEN") as error:
        serialize_agent(agent)
    assert isinstance(error.value, ConfigurationError) and "issues" in str(error.value)


def test_declared_placeholders_serialise_as_names_only() -> None:
    tool = _http({"Authorization": "Bearer ${GH_TOKEN}", "X-Org": "${ORG_ID}-fixed"}, ["GH_TOKEN", "ORG_ID"])
    spec = serialize_agent(Agent(name="a", model="offline/basic", tools=[tool]))
    (wire,) = spec.model_dump(by_alias=True, exclude_none=True)["tools"]
    assert wire["config"]["headers"] == {"Authorization": "Bearer ${GH_TOKEN}", "X-Org": "${ORG_ID}-fixed"}
    assert wire["config"]["credentials"] == ["GH_TOKEN", "ORG_ID"]
