"""Agent options the engine honours beyond the loop itself: ``requiredTools``."""

from __future__ import annotations

from agentspan.server.engine.model import CallLlm, RunTool

from support.decide import LOOKUP, WEATHER, Run, agent, assert_finished, call, commands, events


def required(*names: str) -> Run:
    run = Run(agent(LOOKUP, WEATHER, required_tools=list(names)))
    run.start()
    return run


def test_an_answer_before_the_required_tools_ran_is_sent_back() -> None:
    run = required("lookup", "weather")
    d = run.llm("I know already.")
    assert not d.state.terminal and commands(d, CallLlm)
    (asked,) = events(d, "tools_required")
    assert asked.fields == {
        "content": "lookup, weather",
        "data": {"missing": ["lookup", "weather"], "attempt": 1},
    }
    assert run.messages[-1] == {
        "role": "user",
        "content": "Before you give your final answer, call these tools: lookup, weather.",
    }
    run.llm("", call("lookup"))
    run.ok("c1", "found")
    d = run.llm("Still no weather.")
    assert events(d, "tools_required")[0].fields["content"] == "weather"
    run.llm("", call("weather"))
    run.ok("c2", "sunny")
    d = run.llm("Done: found, sunny.")
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "Done: found, sunny."


def test_a_failed_or_skipped_call_does_not_count() -> None:
    run = required("lookup")
    run.llm("", call("lookup"))
    run.fail("c1", "down", retryable=False)
    d = run.llm("Could not look it up.")
    assert events(d, "tools_required") and not d.state.terminal


def test_the_run_fails_after_three_asks_naming_the_tools() -> None:
    run = required("lookup")
    for _ in range(3):
        d = run.llm("no")
        assert not d.state.terminal
    d = run.llm("no")
    assert_finished(d, "FAILED", "error")
    assert d.state.error == "the agent finished without calling its required tools: lookup"
    assert not [c for c in commands(d, RunTool)]


def test_without_required_tools_an_answer_finishes_at_once() -> None:
    run = Run(agent(LOOKUP))
    run.start()
    assert_finished(run.llm("hi"), "COMPLETED", "stop")
