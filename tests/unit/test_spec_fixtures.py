"""Version-1 specs, as today's SDK wrote them and the database stores them, still load.

The fixtures in tests/fixtures/specs/v1/ were produced by the SDK of schema version 1 (one
per strategy and option kind). Each must upgrade, validate, and come back out as the same
document apart from its version; the engine must read the same values as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentspan.protocol.spec import SPEC_SCHEMA_VERSION, AgentConfig, upgrade

FIXTURES = sorted((Path(__file__).parent.parent / "fixtures" / "specs" / "v1").glob("*.json"))


def without_version(document: Any) -> Any:
    if isinstance(document, dict):
        return {k: without_version(v) for k, v in document.items() if k != "schemaVersion"}
    if isinstance(document, list):
        return [without_version(v) for v in document]
    return document


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def test_there_is_a_fixture_per_strategy_and_option() -> None:
    names = {p.stem for p in FIXTURES}
    assert {"guardrails", "termination", "swarm", "router_agent", "router_fn", "sequential_gate"} <= names
    assert len(FIXTURES) >= 15


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_a_v1_spec_upgrades_and_round_trips(path: Path) -> None:
    stored = load(path)
    assert stored["schemaVersion"] == 1
    spec = AgentConfig.model_validate_json(path.read_text())
    assert spec.schema_version == SPEC_SCHEMA_VERSION
    assert without_version(spec.wire()) == without_version(stored)
    again = AgentConfig.model_validate_json(spec.canonical_json())
    assert again.canonical_json() == spec.canonical_json()
    assert again.content_hash() == spec.content_hash()


def typed_field(spec: AgentConfig, key: str) -> Any:
    """The wire form of the typed field the engine reads for wire key ``key``."""
    (field,) = [name for name, info in AgentConfig.model_fields.items() if (info.alias or name) == key]
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True, include={field}).get(key)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_the_engine_reads_what_it_read_from_v1(path: Path) -> None:
    stored = load(path)
    spec = AgentConfig.model_validate(stored)
    for key in ("router", "guardrails", "termination", "handoffs", "gate", "memory", "callbacks", "stopWhen"):
        assert key not in (spec.model_extra or {}), f"{key} is not a typed field"
        assert without_version(typed_field(spec, key)) == without_version(stored.get(key)), key


def test_unknown_v1_conditions_are_dropped_with_the_same_meaning() -> None:
    unknown = {"type": "unknown"}
    text = {"type": "text_mention", "text": "DONE"}
    document = {
        "name": "a",
        "schemaVersion": 1,
        "termination": {"type": "or", "conditions": [text, {"type": "and", "conditions": [text, unknown]}]},
        "handoffs": [
            {"target": "b", "type": "unknown"},
            {"target": "b", "type": "on_text_mention", "text": "x"},
        ],
    }
    upgraded = upgrade(document)
    assert upgraded["termination"] == {"type": "or", "conditions": [text]}
    assert upgraded["handoffs"] == [{"target": "b", "type": "on_text_mention", "text": "x"}]
    assert document["schemaVersion"] == 1, "the input is not modified"
    assert "termination" not in upgrade({"name": "a", "termination": unknown})


def test_a_document_without_a_version_is_read_as_version_1() -> None:
    spec = AgentConfig.model_validate_json('{"name": "a", "termination": {"type": "unknown"}}')
    assert spec.schema_version == SPEC_SCHEMA_VERSION and spec.termination is None


def test_nested_v1_agents_upgrade_inside_a_current_request() -> None:
    unknown = {"type": "unknown"}
    child = {"name": "b", "schemaVersion": 1, "handoffs": [{"target": "a", **unknown}]}
    spec = AgentConfig.model_validate({"name": "a", "agents": [child]})
    assert spec.agents[0].handoffs == [] and spec.agents[0].schema_version == SPEC_SCHEMA_VERSION


def test_a_current_document_keeps_unknown_conditions_refused() -> None:
    with pytest.raises(ValueError, match="termination"):
        AgentConfig.model_validate(
            {"name": "a", "schemaVersion": SPEC_SCHEMA_VERSION, "termination": {"type": "unknown"}}
        )


@pytest.mark.parametrize("version", ["2", 2.0, True])
def test_a_version_that_is_not_an_integer_is_refused(version: Any) -> None:
    with pytest.raises(ValueError, match="schemaVersion must be an integer"):
        AgentConfig.model_validate({"name": "a", "schemaVersion": version})
