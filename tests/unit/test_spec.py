"""The typed agent spec: tool variants, validated options, versions, and the engine bridge."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from agentspan.agents import Agent
from agentspan.agents._errors import ConfigurationError
from agentspan.agents._serialize import serialize_agent
from agentspan.agents.gate import TextGate
from agentspan.agents.handoff import HandoffCondition, OnCondition
from agentspan.agents.termination import MaxMessageTermination, TextMentionTermination
from agentspan.protocol.spec import (
    SPEC_SCHEMA_VERSION,
    AgentConfig,
    AgentTool,
    CombinedSpec,
    HandoffTool,
    HttpTool,
    McpTool,
    OtherTool,
    RegexGuardrailSpec,
    WorkerTool,
    parse_tool,
)

MODEL = "openai/gpt-4o"


def errors_of(document: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        AgentConfig.model_validate(document)
    return [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]


def test_parse_tool_builds_the_variant_its_type_names() -> None:
    transfer = parse_tool(
        {"name": "transfer_to_b", "tool_type": "transfer", "config": {"target": "b", "blocked": False}}
    )
    assert isinstance(transfer, HandoffTool) and transfer.tool_type == "transfer"
    assert transfer.config.target == "b" and transfer.config.blocked is False
    assert transfer.config.blocked_reason is None
    assert transfer.wire()["config"] == {"target": "b", "blocked": False}
    assert isinstance(parse_tool({"name": "w"}), WorkerTool)
    odd = parse_tool({"name": "q", "toolType": "quantum", "config": {"qubits": 3}})
    assert isinstance(odd, OtherTool) and odd.tool_type == "quantum"
    assert odd.config.model_extra == {"qubits": 3}


def test_tools_are_parsed_by_tool_type() -> None:
    spec = AgentConfig.model_validate(
        {
            "name": "a",
            "tools": [
                {"name": "w"},
                {
                    "name": "h",
                    "toolType": "http",
                    "config": {"url": "https://x.invalid", "contentType": "text/csv"},
                },
                {
                    "name": "m",
                    "toolType": "mcp",
                    "config": {"server_url": "https://m.invalid", "max_tools": 5},
                },
                {
                    "name": "r",
                    "toolType": "agent_tool",
                    "config": {"agentConfig": {"name": "child", "model": MODEL}},
                },
            ],
        }
    )
    worker, http, mcp, child = spec.tools
    assert isinstance(worker, WorkerTool) and isinstance(http, HttpTool) and isinstance(mcp, McpTool)
    assert http.config.content_type == "text/csv" and mcp.config.max_tools == 5
    assert isinstance(child, AgentTool) and child.config.agent_config is not None
    assert child.config.agent_config.name == "child"
    assert mcp.config.wire() == {"server_url": "https://m.invalid", "max_tools": 5}


def test_an_http_tool_needs_a_url() -> None:
    assert errors_of({"name": "a", "tools": [{"name": "h", "toolType": "http", "config": {}}]}) == [
        "tools.0.http.config.url"
    ]


def test_known_options_are_validated_with_their_path() -> None:
    assert errors_of(
        {"name": "a", "guardrails": [{"name": "g", "guardrailType": "regex", "onFail": "x"}]}
    ) == [
        "guardrails.0.regex.onFail",
        "guardrails.0.regex.patterns",
    ]
    assert errors_of({"name": "a", "termination": {"type": "max_message", "maxMessages": 0}}) == [
        "termination.max_message.maxMessages"
    ]
    assert errors_of({"name": "a", "handoffs": [{"type": "on_condition", "target": "b"}]}) == [
        "handoffs.0.on_condition.taskName"
    ]


def test_unknown_keys_pass_through() -> None:
    spec = AgentConfig.model_validate(
        {"name": "a", "futureKey": {"x": 1}, "memory": {"maxMessages": 3, "new": 1}}
    )
    assert spec.wire()["futureKey"] == {"x": 1} and spec.wire()["memory"] == {"maxMessages": 3, "new": 1}
    assert spec.model_extra == {"futureKey": {"x": 1}}


def test_a_newer_spec_is_refused_and_an_older_one_upgraded() -> None:
    with pytest.raises(ValidationError, match="newer than this server supports"):
        AgentConfig.model_validate({"name": "a", "schemaVersion": SPEC_SCHEMA_VERSION + 1})
    assert AgentConfig.model_validate({"name": "a", "schemaVersion": 1}).schema_version == SPEC_SCHEMA_VERSION
    assert AgentConfig(name="a").wire()["schemaVersion"] == SPEC_SCHEMA_VERSION


def test_worker_task_names_cover_functions_and_nested_agents() -> None:
    router = Agent(name="chooser", model=MODEL)
    child = Agent(name="child", model=MODEL, stop_when=lambda c: True)
    team = Agent(
        name="team",
        model=MODEL,
        agents=[child, Agent(name="other", model=MODEL, gate=lambda c: True)],
        strategy="swarm",
        handoffs=[OnCondition(target="other", condition=lambda c: True)],
    )
    routed = Agent(name="routed", model=MODEL, agents=[team], strategy="router", router=router)
    assert serialize_agent(routed).worker_task_names() == [
        "team_handoff_other",
        "child_stop_when",
        "other_gate",
    ]


def test_sdk_options_describe_themselves() -> None:
    combined = (TextMentionTermination("DONE") | MaxMessageTermination(5)).to_spec()
    assert isinstance(combined, CombinedSpec) and combined.type == "or"
    assert TextGate("stop").to_config() == {"type": "text_contains", "text": "stop", "caseSensitive": True}
    with pytest.raises(ConfigurationError, match="cannot be evaluated by the server"):
        HandoffCondition(target="b").to_spec("a")


def test_guardrail_objects_without_a_name_get_a_helpful_error() -> None:
    with pytest.raises(ConfigurationError, match="it needs a 'name'") as caught:
        serialize_agent(Agent(name="a", model=MODEL, guardrails=[object()]))
    assert "Guardrail object" not in str(caught.value)


def test_duck_typed_termination_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="termination must be a TerminationCondition"):
        serialize_agent(Agent(name="a", model=MODEL, termination=object()))


def test_a_guardrail_spec_keeps_unset_defaults_off_the_wire() -> None:
    spec = RegexGuardrailSpec.model_validate({"name": "g", "guardrailType": "regex", "patterns": ["x"]})
    assert spec.wire() == {"name": "g", "guardrailType": "regex", "patterns": ["x"]}
