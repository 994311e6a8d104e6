"""Guardrails end to end: the SDK's classes, a real server, a real worker, and the fake
OpenAI endpoint as the model (and as an LLM guardrail's judge)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agentspan.agents import (
    Agent,
    AgentRuntime,
    Guardrail,
    GuardrailResult,
    LLMGuardrail,
    OnFail,
    RegexGuardrail,
    guardrail,
    tool,
)
from agentspan.agents.testing import ScriptedModel

from fakes.openai_server import FakeOpenAI

SSN = "123-45-6789"


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


@guardrail
def word_limit(content: str) -> GuardrailResult:
    """Keep responses concise."""
    if len(content.split()) > 5:
        return GuardrailResult(passed=False, message="Too long. Be more concise.")
    return GuardrailResult(passed=True)


@tool
def lookup(query: str) -> str:
    """Look something up."""
    return f"found {query}"


def test_a_retry_asks_the_model_again_with_the_message(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    long_answer = "quantum computing uses qubits that are in superposition and entangled"
    fake.script(FakeOpenAI.text(long_answer), FakeOpenAI.text("Qubits compute in superposition."))
    agent = Agent(
        name="concise_bot", model="openai/gpt-4o", guardrails=[Guardrail(word_limit, on_fail=OnFail.RETRY)]
    )
    result = runtime.run(agent, "Explain quantum computing.")
    assert result.status == "COMPLETED", result.error
    assert result.output == "Qubits compute in superposition."
    assert fake.request_count == 2, "the model is asked again after the failed check"
    again = fake.requests[1]["messages"]
    assert again[-2] == {"role": "assistant", "content": long_answer}
    assert again[-1]["role"] == "user" and "Too long. Be more concise." in again[-1]["content"]
    checks = [(e.type, e.guardrail_name, e.content) for e in result.events if e.type.startswith("guardrail")]
    assert checks == [
        ("guardrail_fail", "word_limit", "Too long. Be more concise."),
        ("guardrail_pass", "word_limit", None),
    ]
    assert result.guardrails == [
        {
            "name": "word_limit",
            "position": "output",
            "passed": False,
            "message": "Too long. Be more concise.",
        },
        {"name": "word_limit", "position": "output", "passed": True, "message": ""},
    ]


def test_a_turn_with_tool_calls_is_not_checked(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("lookup", {"query": SSN})], content=f"looking up {SSN}"),
        FakeOpenAI.text("Nothing to share."),
    )
    agent = Agent(
        name="tools_bot",
        model="openai/gpt-4o",
        tools=[lookup],
        guardrails=[RegexGuardrail([r"\d{3}-\d{2}-\d{4}"], name="no_ssn", on_fail="raise")],
    )
    result = runtime.run(agent, "look it up")
    assert result.status == "COMPLETED" and result.output == "Nothing to share."
    assert [g["passed"] for g in result.guardrails] == [True]


def test_raise_fails_the_run_and_the_blocked_text_never_reaches_the_result(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(FakeOpenAI.text(f"The SSN is {SSN}."))
    rail = RegexGuardrail(patterns=[r"\b\d{3}-\d{2}-\d{4}\b"], name="no_ssn", on_fail="raise")
    agent = Agent(name="support_bot", model="openai/gpt-4o", guardrails=[rail])
    result = runtime.run(agent, "What is my SSN?")
    assert result.status == "FAILED" and result.finish_reason == "guardrail"
    assert result.error is not None and "no_ssn" in result.error
    assert result.output is None
    assert SSN not in json.dumps([result.output, result.error])


def test_retries_run_out_then_the_run_fails(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(*[FakeOpenAI.text(f"SSN {SSN}") for _ in range(3)])
    rail = RegexGuardrail(patterns=[r"\d{3}-\d{2}-\d{4}"], name="no_ssn", max_retries=2)
    result = runtime.run(Agent(name="leaky", model="openai/gpt-4o", guardrails=[rail]), "ssn?")
    assert fake.request_count == 3
    assert result.status == "FAILED" and result.error is not None
    assert result.error.startswith("Guardrail 'no_ssn' failed after 2 retries")
    assert result.output is None


def test_fix_replaces_the_output(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    def redact(content: str) -> GuardrailResult:
        return GuardrailResult(passed=False, message="redacted", fixed_output=content.replace(SSN, "[SSN]"))

    fake.script(FakeOpenAI.text(f"It is {SSN}."))
    agent = Agent(name="fixer", model="openai/gpt-4o", guardrails=[Guardrail(redact, on_fail="fix")])
    result = runtime.run(agent, "ssn?")
    assert result.status == "COMPLETED" and result.output == "It is [SSN]."


def test_an_llm_guardrail_is_judged_by_the_server_with_its_usage_recorded(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(
        FakeOpenAI.text("You are an idiot."),
        FakeOpenAI.text('{"passed": false, "reason": "insulting"}'),
        FakeOpenAI.text("Happy to help."),
        FakeOpenAI.text('{"passed": true, "reason": "polite"}'),
    )
    judge = LLMGuardrail(model="openai/gpt-4o-mini", policy="Be polite.", name="polite")
    result = runtime.run(Agent(name="polite_bot", model="openai/gpt-4o", guardrails=[judge]), "hi")
    assert result.status == "COMPLETED" and result.output == "Happy to help."
    judged = fake.requests[1]
    assert judged["model"] == "gpt-4o-mini" and "Be polite." in json.dumps(judged["messages"])
    assert "You are an idiot." in json.dumps(judged["messages"])
    assert result.token_usage is not None and result.token_usage.total_tokens == 4 * 15
    purposes = [(e.data or {}).get("purpose") for e in result.events if e.type == "llm_call"]
    assert purposes == [None, "guardrail", None, "guardrail"]


def test_a_scripted_judge_gives_its_verdicts_in_order(runtime: AgentRuntime) -> None:
    judge = LLMGuardrail(
        ScriptedModel(['{"passed": false, "reason": "insulting"}', '{"passed": true, "reason": "polite"}']),
        policy="Be polite.",
        name="scripted_polite",
    )
    model = ScriptedModel(["You are an idiot.", "Happy to help."])
    result = runtime.run(Agent(name="scripted_polite_bot", model=model, guardrails=[judge]), "hi")
    assert result.status == "COMPLETED" and result.output == "Happy to help."
    assert [(v["passed"], v["message"]) for v in result.guardrails] == [
        (False, "insulting"),
        (True, ""),  # a pass keeps no message
    ]
    purposes = [(e.data or {}).get("purpose") for e in result.events if e.type == "llm_call"]
    assert purposes == [None, "guardrail", None, "guardrail"]


def test_a_failing_input_guardrail_stops_the_run_before_any_model_call(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    rail = RegexGuardrail([r"\d{3}-\d{2}-\d{4}"], name="no_ssn_in", position="input", on_fail="raise")
    result = runtime.run(Agent(name="guarded_in", model="openai/gpt-4o", guardrails=[rail]), f"mine is {SSN}")
    assert fake.request_count == 0
    assert result.status == "FAILED" and result.error is not None
    assert result.error.startswith("Input guardrail 'no_ssn_in' failed")
    assert [e.type for e in result.events] == ["guardrail_fail", "error"]


def test_a_human_guardrail_waits_and_an_edit_becomes_the_output(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(FakeOpenAI.text(f"It is {SSN}."))
    rail = RegexGuardrail([r"\d{3}-\d{2}-\d{4}"], name="no_ssn", on_fail="human", message="Contains an SSN.")
    handle = runtime.start(Agent(name="reviewed", model="openai/gpt-4o", guardrails=[rail]), "ssn?")
    status = _waiting(handle)
    assert status.pending_tool is not None
    assert status.pending_tool["kind"] == "guardrail" and status.pending_tool["tool_name"] == "no_ssn"
    assert status.pending_tool["response_schema"]["required"] == ["approved"]
    assert status.waiting_reason is not None and "no_ssn" in status.waiting_reason
    assert "Contains an SSN." in status.waiting_reason
    handle.respond({"approved": True, "edited_output": "It is [redacted]."})
    result = handle.join(timeout=10)
    assert result.status == "COMPLETED" and result.output == "It is [redacted]."
    with pytest.raises(Exception, match="409|already ended|not waiting"):
        handle.approve()


def test_a_human_rejection_fails_the_run(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.text(f"It is {SSN}."))
    rail = RegexGuardrail([r"\d{3}-\d{2}-\d{4}"], name="no_ssn", on_fail="human")
    handle = runtime.start(Agent(name="reviewed2", model="openai/gpt-4o", guardrails=[rail]), "ssn?")
    _waiting(handle)
    handle.reject("leaks data")
    result = handle.join(timeout=10)
    assert result.status == "FAILED" and result.finish_reason == "rejected"
    assert result.output is None and "leaks data" in (result.error or "")


def _waiting(handle: Any) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = handle.get_status()
        if status.is_waiting:
            return status
        time.sleep(0.05)
    raise AssertionError("the run never waited")


def test_guardrail_options_are_validated_as_the_reference_does() -> None:
    with pytest.raises(ValueError, match="position"):
        Guardrail(word_limit, position="middle")
    with pytest.raises(ValueError, match="on_fail"):
        Guardrail(word_limit, on_fail="explode")
    with pytest.raises(ValueError, match="human"):
        Guardrail(word_limit, position="input", on_fail="human")
    with pytest.raises(ValueError, match="max_retries"):
        Guardrail(word_limit, max_retries=0)
    with pytest.raises(ValueError):
        Guardrail()
    with pytest.raises(ValueError, match="mode"):
        RegexGuardrail("x", mode="maybe")
    assert Guardrail(word_limit).name == "word_limit"
    assert Guardrail(name="remote_check").external
    assert RegexGuardrail("x").name == "regex_guardrail" and LLMGuardrail("m/x", "p").name == "llm_guardrail"
    assert not RegexGuardrail("\\d", mode="allow").check("abc").passed
    assert RegexGuardrail("\\d").check("abc").passed


def no_secrets(content: str) -> GuardrailResult:
    if "secret" in content:
        return GuardrailResult(passed=False, message="no secrets", fixed_output='{"query": "public"}')
    return GuardrailResult(passed=True)


ran_with: list[str] = []


@tool(guardrails=[Guardrail(no_secrets, position="input", on_fail="fix")])
def search(query: str) -> str:
    """Search."""
    ran_with.append(query)
    return f"results for {query}"


@tool(guardrails=[RegexGuardrail(r"\d{3}-\d{2}-\d{4}", name="no_ssn_out")])
def profile(user: str) -> dict[str, str]:
    """A user's profile."""
    return {"user": user, "ssn": SSN}


def test_tool_guardrails_check_arguments_before_the_body_and_results_before_the_model(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("search", {"query": "the secret plan"}), ("profile", {"user": "ann"})]),
        FakeOpenAI.text("done"),
    )
    agent = Agent(name="tool_guarded", model="openai/gpt-4o", tools=[search, profile])
    result = runtime.run(agent, "go")
    assert result.status == "COMPLETED" and result.output == "done"
    assert ran_with == ["public"], "the body ran once, with the fixed arguments"
    search_result, profile_result = [
        m["content"] for m in fake.requests[1]["messages"] if m["role"] == "tool"
    ]
    assert search_result == "results for public"
    assert "Output blocked by guardrail 'no_ssn_out'" in profile_result and SSN not in profile_result
    checks = {(g["name"], g["position"], g["passed"]) for g in result.guardrails}
    assert checks == {("no_secrets", "tool_input", False), ("no_ssn_out", "tool_output", False)}


def test_a_judge_call_is_charged_to_the_budget(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.text("You are an idiot."),
        FakeOpenAI.text('{"passed": false, "reason": "insulting"}'),
        FakeOpenAI.text("Happy to help."),
    )
    judge = LLMGuardrail(model="openai/gpt-4o-mini", policy="Be polite.", name="polite")
    agent = Agent(name="budget_bot", model="openai/gpt-4o", guardrails=[judge])
    # 15 tokens for the answer alone stay under 25; with the judge's 15 the budget is spent.
    result = runtime.run(agent, "hi", max_tokens_total=25)
    assert result.finish_reason == "budget_exceeded"
    assert fake.request_count == 2, "no model call after the judge used up the budget"
    assert result.output is None
