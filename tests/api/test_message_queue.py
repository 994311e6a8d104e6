"""The message queue over real HTTP: ``wait_for_message_tool`` calls take what
``send_message`` queued, in order and each message once; the queue is bounded and a
message to an unknown or ended execution is refused; signals reach the model."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentAPIError, AgentConfig, AgentRuntime, tool, wait_for_message_tool
from agentspan.server.settings import Settings

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def inbox_agent(batch_size: int = 1, blocking: bool = True) -> Agent:
    return Agent(
        name="listener",
        model="openai/gpt-4o",
        tools=[wait_for_message_tool("inbox", "Wait for the next instructions.", batch_size, blocking)],
    )


def tool_messages(fake: FakeOpenAI) -> list[str]:
    """The tool results the model was shown, oldest first (the last request holds all)."""
    last = fake.requests[-1]["messages"]
    return [m["content"] for m in last if m["role"] == "tool"]


def test_a_waiting_agent_takes_messages_in_order_each_once(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("inbox", {})]),
        FakeOpenAI.tool_calls([("inbox", {})]),
        FakeOpenAI.tool_calls([("inbox", {})]),
        FakeOpenAI.text("Done listening."),
    )
    handle = runtime.start(inbox_agent(), "listen")
    wait_for(lambda: handle.get_status().is_waiting)
    status = handle.get_status()
    assert status.pending_tool is not None and status.pending_tool["kind"] == "messages"
    handle.send_message({"text": "one"})
    runtime.send_message(handle.execution_id, "two")  # a non-dict is wrapped as {"message": ...}
    handle.send_message({"text": "three"})
    result = handle.join(timeout=15)
    assert result.status == "COMPLETED" and result.output == "Done listening."
    shown = tool_messages(fake)
    assert shown == [
        '{"messages": [{"text": "one"}], "count": 1}',
        '{"messages": [{"message": "two"}], "count": 1}',
        '{"messages": [{"text": "three"}], "count": 1}',
    ]
    received = [e for e in result.events if e.type == "message_received"]
    assert len(received) == 3  # each one in the history, in order


gate = threading.Event()


@tool
def elsewhere_served(task: str) -> str:
    """A slow tool: returns once the test opens the gate."""
    gate.wait(10)
    return task


def test_messages_sent_before_the_call_wait_for_it_and_a_batch_takes_several(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("elsewhere_served", {"task": "x"})]),
        FakeOpenAI.tool_calls([("inbox", {})]),
        FakeOpenAI.tool_calls([("inbox", {})]),
        FakeOpenAI.text("got them"),
    )
    agent = Agent(
        name="batcher",
        model="openai/gpt-4o",
        tools=[elsewhere_served, wait_for_message_tool("inbox", "wait", 2)],
    )
    handle = runtime.start(agent, "listen")
    for n in range(3):  # queued while the first tool call runs: nobody takes them yet
        handle.send_message({"n": n})
    gate.set()
    assert handle.join(timeout=15).status == "COMPLETED"
    assert tool_messages(fake) == [
        "x",
        '{"messages": [{"n": 0}, {"n": 1}], "count": 2}',
        '{"messages": [{"n": 2}], "count": 1}',
    ]


def test_a_non_blocking_call_returns_what_is_queued_even_nothing(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(FakeOpenAI.tool_calls([("inbox", {})]), FakeOpenAI.text("nothing yet"))
    result = runtime.run(inbox_agent(batch_size=3, blocking=False), "peek")
    assert result.status == "COMPLETED"
    assert tool_messages(fake) == ['{"messages": [], "count": 0}']


def test_respond_does_not_answer_a_message_wait_and_stop_releases_it(
    runtime: AgentRuntime, fake: FakeOpenAI, server: ThreadServer
) -> None:
    fake.script(FakeOpenAI.tool_calls([("inbox", {})]), FakeOpenAI.text("never asked"))
    handle = runtime.start(inbox_agent(), "listen")
    wait_for(lambda: handle.get_status().is_waiting)
    response = httpx.post(f"{server.api_url}/agent/{handle.execution_id}/respond", json={"message": "x"})
    assert response.status_code == 409 and "send_message" in response.json()["detail"]
    handle.stop()
    result = handle.join(timeout=10)
    assert result.status == "COMPLETED" and result.finish_reason == "stopped"
    results = [e for e in result.events if e.type == "tool_result"]
    assert results[0].result == {"messages": [{"_signal": "stop"}], "count": 1}


def test_unknown_and_ended_executions_are_refused(
    runtime: AgentRuntime, fake: FakeOpenAI, server: ThreadServer
) -> None:
    with pytest.raises(AgentAPIError) as missing:
        runtime.send_message("no-such-execution", {"text": "hi"})
    assert missing.value.status_code == 404
    fake.script(FakeOpenAI.text("bye"))
    done = runtime.run(inbox_agent(), "just answer")
    response = httpx.post(f"{server.api_url}/agent/{done.execution_id}/messages", json={"text": "late"})
    assert response.status_code == 409 and response.json()["code"] == "invalid_state"
    response = httpx.post(f"{server.api_url}/agent/{done.execution_id}/signal", json={"message": "late"})
    assert response.status_code == 409


def test_a_signal_is_shown_with_the_last_user_message_until_cleared(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("inbox", {})]),
        FakeOpenAI.tool_calls([("inbox", {})]),
        FakeOpenAI.text("done"),
    )
    handle = runtime.start(inbox_agent(), "listen")
    wait_for(lambda: handle.get_status().is_waiting)
    handle.signal("Budget is tight: be brief.")
    handle.send_message({"text": "go"})
    wait_for(lambda: fake.request_count >= 2 and handle.get_status().is_waiting)
    runtime.signal(handle.execution_id, "")
    handle.send_message({"text": "again"})
    assert handle.join(timeout=10).status == "COMPLETED"
    users = [[m["content"] for m in r["messages"] if m["role"] == "user"] for r in fake.requests]
    assert users[0] == ["listen"]
    assert users[1] == ["[SIGNALS]\nBudget is tight: be brief.\n[/SIGNALS]\n\nlisten"]
    assert users[2] == ["listen"]  # cleared; the stored conversation never held it


@tool(external=True)
def elsewhere(task: str) -> str:
    """Served by a worker that is not running: the run stays busy, taking no messages."""
    return task


def test_the_queue_and_each_message_are_bounded(fake: FakeOpenAI, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, max_message_bytes=200, max_queued_messages=2)
    srv = ThreadServer(settings).start()
    try:
        config = AgentConfig(server_url=srv.api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            fake.script(FakeOpenAI.tool_calls([("elsewhere", {"task": "x"})]))
            agent = Agent(
                name="busy", model="openai/gpt-4o", tools=[elsewhere, wait_for_message_tool("inbox", "wait")]
            )
            handle = runtime.start(agent, "hold on")
            wait_for(lambda: fake.request_count == 1)
            url = f"{srv.api_url}/agent/{handle.execution_id}/messages"
            big = httpx.post(url, json={"text": "x" * 300})
            assert big.status_code == 413 and big.json()["code"] == "limit_exceeded"
            assert big.json()["limit"]["setting"] == "AGENTSPAN_MAX_MESSAGE_BYTES"
            assert httpx.post(url, json={"n": 1}).json() == {
                "executionId": handle.execution_id,
                "seq": 1,
                "duplicate": False,
            }
            assert httpx.post(url, json={"n": 2}).json()["seq"] == 2
            full = httpx.post(url, json={"n": 3})
            assert full.status_code == 429 and full.json()["code"] == "queue_full"
            assert full.json()["limit"]["max"] == 2
            handle.cancel()
    finally:
        srv.stop()


def test_a_send_repeated_with_its_idempotency_key_is_delivered_once(
    runtime: AgentRuntime, fake: FakeOpenAI, server: ThreadServer
) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("inbox", {})]),
        FakeOpenAI.tool_calls([("inbox", {})]),
        FakeOpenAI.text("done"),
    )
    handle = runtime.start(inbox_agent(batch_size=5), "listen")
    wait_for(lambda: handle.get_status().is_waiting)
    handle.send_message({"text": "one"}, idempotency_key="order-1")
    wait_for(lambda: fake.request_count >= 2 and handle.get_status().is_waiting)
    # The retry after a lost answer: the same key, taken or not, queues nothing.
    handle.send_message({"text": "one"}, idempotency_key="order-1")
    url = f"{server.api_url}/agent/{handle.execution_id}/messages"
    again = httpx.post(url, json={"text": "one"}, headers={"Idempotency-Key": "order-1"})
    assert again.json() == {"executionId": handle.execution_id, "seq": 1, "duplicate": True}
    too_long = httpx.post(url, params={"idempotencyKey": "k" * 201}, json={"text": "x"})
    assert too_long.status_code == 400
    handle.send_message({"text": "two"}, idempotency_key="order-2")
    result = handle.join(timeout=15)
    assert result.status == "COMPLETED"
    assert tool_messages(fake) == [
        '{"messages": [{"text": "one"}], "count": 1}',
        '{"messages": [{"text": "two"}], "count": 1}',
    ]
    assert len([e for e in result.events if e.type == "message_received"]) == 2
    # The key is remembered after the run ended: a late retry is still not an error.
    late = httpx.post(url, params={"idempotencyKey": "order-2"}, json={"text": "two"})
    assert late.status_code == 200 and late.json()["duplicate"] is True and late.json()["seq"] == 2
