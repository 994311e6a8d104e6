"""Lifecycle callbacks in the engine (engine/callbacks.py): each position waits for its
worker task, carries on with what it recorded, and a recorded answer is final."""

from __future__ import annotations

from typing import Any

from agentspan.server.engine.functions import CONVERSATION
from agentspan.server.engine.model import CallLlm, Cancel, RunTool, Stop

from support.decide import LOOKUP, Run, agent, assert_finished, call, commands, events

POSITIONS = ("before_agent", "after_agent", "before_model", "after_model", "before_tool", "after_tool")


def hooked(*positions: str, **kwargs: Any) -> Run:
    callbacks = [{"position": p, "taskName": f"assistant_{p}"} for p in positions]
    return Run(agent(LOOKUP, callbacks=callbacks, **kwargs))


def answer(run: Run, override: dict[str, Any] | None = None, errors: list[str] | None = None) -> Any:
    """Answer the one callback task outstanding."""
    (fn_id,) = [k for k, fn in run.state.pending.items() if fn.purpose == "callback"]
    return run.ok(fn_id, {"override": override or {}, "errors": errors or []})


def callback_task(d: Any) -> RunTool:
    (task,) = [c for c in commands(d, RunTool) if c.call_id.startswith("fn.callback.")]
    return task


def test_no_callbacks_no_tasks() -> None:
    run = Run(agent(LOOKUP))
    d = run.start()
    assert commands(d, CallLlm) and not commands(d, RunTool)


def test_every_position_waits_for_its_task_in_order_and_is_recorded() -> None:
    run = hooked(*POSITIONS)
    d = run.start("hi")
    task = callback_task(d)
    assert task.name == "assistant_before_agent"
    assert task.args == {"position": "before_agent", "agent_name": "assistant", "prompt": "hi"}
    assert not commands(d, CallLlm)
    d = answer(run)
    assert callback_task(d).args == {
        "position": "before_model",
        "agent_name": "assistant",
        "messages": CONVERSATION,  # the driver fills the conversation in
    }
    d = answer(run)
    assert commands(d, CallLlm)
    d = run.llm("", call("lookup", {"q": "x"}))
    assert callback_task(d).args["tool_calls"] == [{"name": "lookup", "arguments": '{"q": "x"}'}]
    d = answer(run)
    task = callback_task(d)
    assert task.args["position"] == "before_tool" and task.args["arguments"] == {"q": "x"}
    d = answer(run)
    assert [c.name for c in commands(d, RunTool)] == ["lookup"]
    d = run.ok("c1", "found")
    assert callback_task(d).args["result"] == "found"
    assert not events(d, "tool_result"), "the result is shown once after_tool answered"
    d = answer(run)
    assert events(d, "tool_result")
    d = answer(run)  # before_model of the second call
    d = run.llm("the answer")
    d = answer(run)  # after_model
    assert callback_task(d).args == {
        "position": "after_agent",
        "agent_name": "assistant",
        "output": "the answer",
    }
    assert not d.state.terminal
    d = answer(run)
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "the answer"


def test_answers_are_recorded_as_callback_events() -> None:
    run = hooked("before_tool")
    run.start()
    d = run.llm("", call("lookup"))
    d = answer(run, errors=["Audit.on_tool_start: ValueError: x"])
    (event,) = events(d, "callback")
    assert event.fields == {
        "content": "before_tool",
        "tool_name": "lookup",
        "call_id": "c1",
        "data": {
            "position": "before_tool",
            "task": "assistant_before_tool",
            "overridden": False,
            "errors": ["Audit.on_tool_start: ValueError: x"],
        },
    }


def test_a_recorded_answer_is_final_a_duplicate_changes_nothing() -> None:
    run = hooked("before_model")
    d = run.start()
    fn_id = callback_task(d).call_id
    d = run.ok(fn_id, {"override": {}})
    assert commands(d, CallLlm)
    again = run.ok(fn_id, {"override": {"response": "late"}})
    assert again.state == run.state and not again.commands and not again.events


def test_before_agent_response_completes_without_running_the_agent() -> None:
    run = hooked("before_agent", "before_model", "after_agent")
    run.start()
    d = answer(run, {"response": "closed today"})
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "closed today"


def test_before_model_response_is_the_reply_and_no_model_is_called() -> None:
    run = hooked("before_model", "after_model")
    run.start()
    d = answer(run, {"response": "cached"})
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "cached" and d.state.turn == 1


def test_after_model_response_replaces_the_reply_and_drops_its_tool_calls() -> None:
    run = hooked("after_model")
    run.start()
    run.llm("calling", call("lookup"))
    d = answer(run, {"response": "no tools today"})
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "no tools today"


def test_before_tool_result_skips_the_tool_after_tool_result_replaces_it() -> None:
    run = hooked("before_tool", "after_tool")
    run.start()
    run.llm("", call("lookup"), call("lookup"))
    d = answer_for(run, "c1", {"result": "from cache"})
    assert not [c for c in commands(d, RunTool) if c.name == "lookup"]
    assert [e.fields["result"] for e in events(d, "tool_result")] == ["from cache"]
    assert not commands(d, CallLlm)  # c2 still waits
    d = answer_for(run, "c2", {})
    assert [c.name for c in commands(d, RunTool)] == ["lookup"]
    run.ok("c2", "real")
    d = answer_for(run, "c2", {"result": "checked"})
    results = [e.fields["result"] for e in events(d, "tool_result")]
    assert results == ["checked"]
    assert commands(d, CallLlm)
    tool_messages = [m for m in run.messages if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages] == ["from cache", "checked"]


def answer_for(run: Run, call_id: str, override: dict[str, Any]) -> Any:
    (fn_id,) = [k for k, fn in run.state.pending.items() if fn.args.get("call_id") == call_id]
    return run.ok(fn_id, {"override": override})


def test_a_failed_tool_goes_through_after_tool_with_its_error() -> None:
    run = hooked("after_tool")
    run.start()
    run.llm("", call("lookup"))
    d = run.fail("c1", "down", retryable=False)
    assert callback_task(d).args["error"] == "down"
    d = answer(run)
    (shown,) = events(d, "tool_result")
    assert shown.fields["result"] == {"error": "down"}


def test_a_failed_callback_task_is_reported_and_the_run_goes_on() -> None:
    run = hooked("before_model")
    d = run.start()
    fn_id = callback_task(d).call_id
    for _ in range(2):
        d = run.fail(fn_id, "worker crashed")
        assert callback_task(d).call_id == fn_id  # retried like any decision function
    d = run.fail(fn_id, "worker crashed")
    assert commands(d, CallLlm)
    (event,) = events(d, "callback")
    assert event.fields["data"]["errors"] == ["worker crashed"]


def test_after_agent_response_replaces_the_output() -> None:
    run = hooked("after_agent")
    run.start()
    run.llm("plain")
    d = answer(run, {"response": {"wrapped": "plain"}})
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == {"wrapped": "plain"}


def test_cancel_and_stop_while_a_callback_is_awaited() -> None:
    run = hooked("before_model")
    run.start()
    d = run.apply(Cancel(reason="enough"))
    assert_finished(d, "TERMINATED", "cancelled")
    assert answer(run).state == run.state  # its late answer is dropped

    run = hooked("after_model")
    run.start()
    run.llm("text")
    d = run.apply(Stop())
    assert not d.state.terminal, "the reply in the callback's hands is not lost"
    d = answer(run)
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "text"

    run = hooked("before_model")
    run.start()
    run.apply(Stop())
    d = answer(run)
    assert_finished(d, "COMPLETED", "stopped")
    assert not commands(d, CallLlm)
