"""The request limits as pure checks (``server/service/limits.py``), the model-string
check, the settings that configure them, and the engine's limit on tool calls per reply.

The same limits over real HTTP are in tests/api/test_limits.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentspan.protocol.api import RespondRequest, StartRequest
from agentspan.server.engine.model import RunTool
from agentspan.server.errors import InvalidModel, LimitExceeded
from agentspan.server.providers import ProviderRegistry
from agentspan.server.service.limits import (
    PRECHECK_BYTES,
    Limits,
    check_answer,
    check_start,
    precheck_start_json,
)
from agentspan.server.settings import Settings

from support.decide import WEATHER, Run, agent, call, commands, events

SMALL = Limits(tools_per_agent=3, agents_per_tree=4, agent_depth=3, prompt_bytes=10, parallel_tool_calls=2)


def _tools(n: int) -> list[dict[str, Any]]:
    return [{"name": f"t{i}", "toolType": "worker"} for i in range(n)]


def _start(spec: dict[str, Any], prompt: str = "hi", **body: Any) -> StartRequest:
    return StartRequest.model_validate({"agentConfig": spec, "prompt": prompt, **body})


def _exceeded(req: StartRequest, limits: Limits = SMALL) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as refused:
        check_start(req, limits)
    return refused.value


def _chain(depth: int) -> dict[str, Any]:
    """Agents nested ``depth`` deep (the root alone: 1)."""
    spec: dict[str, Any] = {"name": f"a{depth}", "model": "offline/basic"}
    for level in range(depth - 1, 0, -1):
        spec = {"name": f"a{level}", "model": "offline/basic", "agents": [spec]}
    return spec


# --- tools, agents, depth -----------------------------------------------------------------


def test_tools_up_to_the_limit_pass_and_one_more_is_refused_naming_the_agent() -> None:
    check_start(_start({"name": "a", "model": "offline/basic", "tools": _tools(3)}), SMALL)
    error = _exceeded(_start({"name": "a", "model": "offline/basic", "tools": _tools(4)}))
    assert (error.limit.name, error.limit.max, error.limit.actual, error.limit.path) == (
        "tools_per_agent",
        3,
        4,
        "a",
    )
    assert error.limit.setting == "AGENTSPAN_MAX_TOOLS_PER_AGENT"
    assert "AGENTSPAN_MAX_TOOLS_PER_AGENT" in error.detail and "4 tools" in error.detail


def test_a_sub_agent_with_too_many_tools_is_named_by_its_path() -> None:
    big = {"name": "big", "model": "offline/basic", "tools": _tools(4)}
    team = {
        "name": "team",
        "model": "offline/basic",
        "agents": [{"name": "ok", "model": "offline/basic"}, big],
    }
    assert _exceeded(_start(team)).limit.path == "team/big"


def test_agents_in_the_tree_are_counted_at_every_depth_router_and_agent_tools_included() -> None:
    leaf = {"name": "leaf", "model": "offline/basic"}
    as_tool = {"name": "helper", "toolType": "agent_tool", "config": {"agentConfig": leaf}}
    members: list[dict[str, Any]] = [{"name": "mid", "model": "offline/basic", "tools": [as_tool]}]
    four = {
        "name": "root",
        "model": "offline/basic",
        "strategy": "router",
        "router": {"name": "chooser", "model": "offline/basic"},
        "agents": members,
    }
    check_start(_start(four), SMALL)  # root, chooser, mid, leaf
    members.append({"name": "fifth", "model": "offline/basic"})
    error = _exceeded(_start(four))
    assert (error.limit.name, error.limit.max, error.limit.actual) == ("agents_per_tree", 4, 5)


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    check_start(_start(_chain(3)), SMALL)
    error = _exceeded(_start(_chain(4)))
    assert (error.limit.name, error.limit.actual, error.limit.path) == ("agent_depth", 4, "a1/a2/a3/a4")


# --- sizes ------------------------------------------------------------------------------


def test_the_prompt_is_measured_in_utf8_bytes_with_its_media() -> None:
    spec = {"name": "a", "model": "offline/basic"}
    check_start(_start(spec, "x" * 10), SMALL)
    error = _exceeded(_start(spec, "é" * 6))  # 6 characters, 12 bytes
    assert (error.limit.name, error.limit.actual, error.limit.path) == ("prompt_bytes", 12, "prompt")
    assert _exceeded(_start(spec, "x" * 6, media=["https://x/y"])).limit.actual == 17


def test_instructions_are_bounded_as_text_or_as_an_object() -> None:
    check_start(_start({"name": "a", "model": "offline/basic", "instructions": "x" * 10}), SMALL)
    error = _exceeded(_start({"name": "a", "model": "offline/basic", "instructions": "x" * 11}))
    assert (error.limit.name, error.limit.path) == ("prompt_bytes", "a")
    as_object = {"name": "a", "model": "offline/basic", "instructions": {"text": "x" * 20}}
    assert _exceeded(_start(as_object)).limit.name == "prompt_bytes"


def test_an_answer_larger_than_a_prompt_may_be_is_refused() -> None:
    check_answer(RespondRequest.model_validate({"approved": True}), Limits(prompt_bytes=100))
    with pytest.raises(LimitExceeded) as refused:
        check_answer(
            RespondRequest.model_validate({"approved": False, "reason": "x" * 100}), Limits(prompt_bytes=100)
        )
    assert (refused.value.limit.name, refused.value.limit.path) == ("prompt_bytes", "answer")
    with pytest.raises(LimitExceeded):  # keys the model does not name are kept, so they count
        check_answer(
            RespondRequest.model_validate({"approved": True, "note": "x" * 100}), Limits(prompt_bytes=100)
        )


def test_the_defaults() -> None:
    assert Limits() == Limits.from_settings(Settings())
    assert Limits() == Limits(
        tools_per_agent=1000,
        agents_per_tree=256,
        agent_depth=16,
        prompt_bytes=1024 * 1024,
        parallel_tool_calls=64,
    )


# --- the count before the full validation -------------------------------------------------


def _body(spec: dict[str, Any], pad: int = PRECHECK_BYTES) -> bytes:
    return json.dumps({"agentConfig": spec, "prompt": "p" * pad}).encode()


def test_a_large_body_is_counted_before_it_is_validated() -> None:
    team = {"name": "team", "agents": [{"name": "big", "tools": _tools(4)}]}
    with pytest.raises(LimitExceeded) as refused:
        precheck_start_json(_body(team), SMALL)
    assert (refused.value.limit.name, refused.value.limit.path) == ("tools_per_agent", "team/big")
    with pytest.raises(LimitExceeded) as refused:
        precheck_start_json(_body(_chain(4)), SMALL)
    assert refused.value.limit.name == "agent_depth"
    wide = {"name": "w", "agents": [{"name": f"s{i}"} for i in range(4)]}
    with pytest.raises(LimitExceeded) as refused:
        precheck_start_json(_body(wide), SMALL)
    assert refused.value.limit.name == "agents_per_tree"


def test_small_or_malformed_bodies_are_left_to_the_full_validation() -> None:
    precheck_start_json(_body({"name": "a", "tools": _tools(4)}, pad=0), SMALL)  # small: not counted
    precheck_start_json(b"{" + b" " * PRECHECK_BYTES, SMALL)
    precheck_start_json(_body({"tools": "not a list"}), SMALL)
    precheck_start_json(_body({"name": "a", "tools": _tools(3)}), SMALL)


# --- model strings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "provider/model-name"),
        ("openai/", "provider/model-name"),
        ("/gpt-4o", "provider/model-name"),
        ("nosuch/model", "unknown model provider 'nosuch'"),
    ],
)
def test_a_model_string_no_provider_understands_is_refused(model: str, expected: str) -> None:
    problem = ProviderRegistry(env={}).model_problem(model)
    assert problem is not None and expected in problem
    sub = {"name": "sub", "model": model}
    with pytest.raises(InvalidModel) as refused:
        check_start(
            _start({"name": "team", "model": "offline/basic", "agents": [sub]}),
            SMALL,
            ProviderRegistry(env={}).model_problem,
        )
    assert "agent 'team/sub'" in refused.value.detail and expected in refused.value.detail


def test_the_judge_model_of_an_llm_guardrail_is_checked_too() -> None:
    check = ProviderRegistry(env={}).model_problem
    judge = {"name": "polite", "guardrailType": "llm", "model": "nosuch/judge", "policy": "be polite"}
    on_agent = {"name": "a", "model": "offline/basic", "guardrails": [judge]}
    on_tool = {
        "name": "a",
        "model": "offline/basic",
        "tools": [{"name": "t", "toolType": "worker", "guardrails": [judge]}],
    }
    for spec in (on_agent, on_tool):
        with pytest.raises(InvalidModel) as refused:
            check_start(_start(spec), SMALL, check)
        assert "agent 'a': guardrail 'polite': unknown model provider 'nosuch'" in refused.value.detail
    check_start(_start({**on_agent, "guardrails": [{**judge, "model": "offline/basic"}]}), SMALL, check)


@pytest.mark.parametrize(
    "model", ["offline/basic", "scripted/model", "openai/gpt-4o", "groq/llama-3", "openrouter/meta/llama"]
)
def test_known_providers_pass_whether_or_not_their_key_is_set(model: str) -> None:
    assert ProviderRegistry(env={}).model_problem(model) is None


# --- settings ---------------------------------------------------------------------------


def test_every_limit_is_read_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "AGENTSPAN_MAX_TOOLS_PER_AGENT": 10_000,
        "AGENTSPAN_MAX_AGENTS_PER_TREE": 7,
        "AGENTSPAN_MAX_AGENT_DEPTH": 5,
        "AGENTSPAN_MAX_PROMPT_BYTES": 2048,
        "AGENTSPAN_MAX_PARALLEL_TOOL_CALLS": 3,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, str(value))
    assert Limits.from_settings(Settings.from_env()) == Limits(10_000, 7, 5, 2048, 3)
    monkeypatch.setenv("AGENTSPAN_MAX_TOOLS_PER_AGENT", "0")
    with pytest.raises(ValueError, match="AGENTSPAN_MAX_TOOLS_PER_AGENT must be at least 1"):
        Settings.from_env()
    monkeypatch.setenv("AGENTSPAN_MAX_TOOLS_PER_AGENT", "many")
    with pytest.raises(ValueError, match="whole number"):
        Settings.from_env()


# --- tool calls per model reply (the engine) ----------------------------------------------


def test_calls_past_the_limit_are_answered_with_an_error_and_the_first_ones_run() -> None:
    run = Run(agent(WEATHER))
    run.start()
    asked = [call("weather", {"city": c}, llm_id=f"id{n}") for n, c in enumerate(["A", "B", "C", "D"])]
    d = run.llm(None, *asked, max_tool_calls=2)
    assert [c.args for c in commands(d, RunTool)] == [{"city": "A"}, {"city": "B"}]
    refused = [e.fields for e in events(d, "tool_result")]
    assert [r["call_id"] for r in refused] == ["c3", "c4"]
    assert all("at most 2 per reply" in r["result"]["error"] for r in refused)
    assert "asked for 4 tool calls" in refused[0]["result"]["error"]
    assert len(events(d, "tool_call")) == 4  # every call the model asked for is recorded
    run.ok("c1", "sunny")
    d = run.ok("c2", "rainy")
    tool_messages = [m for m in d.messages if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["id0", "id1", "id2", "id3"]
    assert tool_messages[0]["content"] == "sunny"
    assert tool_messages[3]["content"].startswith("Error: Not run:")
    assert "AGENTSPAN_MAX_PARALLEL_TOOL_CALLS" in tool_messages[3]["content"]


def test_without_a_limit_or_within_it_every_call_runs() -> None:
    for limit in (None, 3):
        run = Run(agent(WEATHER))
        run.start()
        d = run.llm(None, *(call("weather", {"n": n}) for n in range(3)), max_tool_calls=limit)
        assert len(commands(d, RunTool)) == 3 and not events(d, "tool_result")
