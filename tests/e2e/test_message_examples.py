"""The reference's message-queue examples, with a scripted model: a reactive agent that
waits for a task, reports on it and waits again while the caller streams its events and
sends tasks from another thread; and a monitor taking metrics in batches of ten."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from agentspan.agents import Agent, AgentRuntime, EventType, tool, wait_for_message_tool
from agentspan.agents.testing import ScriptedModel, ToolCall

pytestmark = pytest.mark.e2e

TASKS = ["List three benefits of queues", "Name a productivity app", "Reverse a string in Python"]
reported: list[str] = []


@tool
def report_result(summary: str) -> str:
    """Report the result of a completed task back to the caller."""
    reported.append(summary)
    return f"Reported: {summary}"


def _wait_until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_reactive_agent_handles_tasks_sent_while_the_caller_streams(runtime: AgentRuntime) -> None:
    reported.clear()
    turns: list[Any] = []
    for n in range(len(TASKS)):
        turns += [ToolCall("wait_for_message", {}), ToolCall("report_result", {"summary": f"did task {n}"})]
    turns.append(ToolCall("wait_for_message", {}))  # waits for a fourth task that never comes
    agent = Agent(
        name="reactive_agent",
        model=ScriptedModel(turns),
        tools=[wait_for_message_tool("wait_for_message", "Wait for the next instruction."), report_result],
        max_turns=10000,
    )
    handle = runtime.start(agent, "Begin. Wait for your first instruction.")

    def sender() -> None:
        for task in TASKS:
            runtime.send_message(handle.execution_id, {"task": task})
        _wait_until(lambda: len(reported) == len(TASKS))
        _wait_until(lambda: handle.get_status().is_waiting)
        runtime.cancel(handle.execution_id, reason="example complete")

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    seen: list[Any] = []
    for event in handle.stream():
        seen.append(event)
        if event.type in (EventType.DONE, EventType.ERROR):
            break
    thread.join(10)
    assert reported == ["did task 0", "did task 1", "did task 2"]
    taken = [e.result for e in seen if e.type == EventType.TOOL_RESULT and e.tool_name == "wait_for_message"]
    assert [r["messages"] for r in taken] == [[{"task": t}] for t in TASKS]
    assert any(e.type == EventType.WAITING for e in seen)
    assert handle.get_status().status == "TERMINATED"


def test_a_monitor_takes_metrics_in_batches(runtime: AgentRuntime) -> None:
    shown: list[str] = []
    connected = threading.Event()

    @tool
    def connect() -> str:
        """Connect to the metrics feed (returns once the test has queued the samples)."""
        connected.wait(20)
        return "connected"

    @tool
    def display_dashboard(summary: str) -> str:
        """Show aggregated stats."""
        shown.append(summary)
        return "displayed"

    agent = Agent(
        name="monitor",
        model=ScriptedModel(
            [
                ToolCall("connect", {}),
                ToolCall("receive_metrics", {}),
                ToolCall("display_dashboard", {"summary": "batch 1"}),
                ToolCall("receive_metrics", {}),
                ToolCall("display_dashboard", {"summary": "batch 2"}),
                "Monitoring complete.",
            ]
        ),
        tools=[
            connect,
            wait_for_message_tool("receive_metrics", "Up to 10 samples.", batch_size=10),
            display_dashboard,
        ],
    )
    handle = runtime.start(agent, "Monitor the metrics.")
    for n in range(15):  # queued while the feed connects: nobody takes them yet
        handle.send_message({"metric": "cpu", "host": f"h{n}", "value": n})
    connected.set()
    result = handle.join(timeout=30)
    assert result.status == "COMPLETED" and result.output == "Monitoring complete."
    batches = [c["result"]["count"] for c in result.tool_calls if c["name"] == "receive_metrics"]
    assert batches == [10, 5]  # ten at most per call, oldest first
    assert shown == ["batch 1", "batch 2"]
