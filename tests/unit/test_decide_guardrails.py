"""Agent guardrails in the engine (engine/guardrails.py): which replies are checked, what
each failure mode does, and that every verdict is a step of its own."""

from __future__ import annotations

from typing import Any

import pytest

from agentspan.server.engine.guardrails import LLM_JUDGE
from agentspan.server.engine.model import CallLlm, Cancel, RunTool, Stop

from support.decide import (
    LOOKUP,
    Run,
    agent,
    approve,
    assert_finished,
    call,
    commands,
    events,
    reject,
    tool,
)

SSN = "123-45-6789"


def regex(name: str = "no_ssn", **kwargs: Any) -> dict[str, Any]:
    return {"name": name, "guardrailType": "regex", "patterns": [r"\b\d{3}-\d{2}-\d{4}\b"], **kwargs}


def custom(name: str = "word_limit", **kwargs: Any) -> dict[str, Any]:
    return {"name": name, "guardrailType": "custom", "taskName": name, **kwargs}


def guarded(*rails: dict[str, Any], **kwargs: Any) -> Run:
    run = Run(agent(LOOKUP, guardrails=list(rails), **kwargs))
    run.start()
    return run


def verdict(passed: bool, message: str = "", **more: Any) -> dict[str, Any]:
    return {"passed": passed, "message": message, **more}


def test_a_passing_regex_guardrail_lets_the_answer_through_with_a_pass_event() -> None:
    run = guarded(regex())
    d = run.llm("All good.")
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "All good."
    (passed,) = events(d, "guardrail_pass")
    assert passed.fields == {"guardrail_name": "no_ssn", "data": {"position": "output"}}


def test_a_turn_that_only_calls_tools_is_never_checked() -> None:
    run = guarded(regex())
    d = run.llm("my ssn is 123-45-6789", call("lookup"))
    assert not events(d, "guardrail_fail") and not events(d, "guardrail_pass")
    assert commands(d, RunTool)[0].name == "lookup"


def test_retry_sends_the_message_back_and_asks_again_then_fails_after_max_retries() -> None:
    run = guarded(regex(message="No SSNs.", maxRetries=2))
    for attempt in (1, 2):
        d = run.llm("it is 123-45-6789")
        (failed,) = events(d, "guardrail_fail")
        assert failed.fields["content"] == "No SSNs." and failed.fields["data"]["onFail"] == "retry"
        assert commands(d, CallLlm), f"the model is asked again after failure {attempt}"
        assert d.messages[-1] == {"role": "user", "content": "No SSNs. Please answer again."}
        assert d.state.last_text is None
    d = run.llm("still 123-45-6789")
    assert_finished(d, "FAILED", "guardrail")
    assert d.state.error == "Guardrail 'no_ssn' failed after 2 retries: No SSNs."
    assert d.state.output is None


def test_a_retry_that_then_passes_completes_with_the_clean_answer() -> None:
    run = guarded(regex())
    run.llm("it is 123-45-6789")
    d = run.llm("I cannot share that.")
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "I cannot share that."


def test_raise_fails_the_run_naming_the_guardrail() -> None:
    run = guarded(regex(onFail="raise"))
    d = run.llm("123-45-6789")
    assert_finished(d, "FAILED", "guardrail")
    assert "no_ssn" in (d.state.error or "") and d.state.output is None


def test_allow_mode_fails_when_no_pattern_matches() -> None:
    run = guarded(regex("json_only", patterns=[r"^\{"], mode="allow", onFail="raise"))
    d = run.llm("plain text")
    assert d.state.error == "Guardrail 'json_only' failed: Content did not match any allowed pattern."


def test_a_custom_guardrail_is_a_worker_task_and_fix_replaces_the_output() -> None:
    run = guarded(custom(onFail="fix"), regex())
    d = run.llm("a very long answer")
    (task,) = commands(d, RunTool)
    assert task.name == "word_limit" and task.executor == "worker"
    assert task.args == {"content": "a very long answer", "iteration": 0}
    assert not d.state.terminal and d.state.last_text is None
    d = run.ok(task.call_id, verdict(False, "too long", fixed_output="short"))
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "short"
    assert [e.type for e in d.events if e.type.startswith("guardrail")] == [
        "guardrail_fail",
        "guardrail_pass",
    ]


def test_fix_without_a_fixed_output_is_a_raise() -> None:
    run = guarded(custom(onFail="fix"))
    (task,) = commands(run.llm("x"), RunTool)
    d = run.ok(task.call_id, verdict(False, "bad"))
    assert_finished(d, "FAILED", "guardrail")


def test_a_failing_guardrail_function_is_retried_then_fails_closed() -> None:
    run = guarded(custom(onFail="raise"))
    (task,) = commands(run.llm("x"), RunTool)
    d = run.fail(task.call_id, "worker crashed")
    (again,) = commands(d, RunTool)
    assert again.call_id == task.call_id and again.attempt == 2, "same call id: same idempotency key"
    d = run.fail(task.call_id, "worker crashed", retryable=False)
    assert_finished(d, "FAILED", "guardrail")
    assert d.state.error == "Guardrail 'word_limit' failed: Guardrail error: worker crashed"


def test_a_lost_guardrail_task_runs_again_at_once_with_the_same_call_id() -> None:
    run = guarded(custom())
    (task,) = commands(run.llm("x"), RunTool)
    d = run.fail(task.call_id, "lease expired", lease_lost=True)
    (again,) = commands(d, RunTool)
    assert (again.call_id, again.delay_seconds, again.attempt) == (task.call_id, 0.0, 2)


def test_a_late_verdict_after_the_run_ended_changes_nothing() -> None:
    run = guarded(custom())
    (task,) = commands(run.llm("x"), RunTool)
    run.apply(Cancel())
    d = run.ok(task.call_id, verdict(True))
    assert d.events == [] and d.state.status == "TERMINATED"


def test_an_llm_guardrail_is_a_server_judge_call_whose_usage_is_recorded() -> None:
    rail = {"name": "polite", "guardrailType": "llm", "model": "openai/gpt-4o-mini", "policy": "Be polite."}
    run = guarded(rail)
    (task,) = commands(run.llm("rude words"), RunTool)
    assert (task.name, task.executor) == (LLM_JUDGE, LLM_JUDGE)
    assert task.args == {"content": "rude words", "policy": "Be polite.", "model": "openai/gpt-4o-mini"}
    before = run.state.usage.total_tokens
    judge = {"model": "openai/gpt-4o-mini", "prompt_tokens": 30, "completion_tokens": 7, "cost_usd": 0.001}
    d = run.ok(task.call_id, verdict(True, llm=judge))
    assert d.state.usage.total_tokens == before + 37
    (usage,) = events(d, "llm_call")
    assert usage.fields["data"]["purpose"] == "guardrail" and usage.fields["data"]["promptTokens"] == 30
    assert_finished(d, "COMPLETED", "stop")


def test_human_waits_then_an_approval_with_an_edit_becomes_the_output() -> None:
    run = guarded(regex(onFail="human", message="Has an SSN."))
    d = run.llm("it is 123-45-6789")
    (waiting,) = events(d, "waiting")
    pending = waiting.fields["pending_tool"]
    assert pending["kind"] == "guardrail" and pending["taskRefName"] == "guardrail.no_ssn"
    assert pending["parameters"] == {"content": "it is 123-45-6789", "message": "Has an SSN."}
    assert pending["response_schema"]["required"] == ["approved"]
    assert not d.state.terminal and not d.commands
    edited = approve("guardrail.no_ssn")
    edited.extra = {"edited_output": "it is [redacted]"}
    d = run.apply(edited)
    assert events(d, "approval")[0].fields["call_id"] == "guardrail.no_ssn"
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "it is [redacted]"
    with pytest.raises(Exception, match="already ended"):
        run.apply(approve())


def test_human_rejection_fails_the_run_and_a_second_answer_is_refused() -> None:
    run = guarded(regex(onFail="human"))
    run.llm("123-45-6789")
    d = run.apply(reject(reason="leaks data"))
    assert_finished(d, "FAILED", "rejected")
    assert d.state.error == "Guardrail 'no_ssn' failed and a person rejected the answer: leaks data"


def test_a_plain_approval_keeps_the_answer() -> None:
    run = guarded(regex(onFail="human"))
    run.llm("123-45-6789")
    d = run.apply(approve())
    assert d.state.output == "123-45-6789"


def test_a_failing_input_guardrail_stops_the_run_before_any_model_call() -> None:
    run = Run(agent(guardrails=[regex("no_ssn_in", position="input", onFail="raise")]))
    d = run.start("my ssn is 123-45-6789")
    assert_finished(d, "FAILED", "guardrail")
    assert d.state.error == "Input guardrail 'no_ssn_in' failed: Content matched a blocked pattern."
    assert [e.type for e in d.events] == ["guardrail_fail", "error"]
    assert d.messages == []


def test_input_retry_counts_as_raise_and_fix_replaces_the_prompt() -> None:
    run = Run(agent(guardrails=[regex("no_ssn_in", position="input")]))
    assert_finished(run.start("123-45-6789"), "FAILED", "guardrail")
    run = Run(agent(guardrails=[custom("redact", position="input", onFail="fix")]))
    (task,) = commands(run.start("my ssn is 123-45-6789"), RunTool)
    d = run.ok(task.call_id, verdict(False, "ssn", fixed_output="my ssn is [redacted]"))
    assert d.messages == [{"role": "user", "content": "my ssn is [redacted]"}]
    assert commands(d, CallLlm) and d.state.prompt == "my ssn is [redacted]"


def test_a_passing_input_guardrail_starts_the_agent() -> None:
    run = Run(agent(guardrails=[regex("no_ssn_in", position="input")]))
    d = run.start("hello")
    assert events(d, "guardrail_pass")
    assert commands(d, CallLlm)
    assert d.messages == [{"role": "user", "content": "hello"}]


def test_a_stop_while_a_verdict_is_awaited_does_not_let_the_answer_out() -> None:

    run = guarded(custom(onFail="raise"))
    (task,) = commands(run.llm("unchecked"), RunTool)
    d = run.apply(Stop())
    assert not d.state.terminal
    d = run.ok(task.call_id, verdict(False, "nope"))
    assert_finished(d, "FAILED", "guardrail")


# --- tool guardrails ------------------------------------------------------------------------


def tool_run(*rails: dict[str, Any], **tool_options: Any) -> Run:
    run = Run(agent(tool("lookup", guardrails=list(rails), **tool_options)))
    run.start()
    return run


def test_a_blocked_argument_never_reaches_the_tool_and_the_model_sees_why() -> None:
    run = tool_run(regex(position="input"))
    d = run.llm(None, call("lookup", {"q": SSN}))
    assert not [c for c in commands(d, RunTool) if c.name == "lookup"], "the tool never runs"
    (failed,) = events(d, "guardrail_fail")
    assert failed.fields["tool_name"] == "lookup" and failed.fields["call_id"] == "c1"
    assert failed.fields["data"] == {"position": "tool_input", "onFail": "retry"}
    assert d.state.calls["c1"].result == {
        "error": "Blocked by guardrail 'no_ssn': Content matched a blocked pattern.",
        "blocked": True,
    }
    assert commands(d, CallLlm), "the turn is over: the model is asked again"


def test_clean_arguments_pass_and_the_call_runs() -> None:
    run = tool_run(regex(position="input"))
    d = run.llm(None, call("lookup", {"q": "weather"}))
    (task,) = commands(d, RunTool)
    assert task.name == "lookup" and task.args == {"q": "weather"}
    assert events(d, "guardrail_pass")[0].fields["data"] == {"position": "tool_input"}


def test_raise_on_a_tool_argument_fails_the_run() -> None:
    run = tool_run(regex(position="input", onFail="raise"))
    d = run.llm(None, call("lookup", {"q": SSN}))
    assert_finished(d, "FAILED", "guardrail")
    assert d.state.error == "Guardrail 'no_ssn' failed on tool 'lookup': Content matched a blocked pattern."


def test_human_on_a_tool_argument_asks_for_approval_first() -> None:
    run = tool_run(regex(position="input", onFail="human"))
    d = run.llm(None, call("lookup", {"q": SSN}))
    assert d.state.calls["c1"].status == "awaiting_approval" and events(d, "waiting")
    d = run.apply(approve("c1"))
    (task,) = commands(d, RunTool)
    assert task.args == {"q": SSN}


def test_fix_replaces_the_arguments_of_a_call() -> None:
    run = tool_run(custom("clean_args", position="input", onFail="fix"))
    (check,) = commands(run.llm(None, call("lookup", {"q": SSN})), RunTool)
    assert check.name == "clean_args" and check.args["content"] == '{"q": "123-45-6789"}'
    d = run.ok(check.call_id, verdict(False, "ssn", fixed_output='{"q": "[redacted]"}'))
    (task,) = commands(d, RunTool)
    assert task.name == "lookup" and task.args == {"q": "[redacted]"}


def test_an_output_guardrail_blocks_or_fixes_a_tool_result() -> None:
    run = tool_run(regex())
    run.llm(None, call("lookup", {"q": "me"}))
    d = run.ok("c1", {"ssn": SSN})
    assert d.state.calls["c1"].result == {
        "error": "Output blocked by guardrail 'no_ssn': Content matched a blocked pattern.",
        "blocked": True,
    }
    assert SSN not in str(d.messages)
    run = tool_run(custom("redact", onFail="fix"))
    run.llm(None, call("lookup", {"q": "me"}))
    (check,) = commands(run.ok("c1", {"ssn": SSN}), RunTool)
    assert run.ok("c1", "again").events == [], "a duplicate result while it is checked changes nothing"
    d = run.ok(check.call_id, verdict(False, "ssn", fixed_output="ssn: [redacted]"))
    assert d.state.calls["c1"].result == "ssn: [redacted]"
    assert d.messages[-1]["content"] == "ssn: [redacted]"
    assert commands(d, CallLlm)


def test_a_passing_output_check_shows_the_result_as_returned() -> None:
    run = tool_run(regex())
    run.llm(None, call("lookup", {"q": "me"}))
    d = run.ok("c1", {"answer": 42})
    assert d.state.calls["c1"].result == {"answer": 42}


def test_a_stray_failure_of_a_call_under_check_changes_nothing() -> None:
    run = tool_run(custom("clean_args", position="input"))
    run.llm(None, call("lookup", {"q": "x"}))
    d = run.fail("c1", "not from any task of this call")
    assert d.events == [] and d.commands == []
