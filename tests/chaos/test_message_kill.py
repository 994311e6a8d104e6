"""The message queue across crashes: an agent waits for a message; the server is killed
and restarted; another process sends the message, which the agent takes; the server is
killed again while the model call after that delivery is in flight. After the restart
the model call is made again, and the message was delivered exactly once: one
``tool_result``, one delivered inbox row, the model shown it once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, wait_for_message_tool

from fakes.openai_server import FakeOpenAI, FakeReply
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos

SEND = """
import sys
from agentspan.agents import AgentConfig, AgentRuntime
config = AgentConfig(server_url=sys.argv[1], auto_start_server=False)
with AgentRuntime(config=config) as runtime:
    runtime.send_message(sys.argv[2], {"order": "ship it"})
"""


def test_a_message_sent_after_a_restart_is_delivered_once_across_a_kill(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_openai.reset()
    after_delivery = threading.Event()
    release = threading.Event()

    def reply(body: dict[str, Any]) -> FakeReply:
        last = body["messages"][-1]
        if last["role"] != "tool":
            return FakeOpenAI.tool_calls([("inbox", {})])
        if not after_delivery.is_set():
            after_delivery.set()
            release.wait(30)  # the server dies while this model call is in flight
        return FakeOpenAI.text("got " + str(last["content"]))

    monkeypatch.setattr(fake_openai, "_default", reply)
    data = tmp_path / "data"
    servers: list[ServerProcess] = []
    agent = Agent(
        name="orders", model="openai/gpt-4o", tools=[wait_for_message_tool("inbox", "Wait for orders")]
    )
    try:
        first = ServerProcess(data).start()
        servers.append(first)
        config = AgentConfig(server_url=first.api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(agent, "wait for an order")
            _until(lambda: handle.get_status().is_waiting)
            first.kill()  # SIGKILL while the agent waits: the wait is only state
            second = ServerProcess(data, port=first.port).start()
            servers.append(second)
            assert handle.get_status().is_waiting

            sent = subprocess.run(
                [sys.executable, "-c", SEND, second.api_url, handle.execution_id],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert sent.returncode == 0, sent.stderr
            assert after_delivery.wait(30), "the message never reached the model"
            second.kill()  # delivery and result are committed; the next model call is not
            release.set()
            third = ServerProcess(data, port=first.port).start()
            servers.append(third)
            result = handle.join(timeout=60)
        assert result.status == "COMPLETED", result
        assert result.output == 'got {"messages": [{"order": "ship it"}], "count": 1}'
        types = [e.type for e in result.events]
        assert types.count("message_received") == 1 and types.count("tool_result") == 1
        shown = [m["content"] for m in fake_openai.requests[-1]["messages"] if m["role"] == "tool"]
        assert shown == ['{"messages": [{"order": "ship it"}], "count": 1}']
    finally:
        for server in servers:
            server.kill()
    with sqlite3.connect(data / "agentspan.db") as db:
        rows = db.execute(
            "SELECT seq, call_id FROM inbox WHERE execution_id = ?", (handle.execution_id,)
        ).fetchall()
    assert rows == [(1, "c1")]


def _until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
