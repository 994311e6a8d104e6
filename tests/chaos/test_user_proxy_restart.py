"""kill -9 the server while a team waits for a person's turn (``UserProxyAgent``): the
wait is still there after a restart, and the person answers from another process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime
from agentspan.agents.ext import UserProxyAgent

from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos

ANSWER = """
import sys
from agentspan.agents import AgentConfig, AgentRuntime
with AgentRuntime(config=AgentConfig(server_url=sys.argv[1], auto_start_server=False)) as runtime:
    runtime.respond(sys.argv[2], {"message": "Ship it on Monday."})
"""


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    try:
        yield started
    finally:
        for server in started:
            server.kill()


def test_a_persons_turn_survives_a_restart_and_is_answered_from_another_process(
    servers: list[ServerProcess], fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.reset()
    fake_openai.script(FakeOpenAI.text("Proposal: ship on Friday."))
    proposer = Agent(name="chaos_proposer", model="openai/gpt-4o")
    team = Agent(
        name="chaos_meeting",
        model="openai/gpt-4o",
        agents=[proposer, UserProxyAgent(name="chaos_boss")],
        strategy="round_robin",
        max_turns=2,
    )
    first = ServerProcess(tmp_path / "data").start()
    servers.append(first)
    config = AgentConfig(server_url=first.api_url, auto_start_server=False)
    with AgentRuntime(config=config) as runtime:
        handle = runtime.start(team, "when do we ship?")
        deadline = time.monotonic() + 20
        while not handle.get_status().is_waiting and time.monotonic() < deadline:
            time.sleep(0.05)
        assert handle.get_status().is_waiting
        first.kill(signal.SIGKILL)
        second = ServerProcess(tmp_path / "data", port=first.port).start()
        servers.append(second)
        status = handle.get_status()
        assert status.is_waiting and status.pending_tool is not None
        assert status.pending_tool["kind"] == "human"
        answered = subprocess.run(
            [sys.executable, "-c", ANSWER, second.api_url, handle.execution_id],
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert answered.returncode == 0, answered.stderr
        result = handle.join(timeout=30)
    assert result.status == "COMPLETED"
    assert result.output == "[chaos_proposer]: Proposal: ship on Friday.\n\n[chaos_boss]: Ship it on Monday."
    assert fake_openai.request_count == 1  # the proposer's turn was not asked again
