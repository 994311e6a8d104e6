"""The engine's durable LangGraph graph (``strategies/graph.py``): one superstep per worker
task, the checkpoint recorded with its outcome, a lost superstep asked for again with the
same call id and checkpoint, ``interrupt()`` as a durable human wait, pause and stop."""

from __future__ import annotations

from typing import Any

import pytest

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import HumanAnswered, Pause, Rejected, Resume, RunTool, Stop

from support.decide import NOW, Run, assert_finished, commands, event_types, events, tool

TASK = "desk_superstep"


def graph_spec() -> AgentConfig:
    return AgentConfig(
        name="desk",
        tools=[tool(TASK)],
        metadata={"_agent_type": "langgraph_graph", "_graph_task": TASK},
    )


def step(n: int, *nodes: str, **extra: Any) -> dict[str, Any]:
    """A worker's answer for superstep ``n``."""
    return {
        "checkpoint": {"id": f"cp{n}", "values": n},
        "nodes": [{"node": node, "update": {"n": n}} for node in nodes],
        **extra,
    }


def only_superstep(d: Any) -> RunTool:
    (run,) = commands(d, RunTool)
    assert run.name == TASK
    return run


def test_each_superstep_is_one_task_given_the_last_recorded_checkpoint() -> None:
    run = Run(graph_spec())
    first = only_superstep(run.start("Where is my invoice?"))
    assert first.args == {"checkpoint": None, "step": 0, "input": "Where is my invoice?"}

    d = run.ok(first.call_id, step(1, "classify"))
    assert run.state.graph is not None and run.state.graph.checkpoint == {"id": "cp1", "values": 1}
    assert event_types(d) == ["tool_call", "tool_result"]
    assert events(d, "tool_call")[0].fields == {
        "tool_name": "classify",
        "args": {"superstep": 1},
        "call_id": "graph.1.1",
    }
    second = only_superstep(d)
    assert second.call_id != first.call_id
    assert second.args == {"checkpoint": {"id": "cp1", "values": 1}, "step": 1}

    d = run.ok(second.call_id, step(2, "billing", done=True, output="Paid."))
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "Paid." and d.state.graph is not None and d.state.graph.supersteps == 2


def test_a_lost_superstep_is_asked_for_again_with_the_same_call_and_checkpoint() -> None:
    run = Run(graph_spec())
    first = only_superstep(run.start())
    second = only_superstep(run.ok(first.call_id, step(1, "fetch")))
    d = run.fail(second.call_id, "lease expired", lease_lost=True)
    again = only_superstep(d)
    assert (again.call_id, again.args, again.attempt) == (second.call_id, second.args, 2)
    assert [e.fields["data"] for e in events(d, "tool_retry")] == [
        {"attempt": 2, "delaySeconds": 0, "reason": "lease_expired"}
    ]
    assert run.state.graph is not None and run.state.graph.supersteps == 1  # nothing recorded twice


def test_a_failed_superstep_fails_the_run() -> None:
    run = Run(graph_spec())
    first = only_superstep(run.start())
    d = run.fail(first.call_id, "ValueError: no such customer", retryable=False)
    assert_finished(d, "FAILED", "error")
    assert d.state.error == "graph superstep 1 failed: ValueError: no such customer"
    assert not events(d, "error_ignored")


def test_an_answer_without_a_checkpoint_fails_the_run() -> None:
    run = Run(graph_spec())
    first = only_superstep(run.start())
    d = run.ok(first.call_id, {"nodes": []})
    assert_finished(d, "FAILED", "error")


def test_model_calls_in_nodes_are_recorded_with_their_tokens() -> None:
    run = Run(graph_spec())
    first = only_superstep(run.start())
    calls = [
        {"model": "gpt-4o", "node": "billing", "prompt_tokens": 10, "completion_tokens": 5, "latency_ms": 3}
    ]
    d = run.ok(first.call_id, step(1, "billing", llm_calls=calls, done=True, output="ok"))
    (llm,) = events(d, "llm_call")
    assert llm.fields["data"]["model"] == "gpt-4o" and llm.fields["data"]["purpose"] == "graph_node"
    assert (d.state.usage.prompt_tokens, d.state.usage.completion_tokens, d.state.usage.total_tokens) == (
        10,
        5,
        15,
    )


def answer(body: dict[str, Any], call_id: str | None = None) -> HumanAnswered:
    return HumanAnswered(answer=body, decided_by="bob", decided_at=NOW + 1, call_id=call_id)


def test_an_interrupt_waits_for_a_person_and_the_answer_resumes_the_graph() -> None:
    run = Run(graph_spec())
    first = only_superstep(run.start())
    interrupt = {"id": "i1", "value": {"question": "Refund?"}, "node": "review"}
    d = run.ok(first.call_id, step(1, interrupts=[interrupt]))
    assert not commands(d, RunTool)
    (waiting,) = events(d, "waiting")
    pending = waiting.fields["pending_tool"]
    assert pending["kind"] == "human" and pending["tool_name"] == "review"
    assert pending["parameters"] == {
        "interrupt": {"question": "Refund?"},
        "node": "review",
        "question": "Refund?",
    }

    d = run.apply(answer({"resume": "yes"}))
    assert event_types(d) == ["human_input"]
    resumed = only_superstep(d)
    assert resumed.args == {
        "checkpoint": {"id": "cp1", "values": 1},
        "step": 1,
        "resume": "yes",
        "interrupts": ["i1"],
    }
    with pytest.raises(Rejected):  # answered once; a second answer finds nothing waiting
        run.apply(answer({"resume": "no"}))


def test_a_paused_graph_holds_its_next_superstep_until_resumed() -> None:
    run = Run(graph_spec())
    first = only_superstep(run.start())
    run.apply(Pause())
    d = run.ok(first.call_id, step(1, "fetch"))
    assert not commands(d, RunTool)  # recorded, but the next one is held
    d = run.apply(Resume())
    assert only_superstep(d).args["checkpoint"] == {"id": "cp1", "values": 1}


def test_stop_ends_after_the_superstep_in_flight() -> None:
    run = Run(graph_spec())
    first = only_superstep(run.start())
    d = run.apply(Stop())
    assert not d.state.terminal
    d = run.ok(first.call_id, step(1, "fetch"))
    assert_finished(d, "COMPLETED", "stopped")
    assert d.state.graph is not None and d.state.graph.checkpoint == {"id": "cp1", "values": 1}


def test_stop_while_waiting_for_a_person_ends_at_once() -> None:
    run = Run(graph_spec())
    first = only_superstep(run.start())
    run.ok(first.call_id, step(1, interrupts=[{"id": "i1", "value": "ok?", "node": "review"}]))
    d = run.apply(Stop())
    assert_finished(d, "COMPLETED", "stopped")


def test_an_answer_while_paused_is_recorded_and_the_superstep_held() -> None:
    run = Run(graph_spec())
    first = only_superstep(run.start())
    run.ok(first.call_id, step(1, interrupts=[{"id": "i1", "value": "ok?", "node": "review"}]))
    run.apply(Pause())
    d = run.apply(answer({"message": "fine"}))
    assert event_types(d) == ["human_input"] and not commands(d, RunTool)
    resumed = only_superstep(run.apply(Resume()))
    assert resumed.args["resume"] == "fine" and resumed.args["interrupts"] == ["i1"]
