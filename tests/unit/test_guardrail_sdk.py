"""The SDK's guardrail classes: what they send, and the worker tasks they need."""

from __future__ import annotations

from typing import Any, cast

import pytest

from agentspan.agents import (
    Agent,
    Guardrail,
    GuardrailResult,
    LLMGuardrail,
    OnFail,
    Position,
    RegexGuardrail,
    guardrail,
    tool,
)
from agentspan.agents._serialize import serialize_agent
from agentspan.agents._system_functions import collect_system_functions
from agentspan.agents.testing import ScriptedModel


@guardrail(name="short")
def short(content: str) -> GuardrailResult:
    """At most three words."""
    return GuardrailResult(passed=len(content.split()) <= 3, message="too long")


@guardrail
def explodes(content: str) -> GuardrailResult:
    raise RuntimeError("bad day")


@tool(guardrails=[Guardrail(explodes, position=Position.INPUT, on_fail=OnFail.RAISE)])
def act(x: int) -> int:
    """Act."""
    return x


def test_each_kind_is_sent_with_the_reference_shape() -> None:
    agent = Agent(
        name="a",
        model="openai/gpt-4o",
        tools=[act],
        guardrails=[
            short,  # a bare @guardrail function: Guardrail(short) with the defaults
            RegexGuardrail([r"\d+"], mode="allow", message="numbers only"),
            LLMGuardrail("openai/gpt-4o-mini", "Be kind.", max_tokens=50, on_fail="raise"),
            Guardrail(name="remote", position="input"),
        ],
    )
    wire = serialize_agent(agent).wire()
    assert wire["guardrails"] == [
        {
            "name": "short",
            "position": "output",
            "onFail": "retry",
            "maxRetries": 3,
            "guardrailType": "custom",
            "taskName": "short",
        },
        {
            "name": "regex_guardrail",
            "position": "output",
            "onFail": "retry",
            "maxRetries": 3,
            "guardrailType": "regex",
            "patterns": ["\\d+"],
            "mode": "allow",
            "message": "numbers only",
        },
        {
            "name": "llm_guardrail",
            "position": "output",
            "onFail": "raise",
            "maxRetries": 3,
            "guardrailType": "llm",
            "model": "openai/gpt-4o-mini",
            "policy": "Be kind.",
            "maxTokens": 50,
        },
        {
            "name": "remote",
            "position": "input",
            "onFail": "retry",
            "maxRetries": 3,
            "guardrailType": "external",
            "taskName": "remote",
        },
    ]
    tools = cast(list[dict[str, Any]], wire["tools"])
    assert tools[0]["guardrails"][0]["position"] == "input"


def test_a_scripted_judge_sends_its_verdicts_with_a_scripted_model_string() -> None:
    judge = LLMGuardrail(ScriptedModel(['{"passed": true}']), "Be kind.")
    wire = serialize_agent(Agent(name="a", model="openai/gpt-4o", guardrails=[judge])).wire()
    sent = cast(list[dict[str, Any]], wire["guardrails"])[0]
    assert sent["model"] == "scripted/model"
    assert sent["scriptedTurns"] == [{"text": '{"passed": true}'}]


def test_only_function_guardrails_get_worker_tasks_which_answer_with_a_verdict() -> None:
    agent = Agent(
        name="a",
        model="openai/gpt-4o",
        tools=[act],
        guardrails=[Guardrail(short), RegexGuardrail("x"), Guardrail(name="remote")],
    )
    tasks = collect_system_functions(agent)
    assert set(tasks) == {"short", "explodes"}
    run_short = tasks["short"].func
    assert run_short is not None
    assert run_short(content="one two three four", iteration=0) == {
        "passed": False,
        "message": "too long",
        "fixed_output": None,
        "on_fail": "retry",
        "guardrail_name": "short",
    }
    run_explodes = tasks["explodes"].func
    assert run_explodes is not None
    verdict: dict[str, object] = run_explodes(content={"x": 1}, iteration=0)
    assert verdict["passed"] is False and verdict["message"] == "Guardrail error: RuntimeError: bad day"


def test_a_regex_that_does_not_compile_fails_when_defined() -> None:
    import re

    with pytest.raises(re.error):
        RegexGuardrail("(unclosed")


def test_check_runs_locally_and_an_external_guardrail_cannot() -> None:
    assert Guardrail(short).check("a b").passed
    with pytest.raises(RuntimeError, match="external"):
        Guardrail(name="remote").check("x")
    assert not LLMGuardrail("openai/gpt-4o", "p").check("x").passed
