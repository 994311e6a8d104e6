"""What the engine honours beyond the loop itself: ``requiredTools`` and ``human`` tools."""

from __future__ import annotations

import pytest

from agentspan.server.engine.model import (
    CallLlm,
    ChildFinished,
    HumanAnswered,
    Rejected,
    RunTool,
    StartChild,
    Stop,
)

from support.decide import (
    LOOKUP,
    NOW,
    WEATHER,
    Run,
    agent,
    approve,
    assert_finished,
    call,
    commands,
    events,
    tool,
)


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


# --------------------------------------------------------------------------- human tools

ASK = tool("ask_user", tool_type="human", description="Ask the user.")


def test_a_human_tool_waits_for_an_answer_which_becomes_its_result() -> None:
    run = Run(agent(ASK, LOOKUP))
    run.start()
    d = run.llm("", call("ask_user", {"question": "Which laptop?"}), call("lookup"))
    assert [c.name for c in commands(d, RunTool)] == ["lookup"], "no worker task for a question"
    (waiting,) = events(d, "waiting")
    assert waiting.fields["content"] == "Tool 'ask_user' asks: Which laptop?"
    assert waiting.fields["pending_tool"]["kind"] == "human"
    assert waiting.fields["pending_tool"]["response_schema"]["required"] == ["message"]
    run.ok("c2", "found")
    with pytest.raises(Rejected):
        run.apply(approve())  # an approval does not answer a question
    d = run.apply(HumanAnswered(answer={"message": "The ThinkPad"}, decided_by="alice", decided_at=NOW))
    (answered,) = events(d, "human_input")
    assert answered.fields == {
        "tool_name": "ask_user",
        "call_id": "c1",
        "result": {"message": "The ThinkPad"},
        "data": {"decidedBy": "alice", "decidedAt": NOW},
    }
    assert commands(d, CallLlm)
    assert [m["content"] for m in run.messages if m["role"] == "tool"] == ["The ThinkPad", "found"]
    with pytest.raises(Rejected):
        run.apply(HumanAnswered(answer={"message": "again"}, decided_at=NOW))  # answered once


# --------------------------------------------------------------------------- agent tool retries


def test_a_failed_agent_tool_child_runs_again_up_to_its_retry_count() -> None:
    sub = agent(name="researcher").model_dump(by_alias=True, exclude_none=True)
    research = tool("researcher", tool_type="agent_tool", retry_count=1, config={"agentConfig": sub})
    run = Run(agent(research))
    run.start()
    d = run.llm("", call("researcher", {"request": "dig"}))
    (first,) = commands(d, StartChild)
    run.state.calls["c1"].child_id = "k1"  # the driver links each child it creates
    d = run.apply(ChildFinished(child_id="k1", agent_name="researcher", status="FAILED", error="boom"))
    (again,) = commands(d, StartChild)
    assert again.prompt == first.prompt == "dig"
    (retry,) = events(d, "tool_retry")
    assert retry.fields["data"] == {"attempt": 1, "delaySeconds": 0}
    assert not events(d, "tool_result")
    run.state.calls["c1"].child_id = "k2"
    d = run.apply(ChildFinished(child_id="k2", agent_name="researcher", status="FAILED", error="boom again"))
    assert not commands(d, StartChild), "the retries are spent"
    (shown,) = events(d, "tool_result")
    assert "boom again" in shown.fields["result"]["error"]


def test_an_agent_tool_retry_waits_its_delay_in_a_durable_task_with_linear_backoff() -> None:
    sub = agent(name="researcher").model_dump(by_alias=True, exclude_none=True)
    research = tool(
        "researcher",
        tool_type="agent_tool",
        retry_count=2,
        retry_delay_seconds=1.5,
        config={"agentConfig": sub},
    )
    run = Run(agent(research))
    run.start()
    run.llm("", call("researcher", {"request": "dig"}))
    for attempt, child in ((1, "k1"), (2, "k2")):
        run.state.calls["c1"].child_id = child
        d = run.apply(ChildFinished(child_id=child, agent_name="researcher", status="FAILED", error="boom"))
        assert not commands(d, StartChild), "no child before the delay is over"
        (wait,) = commands(d, RunTool)
        assert (wait.executor, wait.name, wait.delay_seconds) == ("delay", "delay", 1.5 * attempt)
        assert wait.args == {"call_id": "c1"}
        assert events(d, "tool_retry")[0].fields["data"] == {
            "attempt": attempt,
            "delaySeconds": 1.5 * attempt,
        }
        assert run.state.calls["c1"].status == "child_running" and not d.state.terminal
        d = run.ok(wait.call_id, {"waited": True})
        (again,) = commands(d, StartChild)
        assert again.prompt == "dig" and wait.call_id not in d.state.pending
        d = run.ok(wait.call_id, {"waited": True})  # a duplicate answer changes nothing
        assert not commands(d, StartChild)
    run.state.calls["c1"].child_id = "k3"
    d = run.apply(ChildFinished(child_id="k3", agent_name="researcher", status="FAILED", error="last"))
    assert not commands(d, RunTool) and "last" in events(d, "tool_result")[0].fields["result"]["error"]


def test_a_lost_delay_task_runs_again_and_a_failed_one_still_lets_the_retry_go() -> None:
    sub = agent(name="researcher").model_dump(by_alias=True, exclude_none=True)
    research = tool(
        "researcher",
        tool_type="agent_tool",
        retry_count=1,
        retry_delay_seconds=2,
        config={"agentConfig": sub},
    )
    run = Run(agent(research))
    run.start()
    run.llm("", call("researcher", {"request": "dig"}))
    run.state.calls["c1"].child_id = "k1"
    d = run.apply(ChildFinished(child_id="k1", agent_name="researcher", status="FAILED", error="boom"))
    (wait,) = commands(d, RunTool)
    d = run.fail(wait.call_id, "lease expired", lease_lost=True)
    (rerun,) = commands(d, RunTool)
    assert rerun.call_id == wait.call_id and not commands(d, StartChild)
    d = run.fail(wait.call_id, "broken", retryable=False)
    assert commands(d, StartChild), "the pause is best effort: its failure does not cancel the retry"


def test_a_stop_during_the_retry_pause_ends_the_call_instead_of_retrying() -> None:
    sub = agent(name="researcher").model_dump(by_alias=True, exclude_none=True)
    research = tool(
        "researcher",
        tool_type="agent_tool",
        retry_count=1,
        retry_delay_seconds=5,
        config={"agentConfig": sub},
    )
    run = Run(agent(research))
    run.start()
    run.llm("", call("researcher", {"request": "dig"}))
    run.state.calls["c1"].child_id = "k1"
    d = run.apply(ChildFinished(child_id="k1", agent_name="researcher", status="FAILED", error="boom"))
    (wait,) = commands(d, RunTool)
    d = run.apply(Stop())
    assert not d.state.terminal, "the call is still in flight"
    d = run.ok(wait.call_id, {"waited": True})
    assert not commands(d, StartChild)
    assert d.state.status == "COMPLETED" and d.state.finish_reason == "stopped"
